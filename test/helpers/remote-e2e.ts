import { expect } from 'vitest';
import { aetl } from './cli.js';
import { query } from './duckdb.js';

/**
 * The star schema as comparable rows, for comparing a remote warehouse (its
 * stand-in's DuckDB) with a DuckDB run: exact values, no load times or run
 * ids. `{s}` is replaced with the schema prefix (`aetl.`, or '' for DuckDB).
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

type Rows = (sql: string) => Promise<Record<string, unknown>[]>;

/** Every star-schema table in the remote warehouse (`prefix`: its schema) equals the DuckDB run's. */
export async function expectSameStar(remote: Rows, prefix: string, duckFile: string): Promise<void> {
  for (const [name, sql] of Object.entries(STAR)) {
    const inRemote = plain(await remote(sql.replaceAll('{s}', prefix)));
    const inDuckDB = plain(await query(duckFile, sql.replaceAll('{s}', '')));
    expect(inRemote.length, name).toBeGreaterThan(0);
    expect(inRemote, name).toEqual(inDuckDB);
  }
}

/** `aetl status --json` reports what the remote warehouse holds, and `aetl check` runs there; no secret shows. */
export async function expectStatusAndChecks(
  remote: Rows,
  prefix: string,
  config: string,
  env: Record<string, string>,
  secret: string,
): Promise<void> {
  const status = await aetl(['status', '--json', '--config', config], env);
  expect(status.code, status.stderr).toBe(0);
  const report = JSON.parse(status.stdout) as { checkpoint: string; tables: Record<string, number>; runs: unknown[] };
  const [facts] = await remote(`SELECT count(*) AS n FROM ${prefix}fact_ai_event`);
  expect(report.tables.fact_ai_event).toBe(Number(facts!.n));
  expect(report.runs).toHaveLength(2);
  const [state] = await remote(`SELECT epoch_ms(checkpoint) AS ms FROM ${prefix}etl_state`);
  expect(Date.parse(report.checkpoint)).toBe(Number(state!.ms));
  // The quarantine lists from the remote warehouse too, filtered by a reason's field.
  const listed = await aetl(['rejects', 'list', '--json', '--config', config], env);
  expect(listed.code, listed.stderr).toBe(0);
  const rejects = JSON.parse(listed.stdout) as { source_ref: string; field: string; reason: string }[];
  const stored = await remote(`SELECT source_ref FROM ${prefix}etl_rejected_event ORDER BY source_ref`);
  expect(rejects.map((r) => r.source_ref).sort()).toEqual(stored.map((r) => String(r.source_ref)).sort());
  expect(rejects.length).toBeGreaterThan(0);
  const field = rejects[0]!.field;
  const byField = await aetl(['rejects', 'list', '--reason', field.toUpperCase(), '--json', '--config', config], env);
  const filtered = JSON.parse(byField.stdout) as { field: string; reason: string }[];
  expect(filtered.length).toBeGreaterThanOrEqual(rejects.filter((r) => r.field === field).length);
  expect(filtered.every((r) => `${r.field} ${r.reason}`.toLowerCase().includes(field.toLowerCase()))).toBe(true);
  const check = await aetl(['check', '--config', config], env);
  expect(check.code, check.stderr).toBe(0);
  expect(status.stdout + status.stderr + check.stdout + check.stderr).not.toContain(secret);
  const [anomalies] = await remote(
    `SELECT count(DISTINCT check_name) AS n FROM ${prefix}dq_check_result WHERE check_name LIKE 'anomaly_%'`,
  );
  expect(Number(anomalies!.n)).toBeGreaterThan(0);
}
