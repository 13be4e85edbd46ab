import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { instant, int, text } from '../../src/warehouse/driver.js';
import { DuckDBDriver } from '../../src/warehouse/duckdb/duckdb-driver.js';
import { insertRowsSql } from '../../src/warehouse/sql/sql-rows.js';

/** DuckDB binds many rows as one JSON parameter it reads back typed (`typedPlaceholders`). */
describe('many rows bound to DuckDB as one parameter', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aetl-rows-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps 64-bit integers and instants exact, and stores a lone surrogate as U+FFFD instead of failing', async () => {
    const driver = await DuckDBDriver.open(join(dir, 'w.duckdb'), { memoryLimit: '64MB', tempDirectory: dir });
    try {
      await driver.run('table', 'CREATE TABLE t (n BIGINT, seen TIMESTAMPTZ, note VARCHAR)');
      const rows = [
        { n: int(9007199254740993n), seen: instant(Date.UTC(2026, 3, 10, 8, 0, 0, 123)), note: text('field \ud800 x') },
        { n: int(-5), seen: instant(0), note: text('plain') },
      ];
      const { sql, params } = insertRowsSql(driver.dialect, 't', rows);
      await driver.run('rows', sql, params);
      const stored = await driver.run(
        'read',
        'SELECT CAST(n AS VARCHAR) AS n, epoch_ms(seen) AS seen_ms, note FROM t ORDER BY n DESC',
      );
      expect(stored.map((r) => ({ ...r, seen_ms: Number(r.seen_ms) }))).toEqual([
        { n: '9007199254740993', seen_ms: Date.UTC(2026, 3, 10, 8, 0, 0, 123), note: 'field \ufffd x' },
        { n: '-5', seen_ms: 0, note: 'plain' },
      ]);
    } finally {
      await driver.close();
    }
  });
});
