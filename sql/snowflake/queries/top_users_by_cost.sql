-- Snowflake version of sql/duckdb/queries/top_users_by_cost.sql.
-- The ten users with the highest spend in [:from, :to), with their current team.
-- params: from TIMESTAMP, to TIMESTAMP
-- `aetl query` fills in {{schema}} (the configured database.schema) and binds the params by
-- position (snowflake-sdk takes only positional binds), each as its declared type.
-- ORDER BY 4 DESC = cost_usd DESC, by position: cost_usd is also the column f.cost_usd.
SELECT u.user_id, c.team, COUNT(*) AS requests, SUM(f.cost_usd) AS cost_usd,
       RANK() OVER (ORDER BY SUM(f.cost_usd) DESC) AS rank
FROM {{schema}}.fact_ai_event f
JOIN {{schema}}.dim_user u ON u.user_key = f.user_key
JOIN {{schema}}.dim_user c ON c.user_id = u.user_id AND c.is_current
WHERE f.event_ts >= :from AND f.event_ts < :to
GROUP BY u.user_id, c.team
ORDER BY 4 DESC, u.user_id
LIMIT 10;
