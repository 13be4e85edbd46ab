-- v_governance_hourly buckets on UTC hours: date_trunc on a TIMESTAMPTZ truncates in the
-- session's TimeZone, so an analyst session in a half-hour zone (Asia/Kolkata) got other hours.

CREATE OR REPLACE VIEW v_governance_hourly AS
SELECT
  time_bucket(INTERVAL 1 HOUR, f.event_ts, 'UTC')     AS hour,
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
