import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, describe, expect, it } from 'vitest';
import { simulatorSettingsFrom } from '../../src/config/schema.js';
import { NO_PRIVACY, subjectHash, type PrivacyRules } from '../../src/contract/privacy.js';
import { EventUniverse } from '../../src/simulator/generator.js';
import type { RawRecord } from '../../src/source/source.js';
import { StagingWriter } from '../../src/staging/staging-writer.js';
import { validateBatch, type StagedValue, type ValidationRules } from '../../src/staging/validate-batch.js';
import { writeHostileCorpus } from '../helpers/hostile-corpus.js';
import { oddRecords, simulatedPayloads } from '../helpers/odd-records.js';
import { shippedReference } from '../helpers/workspace.js';

/**
 * The SQL contract (src/staging/sql-contract.ts) against zod, record by record
 * (issue 19): every record SQL stages must be one the JavaScript path accepts,
 * staged with exactly the same columns, hash and policy rows; on simulated
 * traffic SQL must take every valid record (else it speeds nothing up).
 */
const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const NOW = Date.parse('2026-06-01T00:00:00Z');
const RULES: ValidationRules = {
  window: null,
  maxRecordBytes: 16 * 1024,
  privacy: NO_PRIVACY,
  decisionAliases: {},
  plausibleRange: { fromMs: Date.UTC(2000, 0, 1), toMs: NOW },
};

/** Event rows as staged (the export's types turned back into the staging table's), by staged row. */
const EVENTS_AS_STAGED = `SELECT staged_row, event_id, event_hash, epoch_us(event_ts) AS event_ts_us, date_key, user_id,
  gateway_id, model, provider, decision, latency_ms, input_tokens, output_tokens, (cost_usd * 1000000)::BIGINT,
  policies_evaluated_count, policies_triggered_count, team_id, batch_id, request_source, metadata`;
const POLICIES_AS_STAGED = `SELECT staged_row, ordinal, policy_name, result, latency_ms, entities_found, triggered`;

interface Compared {
  /** Records SQL staged. */
  taken: number;
  /** Records zod found valid (inside the window). */
  valid: number;
  /** Valid records SQL handed back to zod. */
  validDeferred: number;
}

/** Plain values, so DuckDB's and the JavaScript path's numbers compare alike (-0 is JSON's 0: an API value's -0 reaches SQL as 0). */
function plain(row: readonly unknown[]): unknown[] {
  return row.map((v) => (typeof v === 'bigint' ? Number(v) : v === 0 ? 0 : v));
}

async function stagedBySql(records: RawRecord[], rules: ValidationRules) {
  const dir = mkdtempSync(join(tmpdir(), 'aetl-sqlc-'));
  dirs.push(dir);
  const writer = await StagingWriter.create(dir, rules);
  const deferred = new Set<RawRecord>();
  let outOfWindow = 0;
  for (let at = 0; at < records.length; at += 5000) {
    const outcome = await writer.stageRaw(records.slice(at, at + 5000));
    outcome.deferred.forEach((r) => deferred.add(r));
    outOfWindow += outcome.counts.outOfWindow;
  }
  const rest = await writer.drainRaw();
  rest.deferred.forEach((r) => deferred.add(r));
  outOfWindow += rest.counts.outOfWindow;
  const files = await writer.finish();
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  await c.run("SET TimeZone = 'UTC'");
  const read = async (select: string, names: string[]) => {
    if (names.length === 0) return [];
    const list = names.map((n) => `'${join(dir, n)}'`).join(', ');
    return (await c.runAndReadAll(`${select} FROM read_parquet([${list}]) ORDER BY 1, 2`)).getRows().map(plain);
  };
  const events = await read(EVENTS_AS_STAGED, files.events);
  const policies = await read(POLICIES_AS_STAGED, files.policies);
  c.closeSync();
  db.closeSync();
  return { events, policies, deferred, outOfWindow };
}

/** Stages `records` through SQL, then checks each staged row against zod's verdict on its record. */
async function compare(records: RawRecord[], rules: ValidationRules = RULES): Promise<Compared> {
  const sql = await stagedBySql(records, rules);
  const policiesOf = new Map<number, unknown[][]>();
  for (const row of sql.policies) {
    const key = row[0] as number;
    policiesOf.set(key, [...(policiesOf.get(key) ?? []), row.slice(1)]);
  }
  let jsOutOfWindow = 0;
  let valid = 0;
  let validDeferred = 0;
  const verdicts = records.map((record) => {
    const batch = validateBatch([record], rules);
    jsOutOfWindow += batch.counts.outOfWindow;
    if (batch.events.length === 1) {
      valid++;
      if (sql.deferred.has(record)) validDeferred++;
    }
    return batch;
  });
  // Collected, then asserted once: an expect per row would cost more than the contract itself.
  const differences: unknown[] = [];
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  for (const row of sql.events) {
    const index = row[0] as number;
    const batch = verdicts[index]!;
    const zodEvent = batch.events.length === 1 ? plain(batch.events[0]!).slice(1) : 'rejected or out of window';
    const zodPolicies = batch.policies.map((p: StagedValue[]) => plain(p).slice(1));
    const sqlPolicies = policiesOf.get(index) ?? [];
    if (!same(row.slice(1), zodEvent) || !same(sqlPolicies, zodPolicies)) {
      differences.push({ record: records[index], sql: [row.slice(1), sqlPolicies], zod: [zodEvent, zodPolicies] });
    }
  }
  expect(differences.slice(0, 3)).toEqual([]);
  // Every record is staged by SQL, handed back, or (valid but outside the window) counted by both alike.
  expect(sql.events.length + sql.deferred.size + sql.outOfWindow).toBe(records.length);
  expect(sql.outOfWindow).toBe(
    jsOutOfWindow - [...sql.deferred].filter((r) => validateBatch([r], rules).counts.outOfWindow).length,
  );
  return { taken: sql.events.length, valid, validDeferred };
}

const lines = (texts: string[], source = 'test.jsonl'): RawRecord[] =>
  texts.map((text, i) => ({ kind: 'line', text, location: { source, ref: `line ${i + 1}` } }));
const values = (items: unknown[]): RawRecord[] =>
  items.map((value, i) => ({ kind: 'value', value, location: { source: 'api', ref: `item ${i + 1}` } }));

describe('the SQL contract agrees with zod, record by record', () => {
  it('on 300k simulated records of both shapes, with bad ones, clipped to a window: every valid one taken by SQL', async () => {
    const universe = new EventUniverse(
      simulatorSettingsFrom({ seed: 19, rate_per_minute: 5000, bad_record_rate: 0.02 }),
      shippedReference(),
    );
    const start = Date.parse('2026-05-01T00:00:00Z') / 60_000;
    const payloads = Array.from({ length: 64 }, (_, m) => universe.eventsInMinute(start + m)).flat();
    expect(payloads.length).toBeGreaterThan(300_000);
    const texts = payloads.map((e) => JSON.stringify(e.payload));
    const window = { startMs: (start + 3) * 60_000, endMs: (start + 61) * 60_000 };
    const result = await compare(lines(texts), { ...RULES, window });
    expect(result.valid).toBeGreaterThan(250_000);
    expect(result.validDeferred).toBe(0);
    expect(result.taken).toBe(result.valid);
  }, 400_000);

  it('on every odd value in every field', async () => {
    const cases = oddRecords(simulatedPayloads());
    const result = await compare(lines(cases.map((c) => JSON.stringify(c))));
    expect(result.taken).toBeGreaterThan(100);
  });

  it('leaves parsed values (API pages, arrays, CSV rows) to zod', async () => {
    const cases = simulatedPayloads();
    const result = await compare(values(cases));
    expect(result.valid).toBeGreaterThan(100);
    expect(result.taken).toBe(0);
  });

  it('on the hostile corpus and on texts JSON.parse and DuckDB read differently', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aetl-sqlc-hostile-'));
    dirs.push(dir);
    writeHostileCorpus(dir, 7, 12, 400);
    const hostile = readdirSync(dir)
      .filter((name) => name.endsWith('.jsonl'))
      .flatMap((name) =>
        readFileSync(join(dir, name), 'utf8')
          .replace(/^\ufeff/, '')
          .split(/\r?\n/),
      )
      .filter((line) => line.trim() !== '');
    const valid = JSON.stringify(simulatedPayloads()[0]);
    const tricky = [
      valid.replace(/}$/, ',}'), // a trailing comma: DuckDB reads it, JSON.parse does not
      valid.replace(/"latency_ms":\d+/, '"latency_ms":NaN'),
      valid.replace(/"latency_ms":\d+/, '"latency_ms":Infinity'),
      valid.replace(/^\{/, '{"decision":"block",'), // a key twice: DuckDB keeps the first, JSON.parse the last
      valid.replace(/"name":"([^"]+)"/, '"name":"$1","name":"other"'),
      valid.replace(/"result":"([^"]+)"/, '"result":"$1","result":"block"'),
      valid.replace(/"latency_ms":(\d+)}/, '"latency_ms":$1,"latency_ms":7}'),
      valid.replace(/"model":"([^"]+)"/, '"model":"$1\\u00e9"'), // an escape
      valid.replace(/"model":"([^"]+)"/, '"model":"$1\u00a0"'), // whitespace JavaScript trims, DuckDB's \\s does not
      valid.replace(/"model":"([^"]+)"/, '"model":"Zürich-ü"'),
      valid.replace(/"latency_ms":(\d+)/, '"latency_ms":$1.0'),
      valid.replace(/"latency_ms":(\d+)/, '"latency_ms":$1.250'),
      valid.replace(/"latency_ms":(\d+)/, '"latency_ms":1e2'),
      valid.replace(/"input_tokens":(\d+)/, '"input_tokens":12.0'),
      valid.replace(/"input_tokens":(\d+)/, '"input_tokens":10000000000000000000'), // a u64, no BIGINT
      valid.replace(/"input_tokens":(\d+)/, '"input_tokens":"12"'),
      valid.replace(/"timestamp":"[^"]+"/, '"timestamp":"2026-04-01T24:00:00Z"'),
      valid.replace(/"timestamp":"[^"]+"/, '"timestamp":"2026-02-30T10:00:00Z"'),
      valid.replace(/"timestamp":"[^"]+"/, '"timestamp":"2026-04-01T10:00:00.1234567Z"'),
      valid.replace(/"timestamp":"[^"]+"/, '"timestamp":"2026-04-01T10:00:00.5+05:30"'),
      valid.replace(/"timestamp":"[^"]+"/, '"timestamp":"2026-04-01 10:00:00"'),
      valid.replace(/"timestamp":"[^"]+"/, '"timestamp":"1999-12-31T23:59:59Z"'),
      valid.replace(/"timestamp":"[^"]+"/, '"timestamp":"2026-06-01T00:00:00Z"'), // the plausible range's end
      valid.replace(/^\{/, '{"unknown_field":1,'),
      valid.replace(/^\{/, '{"metadata":{"a":1},'),
      ` ${valid}`,
      '{}',
      '[]',
      'null',
    ];
    const result = await compare(lines([...hostile, ...tricky]));
    expect(result.taken).toBeGreaterThan(1000);
  });

  it('with decision aliases, pseudonyms and erased users: the users and decisions zod would store', async () => {
    const payloads = simulatedPayloads();
    const texts = payloads.map((p, i) => JSON.stringify(i % 7 === 0 ? { ...p, decision: 'quarantined' } : p));
    const someUser = String(payloads.find((p) => typeof p.user_id === 'string')!.user_id);
    const privacy: PrivacyRules = {
      pseudonymKey: 'k3y',
      dropMetadataKeys: ['prompt'],
      erasedSubjects: [subjectHash('k3y', someUser)],
      erasureKey: 'k3y',
    };
    const result = await compare(lines(texts), { ...RULES, decisionAliases: { quarantined: 'block' }, privacy });
    expect(result.validDeferred).toBe(0);
    expect(result.taken).toBe(result.valid);
  });
});
