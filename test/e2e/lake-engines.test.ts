import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aetl } from '../helpers/cli.js';
import { query, queryWith } from '../helpers/duckdb.js';
import { workspacesForFile, type Workspace } from '../helpers/workspace.js';
import { BigQueryStandIn } from '../stand-ins/bigquery/server.js';
import { SnowflakeStandIn } from '../stand-ins/snowflake/server.js';

/**
 * DESIGN.md decision 2: the lake is at `lake.path` whatever the warehouse.
 * The same simulator data loaded into DuckDB, BigQuery and Snowflake (the
 * real clients against the stand-ins) gives lake files with the same schema
 * and the same rows, read back by an independent reader (hyparquet); and a
 * run killed between its commit and its publish is finished by the next
 * command on every engine.
 */
const NOW = '2026-05-01T12:00:00.000Z'; // the first run spans 2026-04-30 and 2026-05-01
const LATER = '2026-05-01T12:20:00.000Z';
const SECRET = 'lake-e2e-secret';
const simulator = { seed: 11, rate_per_minute: 1, bad_record_rate: 0.003 };
const workspace = workspacesForFile();

type Engine = 'duckdb' | 'bigquery' | 'snowflake';
let bigquery: BigQueryStandIn;
let snowflake: SnowflakeStandIn;

/** A config for `engine`, its warehouse in a dataset or schema of its own (`space`). */
function configFor(ws: Workspace, engine: Engine, space: string): string {
  const warehouses: Record<Engine, Record<string, unknown>> = {
    duckdb: { kind: 'duckdb', path: 'data/warehouse.duckdb' },
    bigquery: {
      kind: 'bigquery',
      project: 'aetl-test',
      dataset: space,
      api_endpoint: bigquery.url,
      access_token: '${SECRET}',
    },
    snowflake: {
      kind: 'snowflake',
      account: 'aetl_test',
      user: 'loader',
      password: '${SECRET}',
      database: 'aetl',
      schema: space,
      access_url: snowflake.url,
    },
  };
  // The second run's few events may hold one of the rare rejects: a rate check is not what this file proves.
  return ws.writeConfig({
    source: { kind: 'simulator', simulator },
    warehouse: warehouses[engine],
    checks: { max_reject_rate: 0.05 },
  });
}

/** Runs SQL on the engine's warehouse: the stand-in's DuckDB (`{s}` becomes the space's schema) or the file. */
function warehouseRows(ws: Workspace, engine: Engine, space: string, sql: string) {
  if (engine === 'duckdb') return query(ws.warehouse, sql.replaceAll('{s}', ''));
  if (engine === 'bigquery') return bigquery.rows(sql.replaceAll('{s}', `${space}.`));
  return snowflake.rows(sql.replaceAll('{s}', `aetl.${space}.`));
}

async function cli(args: string[], config: string, now: string, extra: Record<string, string> = {}) {
  return aetl([...args, '--config', config], { AETL_NOW: now, SECRET, ...extra }, 90_000);
}

interface LakePartition {
  /** How many files: one per package that inserted rows into it (the lake is append-only per package). */
  files: number;
  /** Each column's Parquet schema element: name, physical and logical type, precision, scale (the same in every file). */
  schema: unknown[];
  /** Rows as text, sorted, without the load's run id, package and time; timestamps in exact microseconds, JSON as its text. */
  rows: string[];
}

const exact = {
  timestampFromMicroseconds: (micros: bigint) => micros,
  jsonFromBytes: (bytes: Uint8Array) => new TextDecoder().decode(bytes),
};

async function readLakeFile(path: string): Promise<Omit<LakePartition, 'files'>> {
  const file = await asyncBufferFromFile(path);
  const metadata = await parquetMetadataAsync(file);
  const codecs = new Set(metadata.row_groups.flatMap((g) => g.columns.map((c) => c.meta_data?.codec)));
  expect([...codecs]).toEqual(['ZSTD']);
  const rows = await parquetReadObjects({ file, compressors, parsers: exact });
  return {
    schema: parquetSchema(metadata).children.map((c) => c.element),
    rows: rows.map((row) => {
      const { run_id: _run, loaded_at: _loaded, package_seq: _package, ...rest } = row;
      return JSON.stringify(rest, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    }),
  };
}

/**
 * Every partition of a lake (`fact_ai_event/event_date=…`, or a dimension's folder), read through the
 * table folders as a reader does; nothing left in .tmp.
 */
async function readLake(lake: string): Promise<Record<string, LakePartition>> {
  expect(existsSync(join(lake, '.tmp')) ? readdirSync(join(lake, '.tmp')) : []).toEqual([]);
  const read: Record<string, LakePartition> = {};
  for (const table of readdirSync(lake).filter((name) => !name.startsWith('.'))) {
    const folders = table.startsWith('fact_') ? readdirSync(join(lake, table)).map((p) => `${table}/${p}`) : [table];
    for (const folder of folders.sort()) {
      const files = readdirSync(join(lake, folder)).sort();
      const parts = await Promise.all(files.map((file) => readLakeFile(join(lake, folder, file))));
      for (const part of parts) expect(part.schema, folder).toEqual(parts[0]!.schema);
      read[folder] = { files: files.length, schema: parts[0]!.schema, rows: parts.flatMap((p) => p.rows).sort() };
    }
  }
  return read;
}

const LAKE_TABLES = ['dim_date', 'dim_gateway', 'dim_model', 'dim_policy', 'dim_user'];

describe('the Parquet lake whatever the engine', () => {
  /** The DuckDB warehouse's lake after the first run and after the second. */
  const reference: Record<string, LakePartition>[] = [];

  beforeAll(async () => {
    bigquery = await BigQueryStandIn.start(SECRET);
    snowflake = await SnowflakeStandIn.start(SECRET);
    const ws = workspace();
    const config = configFor(ws, 'duckdb', 'reference');
    for (const now of [NOW, LATER]) {
      const run = await cli(['run'], config, now);
      expect(run.code, run.stderr).toBe(0);
      reference.push(await readLake(ws.lake));
    }
  }, 120_000);
  afterAll(async () => {
    await bigquery?.close();
    await snowflake?.close();
  });

  it('the reference lake holds two days of both fact tables and every dimension, with the lake types', () => {
    const [first, last] = reference;
    expect(Object.keys(last!)).toEqual([
      ...LAKE_TABLES,
      'fact_ai_event/event_date=2026-04-30',
      'fact_ai_event/event_date=2026-05-01',
      'fact_policy_evaluation/event_date=2026-04-30',
      'fact_policy_evaluation/event_date=2026-05-01',
    ]);
    // The second run added one file to today's partitions, holding what it inserted; yesterday's stayed as they were.
    const today = 'fact_ai_event/event_date=2026-05-01';
    expect(last![today]!.files).toBe(first![today]!.files + 1);
    expect(last!['fact_ai_event/event_date=2026-04-30']).toEqual(first!['fact_ai_event/event_date=2026-04-30']);
    const facts = last![today]!;
    expect(facts.rows.length).toBeGreaterThan(500); // today's twelve hours at ~60 events an hour
    const column = (name: string) => (facts.schema as { name: string }[]).find((c) => c.name === name);
    expect(column('event_ts')).toMatchObject({
      type: 'INT64',
      logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' },
    });
    expect(column('cost_usd')).toMatchObject({ logical_type: { type: 'DECIMAL', precision: 18, scale: 6 } });
    expect(column('user_key')).toMatchObject({ type: 'INT64' });
    expect(column('metadata')).toMatchObject({ logical_type: { type: 'JSON' } });
  });

  describe.each<Engine>(['duckdb', 'bigquery', 'snowflake'])('on %s', (engine) => {
    it('two runs write the same lake files as the DuckDB warehouse: same schemas, same rows', async () => {
      const ws = workspace();
      const config = configFor(ws, engine, 'lake_runs');
      for (const [i, now] of [NOW, LATER].entries()) {
        const run = await cli(['run'], config, now);
        expect(run.code, run.stderr).toBe(0);
        expect(run.stdout + run.stderr).not.toContain(SECRET);
        const lake = await readLake(ws.lake);
        expect(Object.keys(lake)).toEqual(Object.keys(reference[i]!));
        for (const [partition, expected] of Object.entries(reference[i]!))
          expect(lake[partition], partition).toEqual(expected);
      }
      // The lake holds what the warehouse holds: exact ids, keys, cost and times.
      const totals = `SELECT count(*)::VARCHAR AS n, count(DISTINCT event_id)::VARCHAR AS ids,
          sum(cost_usd)::DECIMAL(38, 6)::VARCHAR AS cost, sum(user_key)::VARCHAR AS keys,
          sum(epoch_us(event_ts))::VARCHAR AS ts`;
      const [inLake] = await queryWith(
        ':memory:',
        `${totals} FROM read_parquet('${ws.lake}/fact_ai_event/*/*.parquet')`,
        {},
      );
      const [inWarehouse] = await warehouseRows(ws, engine, 'lake_runs', `${totals} FROM {s}fact_ai_event`);
      expect(inLake).toEqual(inWarehouse);
      expect(inLake!.n).toBe(inLake!.ids);
      expect(await warehouseRows(ws, engine, 'lake_runs', 'SELECT * FROM {s}etl_lake_pending')).toEqual([]);
    }, 240_000);

    it('a run killed between its commit and its publish: the next command publishes, a re-run completes', async () => {
      const ws = workspace();
      const config = configFor(ws, engine, 'lake_killed');
      const killed = await cli(['run'], config, NOW, { AETL_FAILPOINT: 'load:after-commit:2' });
      expect(killed.code, 'the failpoint was not reached').toBeNull();
      const pending = await warehouseRows(ws, engine, 'lake_killed', 'SELECT * FROM {s}etl_lake_pending');
      expect(pending.length).toBeGreaterThan(0);
      // `aetl check` loads nothing: it only finishes the publish first, as every command does.
      const check = await cli(['check'], config, NOW);
      expect([0, 3], check.stderr).toContain(check.code);
      expect(await warehouseRows(ws, engine, 'lake_killed', 'SELECT * FROM {s}etl_lake_pending')).toEqual([]);
      const ids = 'SELECT event_id FROM';
      const inWarehouse = await warehouseRows(ws, engine, 'lake_killed', `${ids} {s}fact_ai_event ORDER BY 1`);
      const inLake = await queryWith(':memory:', `${ids} '${ws.lake}/fact_ai_event/*/*.parquet' ORDER BY 1`, {});
      expect(inLake.length).toBeGreaterThan(0);
      expect(inLake).toEqual(inWarehouse);
      const rerun = await cli(['run'], config, NOW);
      expect(rerun.code, rerun.stderr).toBe(0);
      const lake = await readLake(ws.lake);
      expect(Object.keys(lake)).toEqual(Object.keys(reference[0]!));
      for (const [partition, expected] of Object.entries(reference[0]!))
        expect(lake[partition]!.rows, partition).toEqual(expected.rows);
    }, 240_000);
  });
});
