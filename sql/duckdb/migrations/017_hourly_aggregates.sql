-- Hourly aggregates of fact_ai_event (issue 19), kept exact in the facts' transaction by every
-- load (a MERGE of its package's hours) and by the commands that change history (the days they
-- touch computed again): the anomaly and freshness checks read thousands of rows, not millions.
-- Members by natural key (rebuild-dims leaves them as they are); '' where a key has no member.
CREATE TABLE agg_event_hourly (
  hour           TIMESTAMPTZ NOT NULL,
  date_key       INTEGER NOT NULL,
  gateway_id     VARCHAR NOT NULL,
  model          VARCHAR NOT NULL,
  decision       VARCHAR NOT NULL,
  events         BIGINT NOT NULL,
  blocked        BIGINT NOT NULL,
  cost_usd       DECIMAL(38, 6) NOT NULL,
  cost_sq        DOUBLE NOT NULL,
  latency_sum    DOUBLE,
  latency_count  BIGINT NOT NULL,
  first_event_ts TIMESTAMPTZ NOT NULL,
  last_event_ts  TIMESTAMPTZ NOT NULL
);
-- Latency histogram per hour and gateway: bucket ⌊ln(1 + ms) × 20⌋ (the p99 check reads it).
CREATE TABLE agg_latency_hourly (
  hour           TIMESTAMPTZ NOT NULL,
  date_key       INTEGER NOT NULL,
  gateway_id     VARCHAR NOT NULL,
  latency_bucket INTEGER NOT NULL,
  events         BIGINT NOT NULL
);

CREATE TEMP TABLE agg_source AS
SELECT date_trunc('hour', f.event_ts) AS hour, f.date_key, COALESCE(g.gateway_id, '') AS gateway_id,
  COALESCE(m.model, '') AS model, f.decision, f.was_blocked, f.cost_usd, f.latency_ms, f.event_ts,
  CAST(FLOOR(LN(1 + GREATEST(f.latency_ms, 0)) * 20) AS INTEGER) AS latency_bucket
FROM fact_ai_event f
LEFT JOIN dim_gateway g ON g.gateway_key = f.gateway_key
LEFT JOIN dim_model m ON m.model_key = f.model_key;

INSERT INTO agg_event_hourly
SELECT hour, date_key, gateway_id, model, decision, COUNT(*), count(*) FILTER (WHERE was_blocked), SUM(cost_usd),
  SUM(CAST(cost_usd AS DOUBLE) * CAST(cost_usd AS DOUBLE)), SUM(latency_ms), COUNT(latency_ms), MIN(event_ts),
  MAX(event_ts)
FROM agg_source GROUP BY ALL ORDER BY hour;

INSERT INTO agg_latency_hourly
SELECT hour, date_key, gateway_id, latency_bucket, COUNT(*)
FROM agg_source WHERE latency_ms IS NOT NULL GROUP BY ALL ORDER BY hour;

DROP TABLE agg_source;
