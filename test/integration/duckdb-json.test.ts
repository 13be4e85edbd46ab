import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { int, text, type JsonPage } from '../../src/warehouse/driver.js';
import { DuckDBDriver } from '../../src/warehouse/duckdb/duckdb-driver.js';
import { SCRATCH } from '../helpers/duckdb.js';

describe('DuckDB analyst rows as the JSON contract has them (DuckDBDriver.streamJson)', () => {
  let driver: DuckDBDriver;
  beforeAll(async () => {
    driver = await DuckDBDriver.open(':memory:', SCRATCH);
  });
  afterAll(() => driver.close());

  const pagesOf = async (sql: string, params: Parameters<DuckDBDriver['streamJson']>[2], pageRows: number) => {
    const pages: JsonPage[] = [];
    for await (const page of driver.streamJson('an analyst query', sql, params, pageRows)) pages.push(page);
    return pages;
  };

  it('keeps decimals and big integers exact, instants to the microsecond, and binds its parameters', async () => {
    const [page, ...more] = await pagesOf(
      `SELECT CAST('999999999999.999990' AS DECIMAL(18,6)) AS cost, CAST(9007199254740993 AS BIGINT) AS big,
         CAST(42 AS BIGINT) AS small, TIMESTAMPTZ '2026-01-02 03:04:05.123456+00' AS at, DATE '2026-01-02' AS day,
         $user AS "user", NULL AS nothing`,
      { user: text("o'brien") },
      10,
    );
    expect(more).toEqual([]);
    // Through a JS number both would round: to 1000000000000 and 9007199254740992.
    expect(page!.rows).toEqual([
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

  it('pages a result across DuckDB chunks (2,048 rows) in pages of the size asked; an empty one names its columns', async () => {
    const pages = await pagesOf('SELECT range AS n FROM range($n) ORDER BY n', { n: int(5_000) }, 1_500);
    expect(pages.map((p) => p.rows.length)).toEqual([1_500, 1_500, 1_500, 500]);
    expect(pages.flatMap((p) => p.rows.map((r) => r.n))).toEqual(Array.from({ length: 5_000 }, (_, i) => i));
    expect(pages.every((p) => p.columns.join() === 'n')).toBe(true);
    expect(await pagesOf('SELECT 1 AS a, 2 AS b WHERE false', {}, 1_500)).toEqual([{ columns: ['a', 'b'], rows: [] }]);
  });

  it("a query that fails partway fails with DuckDB's message (the streaming client drops it)", async () => {
    const failing =
      "SELECT range AS n, CASE WHEN range = 250000 THEN error('boom at 250000') END AS e FROM range(300000)";
    await expect(pagesOf(failing, {}, 1_000)).rejects.toThrow(/^the query failed after [\d,]+ rows: .*boom at 250000/);
    // The connection serves the next query.
    expect((await pagesOf('SELECT 42 AS answer', {}, 1_000))[0]!.rows).toEqual([{ answer: 42 }]);
  });
});
