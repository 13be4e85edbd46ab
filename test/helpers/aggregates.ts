import { expect } from 'vitest';

type Rows = (sql: string) => Promise<Record<string, unknown>[]>;

/** Every number as text, so counts, exact decimals and instants compare the same from any engine. */
const HOURLY = (
  from: string,
) => `SELECT epoch_ms(hour)::VARCHAR AS hour, date_key::VARCHAR AS date_key, gateway_id, model,
  decision, events::VARCHAR AS events, blocked::VARCHAR AS blocked, cost_usd::DECIMAL(38, 6)::VARCHAR AS cost,
  round(cost_sq, 9)::VARCHAR AS cost_sq, round(latency_sum, 6)::VARCHAR AS latency_sum,
  latency_count::VARCHAR AS latency_count, epoch_ms(first_event_ts)::VARCHAR AS first_ts,
  epoch_ms(last_event_ts)::VARCHAR AS last_ts
FROM ${from} ORDER BY 1, 3, 4, 5`;
const LATENCY = (from: string) => `SELECT epoch_ms(hour)::VARCHAR AS hour, date_key::VARCHAR AS date_key, gateway_id,
  latency_bucket::VARCHAR AS bucket, events::VARCHAR AS events FROM ${from} ORDER BY 1, 3, 4`;

/** Each fact with its members' natural keys, computed here independently of the product's SQL. */
const FACTS = `(SELECT date_trunc('hour', f.event_ts) AS hour, f.*, coalesce(g.gateway_id, '') AS gateway_id,
    coalesce(m.model, '') AS model
  FROM {s}fact_ai_event f LEFT JOIN {s}dim_gateway g ON g.gateway_key = f.gateway_key
  LEFT JOIN {s}dim_model m ON m.model_key = f.model_key)`;

/**
 * The hourly aggregates hold exactly what grouping the facts gives now: counts, exact cost sums,
 * latency sums, first and last event, and the latency histogram (buckets of ln(1 + ms) × 20).
 */
export async function expectAggregatesExact(rows: Rows): Promise<void> {
  const grouped = `(SELECT hour, date_key, gateway_id, model, decision, count(*) AS events,
    count(*) FILTER (WHERE was_blocked) AS blocked, sum(cost_usd) AS cost_usd,
    sum(cost_usd::DOUBLE * cost_usd::DOUBLE) AS cost_sq, sum(latency_ms) AS latency_sum,
    count(latency_ms) AS latency_count, min(event_ts) AS first_event_ts, max(event_ts) AS last_event_ts
  FROM ${FACTS} x GROUP BY ALL) e`;
  const buckets = `(SELECT hour, date_key, gateway_id, floor(ln(1 + greatest(latency_ms, 0)) * 20)::BIGINT AS latency_bucket,
    count(*) AS events FROM ${FACTS} x WHERE latency_ms IS NOT NULL GROUP BY ALL) b`;
  const stored = await rows(HOURLY('{s}agg_event_hourly'));
  expect(stored.length).toBeGreaterThan(0);
  expect(stored).toEqual(await rows(HOURLY(grouped)));
  expect(await rows(LATENCY('{s}agg_latency_hourly'))).toEqual(await rows(LATENCY(buckets)));
}
