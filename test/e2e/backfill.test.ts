import { afterAll, describe, expect, it } from 'vitest';
import { aetl } from '../helpers/cli.js';
import { query } from '../helpers/duckdb.js';
import { Workspace } from '../helpers/workspace.js';

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
 * incremental-engines.test.ts): resuming after a crash, and the range's limits.
 */
describe('backfill', () => {
  it('resumes after a crash: finished days are not loaded again', async () => {
    const { ws, config } = await incrementalFirst();
    const crashed = await aetl(
      ['backfill', '--from', '2026-08-10', '--to', '2026-08-14', '--parallel', '2', '--config', config],
      {
        AETL_NOW: NOW,
        AETL_FAILPOINT: 'load:after-commit:2',
      },
    );
    expect(crashed.code).toBeNull();
    const resumed = await aetl(
      ['backfill', '--from', '2026-08-10', '--to', '2026-08-14', '--json', '--config', config],
      {
        AETL_NOW: NOW,
      },
    );
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout).detail).toEqual({ days: 4, already_done: 2, loaded: 2 });
    const [row] = await query(
      ws.warehouse,
      'SELECT count(*)::INTEGER AS n, count(DISTINCT event_id)::INTEGER AS d FROM fact_ai_event',
    );
    expect(row!.n).toBe(row!.d);
  });

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
