-- BigQuery version of sql/duckdb/queries/top_users_by_cost.sql.
-- The ten users with the highest spend in [@from, @to), with their current team.
-- params: from TIMESTAMP, to TIMESTAMP
-- `aetl query` fills in {{dataset}} (the configured project.dataset) and binds the params.
SELECT u.user_id, c.team, COUNT(*) AS requests, SUM(f.cost_usd) AS cost_usd,
       RANK() OVER (ORDER BY SUM(f.cost_usd) DESC) AS rank
FROM `{{dataset}}.fact_ai_event` f
JOIN `{{dataset}}.dim_user` u ON u.user_key = f.user_key
JOIN `{{dataset}}.dim_user` c ON c.user_id = u.user_id AND c.is_current
WHERE f.event_ts >= @from AND f.event_ts < @to
GROUP BY u.user_id, c.team
ORDER BY cost_usd DESC, u.user_id
LIMIT 10;
