-- Hourly aggregates of fact_ai_event (issue 19), kept exact in the facts' transaction by every
-- load (a MERGE of its package's hours) and by the commands that change history (the days they
-- touch computed again): the anomaly and freshness checks read thousands of rows, not millions.
-- Members by natural key (rebuild-dims leaves them as they are); '' where a key has no member.
-- Re-runnable (Snowflake commits each DDL statement on its own): the backfill fills empty tables only.
CREATE TABLE IF NOT EXISTS {{schema}}.agg_event_hourly (
  hour           TIMESTAMP_TZ NOT NULL,
  date_key       BIGINT NOT NULL,
  gateway_id     VARCHAR NOT NULL,
  model          VARCHAR NOT NULL,
  decision       VARCHAR NOT NULL,
  events         BIGINT NOT NULL,
  blocked        BIGINT NOT NULL,
  cost_usd       NUMBER(38, 6) NOT NULL,
  cost_sq        DOUBLE NOT NULL,
  latency_sum    DOUBLE,
  latency_count  BIGINT NOT NULL,
  first_event_ts TIMESTAMP_TZ NOT NULL,
  last_event_ts  TIMESTAMP_TZ NOT NULL
);

-- Latency histogram per hour and gateway: bucket ⌊ln(1 + ms) × 20⌋ (the p99 check reads it).
CREATE TABLE IF NOT EXISTS {{schema}}.agg_latency_hourly (
  hour           TIMESTAMP_TZ NOT NULL,
  date_key       BIGINT NOT NULL,
  gateway_id     VARCHAR NOT NULL,
  latency_bucket BIGINT NOT NULL,
  events         BIGINT NOT NULL
);

INSERT INTO {{schema}}.agg_event_hourly (hour, date_key, gateway_id, model, decision, events, blocked, cost_usd,
  cost_sq, latency_sum, latency_count, first_event_ts, last_event_ts)
SELECT DATE_TRUNC('hour', f.event_ts), f.date_key, COALESCE(g.gateway_id, ''), COALESCE(m.model, ''), f.decision,
  COUNT(*), COUNT_IF(f.was_blocked), SUM(f.cost_usd),
  SUM(CAST(f.cost_usd AS DOUBLE) * CAST(f.cost_usd AS DOUBLE)), SUM(f.latency_ms), COUNT(f.latency_ms),
  MIN(f.event_ts), MAX(f.event_ts)
FROM {{schema}}.fact_ai_event f
LEFT JOIN {{schema}}.dim_gateway g ON g.gateway_key = f.gateway_key
LEFT JOIN {{schema}}.dim_model m ON m.model_key = f.model_key
WHERE NOT EXISTS (SELECT 1 FROM {{schema}}.agg_event_hourly)
GROUP BY 1, 2, 3, 4, 5;

INSERT INTO {{schema}}.agg_latency_hourly (hour, date_key, gateway_id, latency_bucket, events)
SELECT DATE_TRUNC('hour', f.event_ts), f.date_key, COALESCE(g.gateway_id, ''),
  CAST(FLOOR(LN(1 + GREATEST(f.latency_ms, 0)) * 20) AS BIGINT), COUNT(*)
FROM {{schema}}.fact_ai_event f
LEFT JOIN {{schema}}.dim_gateway g ON g.gateway_key = f.gateway_key
WHERE f.latency_ms IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {{schema}}.agg_latency_hourly)
GROUP BY 1, 2, 3, 4;
