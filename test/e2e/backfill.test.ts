import { afterAll, describe, expect, it } from 'vitest';
import { simulatorSettingsFrom } from '../../src/config/schema.js';
import { EventUniverse } from '../../src/simulator/generator.js';
import { aetl } from '../helpers/cli.js';
import { query } from '../helpers/duckdb.js';
import { shippedReference, Workspace } from '../helpers/workspace.js';

const NOW = '2026-08-20T12:00:00Z';
const overrides = {
  source: { kind: 'simulator', page_size: 500, simulator: { seed: 77, rate_per_minute: 0.5, bad_record_rate: 0.002 } },
  window: { initial_start: '2026-08-20T06:00:00Z' },
  // Two bad records in one 6-hour window of ~180 must not fail it.
  checks: { max_reject_rate: 0.05 },
};
const workspaces: Workspace[] = [];
afterAll(() => workspaces.forEach((w) => w.remove()));

async function incrementalFirst(): Promise<{ ws: Workspace; config: string }> {
  const ws = new Workspace();
  workspaces.push(ws);
  const config = ws.writeConfig(overrides);
  const run = await aetl(['run', '--config', config], { AETL_NOW: NOW });
  expect(run.code, run.stderr).toBe(0);
  return { ws, config };
}

/**
 * `aetl backfill` on DuckDB (its loads on every engine are in
 * incremental-engines.test.ts): days in packages, resuming after a crash, and the range's limits.
 */
describe('backfill', () => {
  it('loads a day larger than staging.package_records in packages; a crash mid-day redoes that day only, each event once', async () => {
    const ws = new Workspace();
    workspaces.push(ws);
    // ~2,160 events a day: three packages of at most 1,000 each.
    const simulator = { seed: 78, rate_per_minute: 1.5, bad_record_rate: 0.002 };
    const config = ws.writeConfig({
      source: { kind: 'simulator', page_size: 250, simulator },
      staging: { path: ws.path('staging'), package_records: 1000 },
      checks: { max_reject_rate: 0.05 },
    });
    const range = ['backfill', '--from', '2026-08-10', '--to', '2026-08-12', '--parallel', '2'];
    const backfill = (env: Record<string, string> = {}) =>
      aetl([...range, '--json', '--config', config], { AETL_NOW: NOW, ...env });
    // Killed after the second day's first package: the first day is done, the second is loaded again whole.
    expect((await backfill({ AETL_FAILPOINT: 'load:after-commit:4' })).code).toBeNull();
    const resumed = await backfill();
    expect(resumed.code, resumed.stderr.slice(-2000)).toBe(0);
    const summary = JSON.parse(resumed.stdout) as { run_id: string; detail: unknown };
    expect(summary.detail).toEqual({ days: 2, already_done: 1, loaded: 1 });

    const universe = new EventUniverse(simulatorSettingsFrom(simulator), shippedReference());
    const packagesOf = (day: string, resumed: boolean) => {
      const fromMs = Date.parse(`2026-08-${day}`);
      const read = [...universe.eventsBetween(fromMs, fromMs + 86_400_000, Date.parse(NOW))].length;
      return Array.from({ length: Math.ceil(read / 1000) }, (_, i) => ({
        resumed,
        day,
        read: Math.min(1000, read - i * 1000),
        counted: (i + 1) * 1000 >= read, // only a day's last package counts the source, which records the day done
      }));
    };
    const expected = [...packagesOf('10', false), packagesOf('11', false)[0], ...packagesOf('11', true)];
    expect(expected.length).toBe(7);
    // By day: with --parallel 2 the next day's first package is extracted (and numbered) before this day's last.
    const packages = await query(
      ws.warehouse,
      `SELECT run_id = '${summary.run_id}' AS resumed, strftime(window_start, '%d') AS day, read::INTEGER AS read,
         source_count IS NOT NULL AS counted
       FROM etl_run_window ORDER BY resumed, window_start, seq`,
    );
    expect(packages).toEqual(expected);

    const truth = universe.groundTruth(Date.parse('2026-08-10'), Date.parse('2026-08-12'), Date.parse(NOW));
    const ids = (await query(ws.warehouse, 'SELECT event_id FROM fact_ai_event ORDER BY 1')).map((r) => r.event_id);
    expect(ids).toEqual([...truth.validIds].sort());
    const [totals] = await query(
      ws.warehouse,
      `SELECT (SELECT sum(cost_usd)::VARCHAR FROM fact_ai_event) AS cost,
         (SELECT count(*)::INTEGER FROM etl_rejected_event) AS rejects`,
    );
    expect(totals).toEqual({ cost: (Number(truth.costMicros) / 1e6).toFixed(6), rejects: truth.invalidCount });

    const again = await backfill();
    expect(JSON.parse(again.stdout).detail).toEqual({ days: 2, already_done: 2, loaded: 0 });
  }, 120_000);

  it('clips --to at the signpost with a notice, and refuses --from after --to', async () => {
    const { config } = await incrementalFirst();
    const clipped = await aetl(['backfill', '--from', '2026-08-20', '--to', '2026-08-25', '--config', config], {
      AETL_NOW: NOW,
    });
    expect(clipped.code, clipped.stderr).toBe(0);
    expect(clipped.stderr).toMatch(/clipped/);
    expect(clipped.stdout).toMatch(/2026-08-20T00:00:00Z -> 2026-08-20T11:58:00Z/);
    const backwards = await aetl(['backfill', '--from', '2026-08-12', '--to', '2026-08-10', '--config', config], {
      AETL_NOW: NOW,
    });
    expect(backwards.code).toBe(2);
    expect(backwards.stderr).toMatch(/--from must be before --to/);
  });
});
