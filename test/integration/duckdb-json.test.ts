import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { text } from '../../src/warehouse/driver.js';
import { DuckDBDriver } from '../../src/warehouse/duckdb/duckdb-driver.js';
import { SCRATCH } from '../helpers/duckdb.js';

describe('DuckDB analyst rows as the JSON contract has them (DuckDBDriver.runJson)', () => {
  let driver: DuckDBDriver;
  beforeAll(async () => {
    driver = await DuckDBDriver.open(':memory:', SCRATCH);
  });
  afterAll(() => driver.close());

  it('keeps decimals and big integers exact, instants to the microsecond, and binds its parameters', async () => {
    const rows = await driver.runJson(
      'an analyst query',
      `SELECT CAST('999999999999.999990' AS DECIMAL(18,6)) AS cost, CAST(9007199254740993 AS BIGINT) AS big,
         CAST(42 AS BIGINT) AS small, TIMESTAMPTZ '2026-01-02 03:04:05.123456+00' AS at, DATE '2026-01-02' AS day,
         $user AS "user", NULL AS nothing`,
      { user: text("o'brien") },
    );
    // Through a JS number both would round: to 1000000000000 and 9007199254740992.
    expect(rows).toEqual([
      {
        cost: '999999999999.99999',
        big: '9007199254740993',
        small: 42,
        at: '2026-01-02T03:04:05.123456Z',
        day: '2026-01-02',
        user: "o'brien",
        nothing: null,
      },
    ]);
  });
});
