-- BigQuery version of sql/duckdb/queries/block_rate_by_policy.sql.
-- How often each policy is evaluated, triggers and blocks, for [@from, @to).
-- params: from TIMESTAMP, to TIMESTAMP
-- `aetl query` fills in {{dataset}} (the configured project.dataset) and binds the params.
SELECT p.policy_name,
       COUNT(*)                       AS evaluations,
       COUNTIF(e.triggered)           AS triggered,
       COUNTIF(e.result = 'block')    AS blocks,
       ROUND(COUNTIF(e.result = 'block') / COUNT(*), 6) AS block_rate -- INT64 / INT64 is FLOAT64, as in DuckDB
FROM `{{dataset}}.fact_policy_evaluation` e
JOIN `{{dataset}}.dim_policy` p ON p.policy_key = e.policy_key
WHERE e.event_ts >= @from AND e.event_ts < @to
GROUP BY p.policy_name
ORDER BY blocks DESC, p.policy_name;
