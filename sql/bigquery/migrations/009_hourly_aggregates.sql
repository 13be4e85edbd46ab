-- Hourly aggregates of fact_ai_event (issue 19), kept exact in the facts' transaction by every
-- load (a MERGE of its package's hours) and by the commands that change history (the days they
-- touch computed again): the anomaly and freshness checks read thousands of rows, not millions.
-- Members by natural key (rebuild-dims leaves them as they are); '' where a key has no member.
-- Re-runnable (BigQuery commits DDL statement by statement): the backfill fills empty tables only.
CREATE TABLE IF NOT EXISTS `{{dataset}}.agg_event_hourly` (
  hour           TIMESTAMP NOT NULL,
  date_key       INT64 NOT NULL,
  gateway_id     STRING NOT NULL,
  model          STRING NOT NULL,
  decision       STRING NOT NULL,
  events         INT64 NOT NULL,
  blocked        INT64 NOT NULL,
  cost_usd       NUMERIC NOT NULL,
  cost_sq        FLOAT64 NOT NULL,
  latency_sum    FLOAT64,
  latency_count  INT64 NOT NULL,
  first_event_ts TIMESTAMP NOT NULL,
  last_event_ts  TIMESTAMP NOT NULL
)
PARTITION BY DATE(hour)
CLUSTER BY gateway_id, model, decision;

-- Latency histogram per hour and gateway: bucket ⌊ln(1 + ms) × 20⌋ (the p99 check reads it).
CREATE TABLE IF NOT EXISTS `{{dataset}}.agg_latency_hourly` (
  hour           TIMESTAMP NOT NULL,
  date_key       INT64 NOT NULL,
  gateway_id     STRING NOT NULL,
  latency_bucket INT64 NOT NULL,
  events         INT64 NOT NULL
)
PARTITION BY DATE(hour)
CLUSTER BY gateway_id;

INSERT INTO `{{dataset}}.agg_event_hourly` (hour, date_key, gateway_id, model, decision, events, blocked, cost_usd,
  cost_sq, latency_sum, latency_count, first_event_ts, last_event_ts)
SELECT TIMESTAMP_TRUNC(f.event_ts, HOUR), f.date_key, COALESCE(g.gateway_id, ''), COALESCE(m.model, ''), f.decision,
  COUNT(*), COUNTIF(f.was_blocked), SUM(f.cost_usd),
  SUM(CAST(f.cost_usd AS FLOAT64) * CAST(f.cost_usd AS FLOAT64)), SUM(f.latency_ms), COUNT(f.latency_ms),
  MIN(f.event_ts), MAX(f.event_ts)
FROM `{{dataset}}.fact_ai_event` f
LEFT JOIN `{{dataset}}.dim_gateway` g ON g.gateway_key = f.gateway_key
LEFT JOIN `{{dataset}}.dim_model` m ON m.model_key = f.model_key
WHERE NOT EXISTS (SELECT 1 FROM `{{dataset}}.agg_event_hourly`)
GROUP BY 1, 2, 3, 4, 5;

INSERT INTO `{{dataset}}.agg_latency_hourly` (hour, date_key, gateway_id, latency_bucket, events)
SELECT TIMESTAMP_TRUNC(f.event_ts, HOUR), f.date_key, COALESCE(g.gateway_id, ''),
  CAST(FLOOR(LN(1 + GREATEST(f.latency_ms, 0)) * 20) AS INT64), COUNT(*)
FROM `{{dataset}}.fact_ai_event` f
LEFT JOIN `{{dataset}}.dim_gateway` g ON g.gateway_key = f.gateway_key
WHERE f.latency_ms IS NOT NULL AND NOT EXISTS (SELECT 1 FROM `{{dataset}}.agg_latency_hourly`)
GROUP BY 1, 2, 3, 4;
