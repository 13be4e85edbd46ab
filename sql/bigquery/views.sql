-- BigQuery analyst views, mirroring sql/duckdb/migrations/003_analyst_views.sql.
-- Replace {{dataset}} with the dataset (or project.dataset).

-- Every event with its members' attributes: *_at_event from the version valid at the event
-- (what was true then), the others from the current version (what is true now).
-- None of the added names is a fact column, so f.* leaves no duplicate column.
CREATE OR REPLACE VIEW `{{dataset}}.v_fact_ai_event` AS
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
FROM `{{dataset}}.fact_ai_event` f
JOIN `{{dataset}}.dim_date` d     ON d.date_key = f.date_key
JOIN `{{dataset}}.dim_user` uv    ON uv.user_key = f.user_key
JOIN `{{dataset}}.dim_user` uc    ON uc.user_id = uv.user_id AND uc.is_current
JOIN `{{dataset}}.dim_gateway` gv ON gv.gateway_key = f.gateway_key
JOIN `{{dataset}}.dim_gateway` gc ON gc.gateway_id = gv.gateway_id AND gc.is_current
JOIN `{{dataset}}.dim_model` mv   ON mv.model_key = f.model_key
JOIN `{{dataset}}.dim_model` mc   ON mc.model = mv.model AND mc.is_current;

-- Hourly governance metrics per gateway and model (UTC hours: 'UTC' is explicit, since without
-- a zone BigQuery uses the default_time_zone a project or session may set).
-- Percentiles are APPROX_QUANTILES (BigQuery has no exact aggregate percentile), so they
-- can differ slightly from DuckDB's quantile_cont. SAFE_OFFSET: a group whose latencies
-- are all NULL yields NULL, never an index error.
CREATE OR REPLACE VIEW `{{dataset}}.v_governance_hourly` AS
SELECT
  TIMESTAMP_TRUNC(f.event_ts, HOUR, 'UTC')                 AS hour,
  g.gateway_id,
  m.model,
  COUNT(*)                                                 AS events,
  COUNTIF(f.decision = 'allow')                            AS allowed,
  COUNTIF(f.decision = 'block')                            AS blocked,
  COUNTIF(f.decision = 'redact')                           AS redacted,
  COUNTIF(f.decision = 'escalate')                         AS escalated,
  AVG(CASE WHEN f.was_blocked THEN 1.0 ELSE 0.0 END)       AS block_rate,
  SUM(f.cost_usd)                                          AS cost_usd,
  SUM(f.input_tokens)                                      AS input_tokens,
  SUM(f.output_tokens)                                     AS output_tokens,
  SUM(f.total_tokens)                                      AS total_tokens,
  APPROX_QUANTILES(f.latency_ms, 100)[SAFE_OFFSET(50)]     AS latency_p50_ms,
  APPROX_QUANTILES(f.latency_ms, 100)[SAFE_OFFSET(99)]     AS latency_p99_ms
FROM `{{dataset}}.fact_ai_event` f
JOIN `{{dataset}}.dim_gateway` g ON g.gateway_key = f.gateway_key
JOIN `{{dataset}}.dim_model` m   ON m.model_key = f.model_key
GROUP BY 1, 2, 3;
