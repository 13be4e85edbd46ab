-- BigQuery version of sql/duckdb/queries/daily_spend_by_team.sql.
-- Daily AI spend by team (the user's team when the request was made), for [@from, @to).
-- params: from TIMESTAMP, to TIMESTAMP
-- `aetl query` fills in {{dataset}} (the configured project.dataset) and binds the params.
-- GROUP BY 1, 2: the name team is both an output alias and the column u.team.
SELECT d.date, COALESCE(u.team, '(none)') AS team, COUNT(*) AS requests, SUM(f.cost_usd) AS spend_usd
FROM `{{dataset}}.fact_ai_event` f
JOIN `{{dataset}}.dim_date` d ON d.date_key = f.date_key
JOIN `{{dataset}}.dim_user` u ON u.user_key = f.user_key
WHERE f.event_ts >= @from AND f.event_ts < @to
GROUP BY 1, 2
ORDER BY d.date, spend_usd DESC, team;
