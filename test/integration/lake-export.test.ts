import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BigQueryDriver } from '../../src/warehouse/bigquery/bigquery-driver.js';
import type { Driver } from '../../src/warehouse/driver.js';
import { EXPORT_PAGE_ROWS } from '../../src/warehouse/lake-parquet.js';
import { SnowflakeDriver } from '../../src/warehouse/snowflake/snowflake-driver.js';
import { SqlWarehouse } from '../../src/warehouse/sql/sql-warehouse.js';
import { queryWith, SCRATCH } from '../helpers/duckdb.js';
import { Workspace } from '../helpers/workspace.js';
import { BigQueryStandIn } from '../stand-ins/bigquery/server.js';
import { SnowflakeStandIn } from '../stand-ins/snowflake/server.js';

process.env.NO_PROXY = '127.0.0.1,localhost';
const SECRET = 'lake-export-secret';
const BULK = 25_000; // several result pages (EXPORT_PAGE_ROWS) and Snowflake chunks (10,000 rows)

interface Remote {
  driver: Driver;
  /** SQL on the stand-in's DuckDB; `{s}` is our tables' schema. */
  rows(sql: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
  /** Rows of each result page (BigQuery) or chunk (Snowflake: after the first 10,000 inline) the server sent. */
  pages: number[];
}

async function bigquery(): Promise<Remote> {
  const standIn = await BigQueryStandIn.start(SECRET);
  const driver = BigQueryDriver.open(
    { project: 'proj', dataset: 'lake', location: 'US', apiEndpoint: standIn.url, accessToken: SECRET },
    SCRATCH,
  );
  return {
    driver,
    rows: (sql) => standIn.rows(sql.replaceAll('{s}', 'lake.')),
    close: () => standIn.close(),
    pages: standIn.pagesServed,
  };
}

async function snowflake(): Promise<Remote> {
  const standIn = await SnowflakeStandIn.start(SECRET);
  const driver = await SnowflakeDriver.open(
    {
      account: 'aetl_test',
      user: 'loader',
      auth: { password: SECRET },
      database: 'AETL',
      schema: 'LAKE',
      accessUrl: standIn.url,
    },
    { clusterByDate: false, scratch: SCRATCH },
  );
  return {
    driver,
    rows: (sql) => standIn.rows(sql.replaceAll('{s}', 'aetl.lake.')),
    close: () => standIn.close(),
    pages: standIn.chunksServed,
  };
}

/** The values a client could round: 64-bit keys at both ends, 18-digit decimals, microseconds, JSON, NULLs. */
const EDGE_ROWS = `
  ('edge-first', 'h1', TIMESTAMPTZ '2026-05-01 00:00:00.000001+00', 20260501, -9223372036854775808, 9223372036854775807,
   1, 'block', true, 0.1, 9007199254740993, 0, 9007199254740993, 123456789012.345678, 2, 1, 'team-a', 'b-1', 'api',
   '{"a":[1,2.5,"x"],"nested":{"k":null}}', 'run-1', TIMESTAMPTZ '2026-05-02 03:04:05.678901+00', 1),
  ('edge-last', 'h2', TIMESTAMPTZ '2026-05-01 23:59:59.999999+00', 20260501, 0, 0, 0, 'allow', false, NULL, 0, 0, 0,
   -0.000001, 0, 0, NULL, NULL, NULL, NULL, 'run-1', TIMESTAMPTZ '2026-05-02 03:04:05+00', 1),
  ('other-day', 'h3', TIMESTAMPTZ '2026-05-02 00:00:00+00', 20260502, 1, 1, 1, 'allow', false, 1, 1, 1, 2, 1, 0, 0,
   NULL, NULL, NULL, NULL, 'run-1', TIMESTAMPTZ '2026-05-02 03:04:05+00', 1)`;

const BULK_ROWS = `SELECT 'bulk-' || lpad(i::VARCHAR, 6, '0'), md5(i::VARCHAR),
    TIMESTAMPTZ '2026-05-01 12:00:00+00' + to_microseconds(i * 1001), 20260501, i * 1000003, -i, i % 7, 'allow', false,
    i / 8, i, i, 2 * i, (i * 0.000007)::DECIMAL(18, 6), 1, 0, NULL, NULL, 'api', '{"i":' || i || '}', 'run-1',
    TIMESTAMPTZ '2026-05-02 03:04:05+00', 1
  FROM range(${BULK}) t(i)`;

describe.each([
  {
    name: 'BigQuery',
    start: bigquery,
    pages: [
      ...Array<number>(Math.floor((BULK + 2) / EXPORT_PAGE_ROWS)).fill(EXPORT_PAGE_ROWS),
      (BULK + 2) % EXPORT_PAGE_ROWS,
    ],
    inOrder: true,
  },
  // The Snowflake client fetches a result's chunks concurrently: which one the stand-in serves first varies.
  { name: 'Snowflake', start: snowflake, pages: [10_000, 5_002], inOrder: false },
])('a lake partition exported from $name (the real client, the stand-in)', ({ start, pages, inOrder }) => {
  const ws = new Workspace();
  let remote: Remote;
  let file: string;
  let pagesBefore: number;

  beforeAll(async () => {
    remote = await start();
    await remote.driver.migrate();
    await remote.rows(`INSERT INTO {s}fact_ai_event VALUES ${EDGE_ROWS}`);
    await remote.rows(`INSERT INTO {s}fact_ai_event ${BULK_ROWS}`);
    file = ws.path('partition.parquet');
    pagesBefore = remote.pages.length;
    await new SqlWarehouse(remote.driver).exportLakePartition(
      'default',
      { table: 'fact_ai_event', eventDate: '2026-05-01', runId: 'run-1', packageSeq: null },
      () => file,
    );
  }, 120_000);
  afterAll(async () => {
    await remote.driver.close();
    await remote.close();
    ws.remove();
  });

  it('holds the day, in event-time order, with the lake types, values exact (hyparquet)', async () => {
    const buffer = await asyncBufferFromFile(file);
    const metadata = await parquetMetadataAsync(buffer);
    const columns = Object.fromEntries(parquetSchema(metadata).children.map((c) => [c.element.name, c.element]));
    expect(columns.event_ts!.logical_type).toMatchObject({ type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' });
    expect(columns.cost_usd!.logical_type).toMatchObject({ type: 'DECIMAL', precision: 18, scale: 6 });
    expect(columns.metadata!.logical_type).toMatchObject({ type: 'JSON' });
    expect(columns.date_key!.type).toBe('INT32');
    const rows = await parquetReadObjects({
      file: buffer,
      compressors,
      parsers: {
        timestampFromMicroseconds: (micros: bigint) => micros,
        jsonFromBytes: (bytes: Uint8Array) => new TextDecoder().decode(bytes),
      },
    });
    expect(rows).toHaveLength(BULK + 2);
    expect(rows.map((r) => r.event_id)).not.toContain('other-day');
    const times = rows.map((r) => r.event_ts as bigint);
    expect(times.every((t, i) => i === 0 || times[i - 1]! <= t)).toBe(true);
    const [first, last] = [rows[0]!, rows.at(-1)!];
    expect(first).toMatchObject({
      event_id: 'edge-first',
      event_ts: 1777593600000001n,
      user_key: -9223372036854775808n,
      model_key: 9223372036854775807n,
      total_tokens: 9007199254740993n,
      was_blocked: true,
      latency_ms: 0.1,
      metadata: '{"a":[1,2.5,"x"],"nested":{"k":null}}',
      loaded_at: 1777691045678901n,
    });
    expect(last).toMatchObject({ event_id: 'edge-last', event_ts: 1777679999999999n, latency_ms: null });
    expect(last).toMatchObject({ team_id: null, metadata: null });
  });

  it('holds every decimal exactly, as the warehouse does', async () => {
    const sums = `SELECT sum(cost_usd)::DECIMAL(38, 6)::VARCHAR AS cost, min(cost_usd)::DECIMAL(18, 6)::VARCHAR AS low,
      max(cost_usd)::DECIMAL(18, 6)::VARCHAR AS high, sum(user_key)::VARCHAR AS keys, count(*)::VARCHAR AS n`;
    const [inFile] = await queryWith(':memory:', `${sums} FROM '${file}'`, {});
    const [inWarehouse] = await remote.rows(`${sums} FROM {s}fact_ai_event WHERE date_key = 20260501`);
    expect(inFile).toEqual(inWarehouse);
    expect(inFile).toMatchObject({ low: '-0.000001', high: '123456789012.345678' });
  });

  it('reads the result page by page (BigQuery: a page token; Snowflake: chunks as the stream reaches them)', () => {
    const served = remote.pages.slice(pagesBefore);
    expect(inOrder ? served : served.toSorted((a, b) => b - a)).toEqual(pages);
  });
});
