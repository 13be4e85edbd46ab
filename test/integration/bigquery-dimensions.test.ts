import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BigQueryDriver } from '../../src/warehouse/bigquery/bigquery-driver.js';
import { SqlDimensions } from '../../src/warehouse/sql/sql-dimensions.js';
import { versionKey, FIRST_VALID_FROM_MS } from '../../src/transform/scd2.js';
import { BigQueryStandIn } from '../stand-ins/bigquery/server.js';
import { SCRATCH } from '../helpers/duckdb.js';

process.env.NO_PROXY = '127.0.0.1,localhost';
const TOKEN = 'dims-token';
const ds = { project: 'proj', dataset: 'dims' };
const row = (natural: string, attributes: Record<string, string>, validFromMs: number | null = null) => ({
  natural,
  validFromMs,
  attributes,
  where: 'test',
});
const none = async () => undefined;

describe('dimensions on BigQuery (shared SQL, real client, stand-in)', () => {
  let standIn: BigQueryStandIn;
  let driver: BigQueryDriver;
  let dims: SqlDimensions;

  beforeAll(async () => {
    standIn = await BigQueryStandIn.start(TOKEN);
    driver = BigQueryDriver.open({ ...ds, location: 'US', apiEndpoint: standIn.url, accessToken: TOKEN }, SCRATCH);
    await driver.migrate();
    dims = new SqlDimensions(driver);
  });
  afterAll(() => standIn.close());

  it('completes an inferred member in place (its 64-bit key unchanged), then versions a change', async () => {
    await driver.client.query(
      'staging events',
      'CREATE TABLE `proj.dims.stage_events` (user_id STRING, gateway_id STRING, model STRING, provider STRING)',
    );
    await driver.client.query(
      'staging events',
      "INSERT INTO `proj.dims.stage_events` VALUES ('u-new', NULL, NULL, NULL)",
    );
    let marks = 0;
    await dims.insertInferredMembers({ events: 'stage_events', policies: null }, async () => void marks++);
    expect(marks).toBe(1); // told once, before the member went in
    const key = versionKey('dim_user', 'u-new', FIRST_VALID_FROM_MS);
    const inferred = await standIn.rows("SELECT user_key, is_inferred FROM dims.dim_user WHERE user_id = 'u-new'");
    expect(inferred).toEqual([{ user_key: key, is_inferred: true }]);

    const t1 = Date.parse('2026-05-01T00:00:00Z');
    const reference = { users: [row('u-new', { team: 'data', department: 'eng' })], gateways: [], models: [] };
    expect(await dims.syncReference(reference, t1, none)).toBe(1);
    const completed = await standIn.rows(
      "SELECT user_key, team, is_inferred, is_current FROM dims.dim_user WHERE user_id = 'u-new'",
    );
    expect(completed).toEqual([{ user_key: key, team: 'data', is_inferred: false, is_current: true }]);

    const t2 = Date.parse('2026-06-01T00:00:00Z');
    await dims.syncReference({ ...reference, users: [row('u-new', { team: 'search', department: 'eng' })] }, t2, none);
    const versions = await standIn.rows(
      "SELECT team, epoch_ms(valid_from) AS f, epoch_ms(valid_to) AS t, is_current FROM dims.dim_user WHERE user_id = 'u-new' ORDER BY f",
    );
    expect(versions).toEqual([
      { team: 'data', f: BigInt(FIRST_VALID_FROM_MS), t: BigInt(t2), is_current: false },
      { team: 'search', f: BigInt(t2), t: BigInt(Date.UTC(9999, 11, 31)), is_current: true },
    ]);
  });

  it('repairs the version chain a run killed between adding a version and chaining left behind', async () => {
    const t3 = Date.parse('2026-07-01T00:00:00Z');
    const reference = { users: [row('u-new', { team: 'infra', department: 'eng' })], gateways: [], models: [] };
    expect(await dims.syncReference(reference, t3, none)).toBe(1);
    // As if killed after the insert: the previous version still open and current.
    await standIn.rows(
      "UPDATE dims.dim_user SET valid_to = TIMESTAMPTZ '9999-12-31 00:00:00+00', is_current = TRUE WHERE user_id = 'u-new'",
    );
    expect(await dims.syncReference(reference, t3 + 60_000, none)).toBe(1); // the repair is a change (the lake learns it)
    expect(await dims.syncReference(reference, t3 + 120_000, none)).toBe(0);
    const open = await standIn.rows(
      "SELECT team FROM dims.dim_user WHERE user_id = 'u-new' AND is_current AND valid_to > TIMESTAMPTZ '9000-01-01 00:00:00+00'",
    );
    expect(open).toEqual([{ team: 'infra' }]);
  });

  it('marks before a reference change goes in: a run killed at the mark leaves the dimension as it was', async () => {
    // Each statement commits alone on BigQuery: a mark written after the change could be lost with the change kept.
    const killed = async () => {
      throw new Error('killed at the mark');
    };
    const reference = { users: [row('u-new', { team: 'ml', department: 'eng' })], gateways: [], models: [] };
    const before = await standIn.rows(
      "SELECT team, is_current FROM dims.dim_user WHERE user_id = 'u-new' ORDER BY team",
    );
    await expect(dims.syncReference(reference, Date.parse('2026-08-01T00:00:00Z'), killed)).rejects.toThrow('killed');
    expect(
      await standIn.rows("SELECT team, is_current FROM dims.dim_user WHERE user_id = 'u-new' ORDER BY team"),
    ).toEqual(before);
    let marks = 0;
    expect(await dims.syncReference(reference, Date.parse('2026-08-01T00:00:00Z'), async () => void marks++)).toBe(1);
    expect(marks).toBe(1);
  });

  it('fills dim_date without gaps over years, each day as the date functions of DuckDB describe it', async () => {
    let marks = 0;
    const mark = async () => void marks++;
    await dims.insertMissingDates(Date.parse('2024-01-01T05:00:00Z'), Date.parse('2026-12-31T23:00:00Z'), mark);
    expect(marks).toBe(1);
    await dims.insertMissingDates(Date.parse('2025-06-01T00:00:00Z'), Date.parse('2025-06-02T00:00:00Z'), mark); // adds nothing
    expect(marks).toBe(1);
    const [summary] = await standIn.rows(
      `SELECT count(*) AS days, count(DISTINCT date_key) AS keys, min(date)::VARCHAR AS first, max(date)::VARCHAR AS last,
         count(*) FILTER (WHERE date_key <> CAST(strftime(date, '%Y%m%d') AS INTEGER) OR year <> year(date)
           OR quarter <> quarter(date) OR month <> month(date) OR month_name <> monthname(date)
           OR iso_week <> weekofyear(date) OR day_of_month <> day(date) OR day_of_week <> isodow(date)
           OR day_name <> dayname(date) OR is_weekend <> (isodow(date) >= 6)) AS wrong
       FROM dims.dim_date`,
    );
    expect(summary).toEqual({ days: 1096n, keys: 1096n, first: '2024-01-01', last: '2026-12-31', wrong: 0n });
  });
});
