-- Analyst views (the same definitions ship in sql/bigquery and sql/snowflake).

-- Every event with its members' attributes: *_at_event from the version valid at the event
-- (what was true then), the others from the current version (what is true now).
CREATE OR REPLACE VIEW v_fact_ai_event AS
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
FROM fact_ai_event f
JOIN dim_date d     ON d.date_key = f.date_key
JOIN dim_user uv    ON uv.user_key = f.user_key
JOIN dim_user uc    ON uc.user_id = uv.user_id AND uc.is_current
JOIN dim_gateway gv ON gv.gateway_key = f.gateway_key
JOIN dim_gateway gc ON gc.gateway_id = gv.gateway_id AND gc.is_current
JOIN dim_model mv   ON mv.model_key = f.model_key
JOIN dim_model mc   ON mc.model = mv.model AND mc.is_current;

-- Hourly governance metrics per gateway and model.
CREATE OR REPLACE VIEW v_governance_hourly AS
SELECT
  date_trunc('hour', f.event_ts)                      AS hour,
  g.gateway_id,
  m.model,
  count(*)                                            AS events,
  count(*) FILTER (WHERE f.decision = 'allow')        AS allowed,
  count(*) FILTER (WHERE f.decision = 'block')        AS blocked,
  count(*) FILTER (WHERE f.decision = 'redact')       AS redacted,
  count(*) FILTER (WHERE f.decision = 'escalate')     AS escalated,
  avg(CASE WHEN f.was_blocked THEN 1.0 ELSE 0.0 END)  AS block_rate,
  sum(f.cost_usd)                                     AS cost_usd,
  sum(f.input_tokens)                                 AS input_tokens,
  sum(f.output_tokens)                                AS output_tokens,
  sum(f.total_tokens)                                 AS total_tokens,
  quantile_cont(f.latency_ms, 0.5)                    AS latency_p50_ms,
  quantile_cont(f.latency_ms, 0.99)                   AS latency_p99_ms
FROM fact_ai_event f
JOIN dim_gateway g ON g.gateway_key = f.gateway_key
JOIN dim_model m   ON m.model_key = f.model_key
GROUP BY ALL;
