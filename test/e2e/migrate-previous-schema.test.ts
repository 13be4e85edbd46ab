import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, describe, expect, it } from 'vitest';
import { BigQueryClient } from '../../src/warehouse/bigquery/bigquery-driver.js';
import { migrationFiles } from '../../src/warehouse/sql/migrations.js';
import { SnowflakeClient } from '../../src/warehouse/snowflake/snowflake-driver.js';
import { sqlStatements } from '../../src/warehouse/snowflake/snowflake-dialect.js';
import { expectAggregatesExact } from '../helpers/aggregates.js';
import { aetl } from '../helpers/cli.js';
import { query } from '../helpers/duckdb.js';
import { jsonLines, shapeA } from '../helpers/events.js';
import { REPO, Workspace } from '../helpers/workspace.js';
import { BigQueryStandIn } from '../stand-ins/bigquery/server.js';
import { SnowflakeStandIn } from '../stand-ins/snowflake/server.js';

/**
 * A warehouse made by the previous release (DuckDB: migrations 001-011; BigQuery and Snowflake:
 * their single `ddl.sql`, applied as one script and recorded as version 1 named `ddl.sql`; that
 * file is migration 001 unchanged) is migrated by the next run: every later migration applies
 * once, the run loads, and what was loaded before keeps working: re-sent, an old event is a duplicate
 * (its stored hash is what this release computes), not a conflict (issue 19, "hash migration").
 */
const previousDdl = (engine: string) =>
  readFileSync(join(REPO, `sql/${engine}/migrations/001_initial_schema.sql`), 'utf8');
const NOW = '2026-05-01T12:00:00.000Z';
const simulator = { seed: 5, rate_per_minute: 2, bad_record_rate: 0 };
const PASSWORD = 'migrate-secret';

/** The event the previous release loaded, as its source sent it. */
const OLD_EVENT = shapeA('evt-old', 0, {
  timestamp: '2026-04-01T10:00:00Z',
  input_tokens: 1,
  output_tokens: 1,
  cost_usd: 0.01,
  latency_ms: 5,
});
/**
 * Its event hash (DESIGN.md decision 4) as every release so far computed and stored it. Pinned on
 * purpose: a release that changes the hash must migrate the stored ones, or a re-sent event
 * becomes a conflict instead of a duplicate (the last assertion below).
 */
const OLD_HASH = 'e66ccc502949d13d2b6c8c95d2d46e17ca749bbe88f73f07cca18f2f410b55f7';

/** The old event as the previous release stored it (`{ts}` is the engine's timestamp literal). */
const oldFact = (
  table: string,
  ts: string,
) => `INSERT INTO ${table} (event_id, event_hash, event_ts, date_key, user_key,
    model_key, gateway_key, decision, was_blocked, latency_ms, input_tokens, output_tokens, total_tokens, cost_usd,
    policies_evaluated_count, policies_triggered_count, run_id, loaded_at)
  VALUES ('evt-old', '${OLD_HASH}', ${ts}, 20260401, 0, 0, 0, 'allow', false, 5, 1, 1, 2, 0.01, 1, 0, 'run-old', ${ts})`;
const TOKEN = 'migrate-token';

interface Engine {
  name: 'duckdb' | 'bigquery' | 'snowflake';
  /** Builds the previous release's schema; returns the config's warehouse block and the env. */
  previous(ws: Workspace): Promise<{ warehouse: Record<string, unknown> | null; env: Record<string, string> }>;
  /** Rows of our tables (`{s}` is the schema prefix). */
  rows(ws: Workspace, sql: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

const standIns: { bigquery?: BigQueryStandIn; snowflake?: SnowflakeStandIn } = {};

const engines: Engine[] = [
  {
    name: 'duckdb',
    async previous(ws) {
      mkdirSync(dirname(ws.warehouse), { recursive: true });
      const db = await DuckDBInstance.create(ws.warehouse);
      const connection = await db.connect();
      await connection.run(
        'CREATE TABLE etl_schema_version (version INTEGER NOT NULL, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)',
      );
      for (const file of migrationFiles('duckdb').filter((f) => Number(f.slice(0, 3)) <= 11)) {
        await connection.run(readFileSync(join(REPO, 'sql/duckdb/migrations', file), 'utf8'));
        await connection.run(`INSERT INTO etl_schema_version VALUES (${Number(file.slice(0, 3))}, '${file}', now())`);
      }
      // One event the previous release loaded, indexed without its hash (the index had none).
      await connection.run(oldFact('fact_ai_event', "TIMESTAMPTZ '2026-04-01 10:00:00+00'"));
      await connection.run(`INSERT INTO etl_event_id VALUES (md5_number_lower('evt-old'), 'default', 'evt-old',
          TIMESTAMPTZ '2026-04-01 10:00:00+00', 20260401)`);
      connection.closeSync();
      db.closeSync();
      return { warehouse: null, env: {} };
    },
    rows: (ws, sql) => query(ws.warehouse, sql.replaceAll('{s}', '')),
    close: async () => undefined,
  },
  {
    name: 'bigquery',
    async previous() {
      const standIn = (standIns.bigquery = await BigQueryStandIn.start(TOKEN));
      const settings = {
        project: 'aetl-test',
        dataset: 'old',
        location: 'EU',
        apiEndpoint: standIn.url,
        accessToken: TOKEN,
      };
      const client = BigQueryClient.create(settings);
      await client.ensureDataset();
      const ddl = previousDdl('bigquery').replaceAll('{{dataset}}', 'aetl-test.old');
      await client.query('previous schema', ddl);
      await client.query(
        'previous version',
        "INSERT INTO `aetl-test.old.etl_schema_version` VALUES (1, 'ddl.sql', CURRENT_TIMESTAMP())",
      );
      // Loaded before the id index existed: the dataset has the fact, the index nothing.
      await client.query('old fact', oldFact('`aetl-test.old.fact_ai_event`', "TIMESTAMP '2026-04-01 10:00:00+00'"));
      return {
        warehouse: {
          kind: 'bigquery',
          project: 'aetl-test',
          dataset: 'old',
          location: 'EU',
          api_endpoint: standIn.url,
          access_token: '${BQ_TOKEN}',
        },
        env: { BQ_TOKEN: TOKEN },
      };
    },
    rows: (_ws, sql) => standIns.bigquery!.rows(sql.replaceAll('{s}', 'old.')),
    close: async () => standIns.bigquery?.close(),
  },
  {
    name: 'snowflake',
    async previous() {
      const standIn = (standIns.snowflake = await SnowflakeStandIn.start(PASSWORD));
      const settings = {
        account: 'acme',
        user: 'loader',
        auth: { password: PASSWORD },
        database: 'aetl',
        schema: 'old',
        accessUrl: standIn.url,
      };
      const client = await SnowflakeClient.connect(settings);
      await client.query('schema', 'CREATE SCHEMA IF NOT EXISTS "AETL"."OLD"');
      const ddl = previousDdl('snowflake');
      for (const statement of sqlStatements(ddl, { schema: '"AETL"."OLD"' }))
        await client.query('previous schema', statement);
      await client.query(
        'previous version',
        'INSERT INTO "AETL"."OLD"."ETL_SCHEMA_VERSION" SELECT 1, \'ddl.sql\', CURRENT_TIMESTAMP()',
      );
      // Loaded before the id index existed: the dataset has the fact, the index nothing.
      await client.query(
        'old fact',
        oldFact('"AETL"."OLD"."FACT_AI_EVENT"', "'2026-04-01 10:00:00+00:00'::TIMESTAMP_TZ"),
      );
      await client.close();
      return {
        warehouse: {
          kind: 'snowflake',
          account: 'acme',
          user: 'loader',
          password: '${SF_PASSWORD}',
          database: 'aetl',
          schema: 'old',
          access_url: standIn.url,
        },
        env: { SF_PASSWORD: PASSWORD },
      };
    },
    rows: (_ws, sql) => standIns.snowflake!.rows(sql.replaceAll('{s}', 'aetl.old.')),
    close: async () => standIns.snowflake?.close(),
  },
];

describe.each(engines)('a $name warehouse of the previous release', (engine) => {
  const ws = new Workspace();
  afterAll(async () => {
    await engine.close();
    ws.remove();
  });

  it('is migrated by the next run, which loads; a second run applies nothing; a re-sent old event is a duplicate', async () => {
    const { warehouse, env } = await engine.previous(ws);
    const config = ws.writeConfig({
      source: { kind: 'simulator', simulator },
      ...(warehouse ? { warehouse } : {}),
      checks: { anomalies: { enabled: false } },
    });
    const first = await aetl(['run', '--config', config], { AETL_NOW: NOW, ...env });
    expect(first.code, first.stderr.slice(-2000)).toBe(0);
    const files = migrationFiles(engine.name);
    const versions = await engine.rows(ws, 'SELECT version, name FROM {s}etl_schema_version ORDER BY version');
    expect(versions.map((v) => Number(v.version))).toEqual(files.map((f) => Number(f.slice(0, 3))));
    expect(versions.slice(1).map((v) => v.name)).toEqual(files.slice(1));
    const [facts] = await engine.rows(ws, 'SELECT count(*) AS n FROM {s}fact_ai_event');
    expect(Number(facts!.n)).toBeGreaterThan(0);
    // The tables the later migrations made are used by the run: drift table exists, conflicts have a resolution column.
    await engine.rows(ws, 'SELECT count(*) FROM {s}etl_schema_drift');
    await engine.rows(ws, 'SELECT resolution FROM {s}etl_conflict');
    const second = await aetl(['migrate', '--config', config], { AETL_NOW: NOW, ...env });
    expect(second.code, second.stderr.slice(-2000)).toBe(0);
    expect(await engine.rows(ws, 'SELECT count(*) AS n FROM {s}etl_schema_version')).toEqual([
      { n: BigInt(files.length) },
    ]);
    // The old fact is in the id index with its stored hash (DuckDB: migration 012 filled the hash of
    // the index row it had; BigQuery and Snowflake: 004 indexed the fact), so a load finds it by the index alone.
    expect(
      await engine.rows(
        ws,
        "SELECT pipeline, event_hash, date_key::INTEGER AS date_key FROM {s}etl_event_id WHERE event_id = 'evt-old'",
      ),
    ).toEqual([{ pipeline: 'default', event_hash: OLD_HASH, date_key: 20260401 }]);
    // The hourly aggregates (DuckDB 016, BigQuery and Snowflake 008) were backfilled from the facts
    // there were, the old one among them, and the run's load added its own hours.
    expect(
      await engine.rows(
        ws,
        `SELECT events::INTEGER AS events, cost_usd::DECIMAL(18, 6)::VARCHAR AS cost FROM {s}agg_event_hourly
         WHERE hour = TIMESTAMPTZ '2026-04-01 10:00:00+00'`,
      ),
    ).toEqual([{ events: 1, cost: '0.010000' }]);
    await expectAggregatesExact((sql) => engine.rows(ws, sql));

    // The source sends the old event again: the migrated warehouse knows it as already loaded.
    writeFileSync(ws.path('resent.jsonl'), jsonLines([OLD_EVENT]));
    const resendConfig = ws.writeConfig(
      {
        source: { kind: 'files', files: ws.path('resent.jsonl') },
        ...(warehouse ? { warehouse } : {}),
        checks: { anomalies: { enabled: false } },
      },
      'resend.yaml',
    );
    const resent = await aetl(['run', '--config', resendConfig], { AETL_NOW: NOW, ...env });
    expect(resent.code, resent.stderr.slice(-2000)).toBe(0);
    expect(resent.stdout).toMatch(/loaded 0 \| already loaded 1 \|/);
    expect(await engine.rows(ws, "SELECT count(*) AS n FROM {s}etl_conflict WHERE event_id = 'evt-old'")).toEqual([
      { n: 0n },
    ]);
    expect(await engine.rows(ws, "SELECT count(*) AS n FROM {s}fact_ai_event WHERE event_id = 'evt-old'")).toEqual([
      { n: 1n },
    ]);
  }, 120_000);
});
