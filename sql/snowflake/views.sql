-- Snowflake analyst views, mirroring sql/duckdb/migrations/003_analyst_views.sql.
-- Replace {{schema}} with the schema (or database.schema). Unquoted names fold to upper case.

-- Every event with its members' attributes: *_at_event from the version valid at the event
-- (what was true then), the others from the current version (what is true now).
-- Snowflake expands f.* when the view is created: re-run this file after adding fact columns.
CREATE OR REPLACE VIEW {{schema}}.v_fact_ai_event AS
SELECT
  f.*,
  d.date                 AS event_date,
  uv.user_id,
  uc.team                AS user_team,
  uc.department          AS user_department,
  uv.team                AS user_team_at_event,
  gv.gateway_id,
  gc.gateway_name,
  gc.team                AS gateway_team,
  gc.environment,
  gc.region,
  mv.model,
  mc.provider,
  mv.input_price_per_1k  AS input_price_per_1k_at_event,
  mv.output_price_per_1k AS output_price_per_1k_at_event
FROM {{schema}}.fact_ai_event f
JOIN {{schema}}.dim_date d     ON d.date_key = f.date_key
JOIN {{schema}}.dim_user uv    ON uv.user_key = f.user_key
JOIN {{schema}}.dim_user uc    ON uc.user_id = uv.user_id AND uc.is_current
JOIN {{schema}}.dim_gateway gv ON gv.gateway_key = f.gateway_key
JOIN {{schema}}.dim_gateway gc ON gc.gateway_id = gv.gateway_id AND gc.is_current
JOIN {{schema}}.dim_model mv   ON mv.model_key = f.model_key
JOIN {{schema}}.dim_model mc   ON mc.model = mv.model AND mc.is_current;

-- Hourly governance metrics per gateway and model, in UTC hours: DATE_TRUNC on a TIMESTAMP_TZ
-- keeps the value's own offset, so event_ts is converted to UTC first.
-- block_rate averages FLOAT, as DuckDB does, not a fixed-scale NUMBER.
CREATE OR REPLACE VIEW {{schema}}.v_governance_hourly AS
SELECT
  DATE_TRUNC('hour', CONVERT_TIMEZONE('UTC', f.event_ts))    AS hour,
  g.gateway_id,
  m.model,
  COUNT(*)                                                   AS events,
  COUNT_IF(f.decision = 'allow')                             AS allowed,
  COUNT_IF(f.decision = 'block')                             AS blocked,
  COUNT_IF(f.decision = 'redact')                            AS redacted,
  COUNT_IF(f.decision = 'escalate')                          AS escalated,
  AVG(IFF(f.was_blocked, 1.0, 0.0)::FLOAT)                   AS block_rate,
  SUM(f.cost_usd)                                            AS cost_usd,
  SUM(f.input_tokens)                                        AS input_tokens,
  SUM(f.output_tokens)                                       AS output_tokens,
  SUM(f.total_tokens)                                        AS total_tokens,
  PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY f.latency_ms)  AS latency_p50_ms,
  PERCENTILE_CONT(0.99) WITHIN GROUP (ORDER BY f.latency_ms) AS latency_p99_ms
FROM {{schema}}.fact_ai_event f
JOIN {{schema}}.dim_gateway g ON g.gateway_key = f.gateway_key
JOIN {{schema}}.dim_model m   ON m.model_key = f.model_key
GROUP BY 1, 2, 3;
