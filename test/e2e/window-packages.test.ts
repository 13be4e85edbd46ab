import { afterAll, describe, expect, it } from 'vitest';
import { aetl } from '../helpers/cli.js';
import { query } from '../helpers/duckdb.js';
import { lakeSnapshot, warehouseSnapshot } from '../helpers/snapshot.js';
import { Workspace } from '../helpers/workspace.js';

const NOW = '2026-05-01T12:00:00.000Z';
const simulator = { seed: 5, rate_per_minute: 6, bad_record_rate: 0.003, faults: { duplicate_share: 0.01 } };

describe('aetl run windows larger than a package', () => {
  const whole = new Workspace();
  const split = new Workspace();
  afterAll(() => [whole, split].forEach((w) => w.remove()));

  it('load in several packages, move the checkpoint with the last, and give the same warehouse and lake', async () => {
    for (const [w, packageRecords] of [
      [whole, 250_000],
      [split, 1000],
    ] as const) {
      const config = w.writeConfig({
        source: { kind: 'simulator', simulator },
        staging: { package_records: packageRecords },
      });
      const run = await aetl(['run', '--config', config], { AETL_NOW: NOW });
      expect(run.code, run.stderr).toBe(0);
    }
    const packages = async (w: Workspace) =>
      query(
        w.warehouse,
        `SELECT count(*) AS packages, count(DISTINCT window_start) AS windows,
                count(*) FILTER (WHERE checkpoint_moved) AS moved, count(*) FILTER (WHERE source_count IS NOT NULL) AS counted
         FROM etl_run_window`,
      );
    const [w] = await packages(whole);
    const [s] = await packages(split);
    expect(s!.windows).toBe(w!.windows);
    expect(w!.packages).toBe(w!.windows);
    expect(Number(s!.packages)).toBeGreaterThanOrEqual(Number(s!.windows) * 2);
    // Only each window's last package carries the source count and moves the checkpoint.
    expect(s!.moved).toBe(s!.windows);
    expect(s!.counted).toBe(s!.windows);
    expect(await warehouseSnapshot(split.warehouse)).toEqual(await warehouseSnapshot(whole.warehouse));
    expect(await lakeSnapshot(split.lake)).toEqual(await lakeSnapshot(whole.lake));
  }, 120_000);
});
