import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulatorSettingsFrom } from '../../src/config/schema.js';
import { EventUniverse } from '../../src/simulator/generator.js';
import { aetl } from '../helpers/cli.js';
import { REPO, shippedReference, Workspace } from '../helpers/workspace.js';
import { BigQueryStandIn } from '../stand-ins/bigquery/server.js';
import { SnowflakeStandIn } from '../stand-ins/snowflake/server.js';

const HOUR = 3_600_000;
/** 20:00Z–02:00Z, across midnight UTC; the data starts a day earlier (the spike query's baseline). */
const FROM = Date.parse('2026-04-01T20:00:00Z');
const TO = FROM + 6 * HOUR;
const SPIKE_HOUR = FROM + 3 * HOUR;
const QUERIES = readdirSync(join(REPO, 'sql/duckdb/queries')).map((f) => f.replace(/\.sql$/, ''));
/** One set of values for every query, whatever the engine (a query binds the ones it declares). */
const PARAMS = ['from=2026-04-01T20:00:00Z', 'to=2026-04-02T02:00:00Z', 'user_id=user_003'].flatMap((p) => [
  '--param',
  p,
]);
const SECRET = 'query-e2e-secret-not-for-logs';
const ENV = { SECRET };
const ENGINES = ['duckdb', 'bigquery', 'snowflake'] as const;
type Engine = (typeof ENGINES)[number];

/** The engine's `warehouse:` block, pointed at `url` (a stand-in, or a port where nothing listens). */
function warehouse(engine: Engine, url: string): Record<string, unknown> {
  switch (engine) {
    case 'duckdb':
      return { kind: 'duckdb', path: url };
    case 'bigquery':
      return { kind: 'bigquery', project: 'aetl-test', dataset: 'aetl', api_endpoint: url, access_token: '${SECRET}' };
    case 'snowflake':
      return {
        kind: 'snowflake',
        account: 'aetl_test',
        user: 'analyst',
        password: '${SECRET}',
        database: 'aetl',
        schema: 'public',
        access_url: url,
      };
  }
}

/** Numbers compared by value: an engine may return a decimal where another returns a float or an integer. */
const byValue = (rows: Record<string, unknown>[]) =>
  rows.map((row) =>
    Object.fromEntries(
      Object.entries(row).map(([k, v]) => [k, typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v]),
    ),
  );

describe('aetl query: the shipped analyst queries on every engine, one set of --param names', () => {
  const ws = new Workspace();
  const configs = {} as Record<Engine, string>;
  const unreachable = {} as Record<Engine, string>;
  const duckdbRows: Record<string, Record<string, unknown>[]> = {};
  let bigquery: BigQueryStandIn;
  let snowflake: SnowflakeStandIn;

  beforeAll(async () => {
    [bigquery, snowflake] = await Promise.all([BigQueryStandIn.start(SECRET), SnowflakeStandIn.start(SECRET)]);
    const universe = new EventUniverse(
      simulatorSettingsFrom({ seed: 5, rate_per_minute: 1, unknown_member_rate: 0 }),
      shippedReference(),
    );
    const lines = [...universe.eventsBetween(FROM - 26 * HOUR, TO + HOUR, Infinity)].map((e, i) => {
      const payload = { ...e.payload };
      // Half of one hour blocked: a spike for hourly_block_rate_spikes to report.
      if (e.tsMs >= SPIKE_HOUR && e.tsMs < SPIKE_HOUR + HOUR && i % 2 === 0) {
        payload.decision = 'user_id' in payload ? 'blocked' : 'block';
      }
      // Events of the audited user without policies: their list is NULL on every engine (LISTAGG gives '').
      if ((payload.user_id ?? payload.user) === 'user_003' && i % 3 === 0) {
        payload.policies_evaluated = [];
        if ('policies_triggered' in payload) payload.policies_triggered = [];
      }
      return JSON.stringify(payload);
    });
    writeFileSync(ws.path('events.jsonl'), `${lines.join('\n')}\n`);
    const urls: Record<Engine, string> = {
      duckdb: 'data/warehouse.duckdb',
      bigquery: bigquery.url,
      snowflake: snowflake.url,
    };
    for (const engine of ENGINES) {
      const common = {
        source: { kind: 'files', files: ws.path('events.jsonl') },
        checks: { anomalies: { enabled: false } },
        staging: { path: `staging-${engine}` },
        lake: { path: `lake-${engine}` },
      };
      configs[engine] = ws.writeConfig({ ...common, warehouse: warehouse(engine, urls[engine]) }, `${engine}.yaml`);
      // Nothing listens on port 9, and no DuckDB file is there: reaching either fails with exit 1.
      const nowhere = engine === 'duckdb' ? 'nowhere/warehouse.duckdb' : 'http://127.0.0.1:9';
      unreachable[engine] = ws.writeConfig({ ...common, warehouse: warehouse(engine, nowhere) }, `${engine}-x.yaml`);
    }
    const loads = await Promise.all(ENGINES.map((engine) => aetl(['run', '--config', configs[engine]], ENV)));
    for (const load of loads) expect(load.code, load.stderr).toBe(0);
    // The reference: DuckDB, the default engine, each query by name with the same --param set.
    for (const name of QUERIES) {
      const run = await aetl(['query', name, ...PARAMS, '--json', '--config', configs.duckdb]);
      expect(run.code, run.stderr).toBe(0);
      const result = JSON.parse(run.stdout) as { rows: Record<string, unknown>[] };
      expect(result).toMatchObject({ query: name, engine: 'duckdb', lake: false });
      expect(result.rows.length, `${name} returns no rows: nothing to compare`).toBeGreaterThan(0);
      if (name === 'audit_trail') expect(result.rows.some((row) => row.policies === null)).toBe(true);
      duckdbRows[name] = result.rows;
    }
  }, 180_000);
  afterAll(async () => {
    await Promise.all([bigquery?.close(), snowflake?.close()]);
    ws.remove();
  });

  it.each(['bigquery', 'snowflake'] as const)(
    '%s: every shipped query by name, with the same --param names, gives the rows DuckDB gives',
    async (engine) => {
      for (const name of QUERIES) {
        const run = await aetl(['query', name, ...PARAMS, '--json', '--config', configs[engine]], ENV);
        expect(run.code, run.stderr).toBe(0);
        const result = JSON.parse(run.stdout) as { rows: Record<string, unknown>[] };
        expect(result).toMatchObject({ query: name, engine, lake: false });
        expect(byValue(result.rows), `${engine}: ${name}`).toEqual(byValue(duckdbRows[name]!));
      }
    },
  );

  it.each(ENGINES)(
    '%s: a missing parameter is a usage error (exit 2), before the warehouse is reached',
    async (engine) => {
      const args = ['query', 'audit_trail', '--param', 'from=2026-04-01', '--param', 'to=2026-04-02'];
      const missing = await aetl([...args, '--config', unreachable[engine]], ENV);
      expect(missing.code, missing.stderr).toBe(2);
      expect(missing.stderr).toContain('audit_trail needs --param user_id=...');
    },
  );

  it("a malformed value, and another dialect's shipped file, are usage errors too", async () => {
    const config = ['--config', unreachable.bigquery];
    const malformed = await aetl(
      ['query', 'top_users_by_cost', ...PARAMS, '--param', 'from=yesterday', ...config],
      ENV,
    );
    expect(malformed.code, malformed.stderr).toBe(2);
    expect(malformed.stderr).toContain('--param from: expected a date');
    const duckdbFile = await aetl(['query', 'sql/duckdb/queries/top_users_by_cost.sql', ...PARAMS, ...config], ENV);
    expect(duckdbFile.code, duckdbFile.stderr).toBe(2);
    expect(duckdbFile.stderr).toContain('on bigquery run: aetl query top_users_by_cost');
  });
});
