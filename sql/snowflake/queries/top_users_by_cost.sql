-- Snowflake version of sql/duckdb/queries/top_users_by_cost.sql.
-- The ten users with the highest spend in [:from_ts, :to_ts), with their current team.
-- Parameters :from_ts, :to_ts (TIMESTAMP_TZ, half-open): the loader binds them by name
-- (snowflake-sdk itself only takes positional ? or :1 binds, so the loader maps names to
-- positions). Replace {{schema}} with the schema.
-- ORDER BY 4 DESC = cost_usd DESC, by position: cost_usd is also the column f.cost_usd.
SELECT u.user_id, c.team, COUNT(*) AS requests, SUM(f.cost_usd) AS cost_usd,
       RANK() OVER (ORDER BY SUM(f.cost_usd) DESC) AS rank
FROM {{schema}}.fact_ai_event f
JOIN {{schema}}.dim_user u ON u.user_key = f.user_key
JOIN {{schema}}.dim_user c ON c.user_id = u.user_id AND c.is_current
WHERE f.event_ts >= :from_ts::TIMESTAMP_TZ AND f.event_ts < :to_ts::TIMESTAMP_TZ
GROUP BY u.user_id, c.team
ORDER BY 4 DESC, u.user_id
LIMIT 10;
