import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DuckDBDriver } from '../../src/warehouse/duckdb/duckdb-driver.js';
import { applyRetention, retentionPlan } from '../../src/warehouse/sql/sql-retention.js';
import { Workspace } from '../helpers/workspace.js';

/**
 * Retention's archive of a quarantine too wide to write at once (BENCHMARKS.md "Whole days and the
 * quarantine in slices"): DuckDB writes it by rowid slices, and a slice of the table holding none
 * of the rows that go is no file. Here the first 100 of 400 rejects of ~60 KB are recent and stay.
 */
const ws = new Workspace();
const ROWS = 400;
const KEPT = 100;
const CUTOFF_MS = Date.parse('2025-01-01T00:00:00Z');
let driver: DuckDBDriver;

beforeAll(async () => {
  const settings = { memoryLimit: '1GB', tempDirectory: ws.path('spill') };
  const seeding = await DuckDBDriver.open(ws.path('w.duckdb'), settings);
  await seeding.migrate();
  // The recent ones first, in a statement of their own: they hold the first rowids (a slice of them alone).
  for (const [from, to, rejectedAt] of [
    [0, KEPT, '2026-04-01'],
    [KEPT, ROWS, '2020-01-01'],
  ] as const) {
    await seeding.run(
      'seeding wide rejects',
      `INSERT INTO etl_rejected_event
         (pipeline, source_location, source_ref, payload_hash, payload, reasons, event_id, run_id, rejected_at)
       SELECT 'default', 'inbox', 'line ' || i, md5(i::VARCHAR),
         (SELECT string_agg(md5(i::VARCHAR || '-' || j::VARCHAR), '') FROM range(1875) t(j)), '[]', NULL, 'seed',
         TIMESTAMPTZ '${rejectedAt}'
       FROM range(${from}, ${to}) r(i)`,
    );
  }
  await seeding.close();
  driver = await DuckDBDriver.open(ws.path('w.duckdb'), { ...settings, memoryLimit: '32MB' });
}, 60_000);

afterAll(async () => {
  await driver?.close();
  ws.remove();
});

it('archives the rejects that go in rowid slices, each file holding rows, each row once', async () => {
  const plan = await retentionPlan(driver, 'default', CUTOFF_MS);
  expect(plan).toEqual([{ table: 'etl_rejected_event', eventDate: null, rows: ROWS - KEPT }]);
  const context = { pipeline: 'default', runId: 'r1', cutoffMs: CUTOFF_MS, archiveDir: ws.path('archive'), nowMs: 0 };
  const [done] = await applyRetention(driver, plan, context);
  const dir = ws.path('archive', 'etl_rejected_event', 'before=2025-01-01');
  expect(done!.archivedTo).toBe(`${dir}/r1-*.parquet`); // written in slices: the whole did not fit
  const files = readdirSync(dir);
  const [archived] = await driver.run(
    'reading the archive back',
    `SELECT count(*)::INTEGER AS n, count(DISTINCT source_ref)::INTEGER AS refs, count(DISTINCT filename)::INTEGER AS files,
       min(source_ref) AS first
     FROM read_parquet('${dir}/*.parquet', filename = true)`,
  );
  expect(archived).toEqual({ n: ROWS - KEPT, refs: ROWS - KEPT, files: files.length, first: 'line 100' });
  const [left] = await driver.run('counting', 'SELECT count(*)::INTEGER AS n FROM etl_rejected_event');
  expect(left!.n).toBe(KEPT);
}, 120_000);
