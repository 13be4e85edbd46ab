-- Snowflake version of sql/duckdb/queries/model_usage_and_cost.sql.
-- Requests, tokens and cost per provider and model, for [:from, :to).
-- params: from TIMESTAMP, to TIMESTAMP
-- `aetl query` fills in {{schema}} (the configured database.schema) and binds the params by
-- position (snowflake-sdk takes only positional binds), each as its declared type.
-- Positions: provider and cost_usd are also columns (m.provider, f.cost_usd), which Snowflake
-- may pick over the aliases. ORDER BY 5 DESC, m.model = cost_usd DESC, m.model.
SELECT COALESCE(m.provider, '(unknown)') AS provider, m.model,
       COUNT(*)             AS requests,
       SUM(f.total_tokens)  AS total_tokens,
       SUM(f.cost_usd)      AS cost_usd,
       ROUND(SUM(f.cost_usd) * 1000 / NULLIF(SUM(f.total_tokens), 0), 6) AS cost_per_1k_tokens
FROM {{schema}}.fact_ai_event f
JOIN {{schema}}.dim_model m ON m.model_key = f.model_key
WHERE f.event_ts >= :from AND f.event_ts < :to
GROUP BY 1, 2
ORDER BY 5 DESC, m.model;
