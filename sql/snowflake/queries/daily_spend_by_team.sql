-- Snowflake version of sql/duckdb/queries/daily_spend_by_team.sql.
-- Daily AI spend by team (the user's team when the request was made), for [:from, :to).
-- params: from TIMESTAMP, to TIMESTAMP
-- `aetl query` fills in {{schema}} (the configured database.schema) and binds the params by
-- position (snowflake-sdk takes only positional binds), each as its declared type.
-- Positions in GROUP BY and ORDER BY: team is also the column u.team, which Snowflake's
-- GROUP BY would pick over the alias. ORDER BY 1, 4 DESC, 2 = d.date, spend_usd DESC, team.
SELECT d.date, COALESCE(u.team, '(none)') AS team, COUNT(*) AS requests, SUM(f.cost_usd) AS spend_usd
FROM {{schema}}.fact_ai_event f
JOIN {{schema}}.dim_date d ON d.date_key = f.date_key
JOIN {{schema}}.dim_user u ON u.user_key = f.user_key
WHERE f.event_ts >= :from AND f.event_ts < :to
GROUP BY 1, 2
ORDER BY 1, 4 DESC, 2;
