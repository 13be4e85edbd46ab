-- Snowflake version of sql/duckdb/queries/model_usage_and_cost.sql.
-- Requests, tokens and cost per provider and model, for [:from_ts, :to_ts).
-- Parameters :from_ts, :to_ts (TIMESTAMP_TZ, half-open): the loader binds them by name
-- (snowflake-sdk itself only takes positional ? or :1 binds, so the loader maps names to
-- positions). Replace {{schema}} with the schema.
-- Positions: provider and cost_usd are also columns (m.provider, f.cost_usd), which Snowflake
-- may pick over the aliases. ORDER BY 5 DESC, m.model = cost_usd DESC, m.model.
SELECT COALESCE(m.provider, '(unknown)') AS provider, m.model,
       COUNT(*)             AS requests,
       SUM(f.total_tokens)  AS total_tokens,
       SUM(f.cost_usd)      AS cost_usd,
       ROUND(SUM(f.cost_usd) * 1000 / NULLIF(SUM(f.total_tokens), 0), 6) AS cost_per_1k_tokens
FROM {{schema}}.fact_ai_event f
JOIN {{schema}}.dim_model m ON m.model_key = f.model_key
WHERE f.event_ts >= :from_ts::TIMESTAMP_TZ AND f.event_ts < :to_ts::TIMESTAMP_TZ
GROUP BY 1, 2
ORDER BY 5 DESC, m.model;
