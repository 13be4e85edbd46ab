-- BigQuery version of sql/duckdb/queries/model_usage_and_cost.sql.
-- Requests, tokens and cost per provider and model, for [@from, @to).
-- params: from TIMESTAMP, to TIMESTAMP
-- `aetl query` fills in {{dataset}} (the configured project.dataset) and binds the params.
-- GROUP BY 1, 2: the name provider is both an output alias and the column m.provider.
SELECT COALESCE(m.provider, '(unknown)') AS provider, m.model,
       COUNT(*)             AS requests,
       SUM(f.total_tokens)  AS total_tokens,
       SUM(f.cost_usd)      AS cost_usd,
       ROUND(SUM(f.cost_usd) * 1000 / NULLIF(SUM(f.total_tokens), 0), 6) AS cost_per_1k_tokens
FROM `{{dataset}}.fact_ai_event` f
JOIN `{{dataset}}.dim_model` m ON m.model_key = f.model_key
WHERE f.event_ts >= @from AND f.event_ts < @to
GROUP BY 1, 2
ORDER BY cost_usd DESC, m.model;
