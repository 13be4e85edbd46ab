-- Snowflake version of sql/duckdb/queries/block_rate_by_policy.sql.
-- How often each policy is evaluated, triggers and blocks, for [:from, :to).
-- params: from TIMESTAMP, to TIMESTAMP
-- `aetl query` fills in {{schema}} (the configured database.schema) and binds the params by
-- position (snowflake-sdk takes only positional binds), each as its declared type.
SELECT p.policy_name,
       COUNT(*)                        AS evaluations,
       COUNT_IF(e.triggered)           AS triggered,
       COUNT_IF(e.result = 'block')    AS blocks,
       -- FLOAT division, as DuckDB's /, not Snowflake's fixed-scale NUMBER division.
       ROUND(COUNT_IF(e.result = 'block')::FLOAT / COUNT(*), 6) AS block_rate
FROM {{schema}}.fact_policy_evaluation e
JOIN {{schema}}.dim_policy p ON p.policy_key = e.policy_key
WHERE e.event_ts >= :from AND e.event_ts < :to
GROUP BY p.policy_name
ORDER BY blocks DESC, p.policy_name;
