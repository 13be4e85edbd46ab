/**
 * The star schema as comparable rows, for comparing two warehouses (a
 * stand-in's datasets or schemas): exact values, no load times or run ids.
 * `{s}` is replaced with the schema prefix (`aetl.`, or '' for DuckDB).
 */
export const STAR: Record<string, string> = {
  facts: `SELECT event_id, event_hash, epoch_us(event_ts) AS ts, date_key, user_key, model_key, gateway_key, decision,
            was_blocked, latency_ms, input_tokens, output_tokens, (cost_usd * 1000000)::BIGINT AS micros,
            policies_evaluated_count, policies_triggered_count, team_id, batch_id, request_source, metadata::VARCHAR AS metadata
          FROM {s}fact_ai_event ORDER BY event_id`,
  policies: `SELECT event_id, ordinal, policy_key, user_key, result, latency_ms, entities_found, triggered
             FROM {s}fact_policy_evaluation ORDER BY event_id, ordinal`,
  users: `SELECT user_key, user_id, team, department, epoch_us(valid_from) AS f, epoch_us(valid_to) AS t, is_current, is_inferred
          FROM {s}dim_user ORDER BY user_key`,
  gateways: `SELECT * EXCLUDE (valid_from, valid_to) FROM {s}dim_gateway ORDER BY gateway_key`,
  models: `SELECT model_key, model, provider, input_price_per_1k::DOUBLE AS i, output_price_per_1k::DOUBLE AS o, is_inferred
           FROM {s}dim_model ORDER BY model_key`,
  policy_dim: `SELECT * FROM {s}dim_policy ORDER BY policy_key`,
  dates: `SELECT * FROM {s}dim_date ORDER BY date_key`,
  rejects: `SELECT source_ref, payload_hash, event_id, reasons::VARCHAR AS reasons FROM {s}etl_rejected_event ORDER BY ALL`,
  checkpoint: `SELECT pipeline, epoch_us(checkpoint) AS c FROM {s}etl_state`,
};

/** Integers by value: a remote warehouse may have one integer type where DuckDB has several. */
export const plain = (rows: Record<string, unknown>[]) =>
  rows.map((row) =>
    Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])),
  );
