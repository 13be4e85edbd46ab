-- Snowflake version of sql/duckdb/queries/block_rate_by_policy.sql.
-- How often each policy is evaluated, triggers and blocks, for [:from_ts, :to_ts).
-- Parameters :from_ts, :to_ts (TIMESTAMP_TZ, half-open): the loader binds them by name
-- (snowflake-sdk itself only takes positional ? or :1 binds, so the loader maps names to
-- positions). Replace {{schema}} with the schema.
SELECT p.policy_name,
       COUNT(*)                        AS evaluations,
       COUNT_IF(e.triggered)           AS triggered,
       COUNT_IF(e.result = 'block')    AS blocks,
       -- FLOAT division, as DuckDB's /, not Snowflake's fixed-scale NUMBER division.
       ROUND(COUNT_IF(e.result = 'block')::FLOAT / COUNT(*), 6) AS block_rate
FROM {{schema}}.fact_policy_evaluation e
JOIN {{schema}}.dim_policy p ON p.policy_key = e.policy_key
WHERE e.event_ts >= :from_ts::TIMESTAMP_TZ AND e.event_ts < :to_ts::TIMESTAMP_TZ
GROUP BY p.policy_name
ORDER BY blocks DESC, p.policy_name;
