import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { aetl, spawnAetl } from '../helpers/cli.js';
import { query, scalar } from '../helpers/duckdb.js';
import { Workspace } from '../helpers/workspace.js';

const NOW = '2026-06-10T06:00:00Z';
/** Slow pages make a run last a few seconds, long enough to overlap with another. */
const slowSource = {
  kind: 'simulator',
  page_size: 50,
  simulator: { seed: 8, rate_per_minute: 1, faults: { slow_page_ms: 60 } },
};

const start = (config: string) => spawnAetl(['run', '--config', config], { AETL_NOW: NOW });

async function waitForLock(path: string): Promise<void> {
  for (let i = 0; i < 200 && !existsSync(path); i++) await sleep(25);
  expect(existsSync(path), 'the first run never took the lock').toBe(true);
}

const workspaces: Workspace[] = [];
afterEach(() => workspaces.splice(0).forEach((w) => w.remove()));

describe('overlapping runs', () => {
  it('exactly one loads; the other exits 1 with the lock message, skips, or waits its turn', async () => {
    const ws = new Workspace();
    workspaces.push(ws);
    const config = ws.writeConfig({ source: slowSource });
    const first = start(config);
    await waitForLock(`${ws.warehouse}.lock`);

    const refused = await aetl(['run', '--config', config], { AETL_NOW: NOW });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/another run holds the lock .*warehouse\.duckdb\.lock \(run \S+, pid \d+/);

    const skipped = await aetl(['run', '--skip-if-locked', '--config', config], { AETL_NOW: NOW });
    expect(skipped.code).toBe(0);
    expect(skipped.stdout).toMatch(/SKIPPED/);

    const waited = aetl(['run', '--wait', '2m', '--config', config], { AETL_NOW: NOW });
    const firstResult = await first.done;
    expect(firstResult.code, firstResult.stderr).toBe(0);
    const second = await waited;
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('nothing new to load');

    const [row] = await query(
      ws.warehouse,
      'SELECT count(*)::INTEGER AS n, count(DISTINCT event_id)::INTEGER AS d FROM fact_ai_event',
    );
    expect(row!.n).toBe(row!.d);
    const statuses = await query(
      ws.warehouse,
      'SELECT status, count(*)::INTEGER AS n FROM etl_run GROUP BY ALL ORDER BY 1',
    );
    expect(statuses).toEqual([{ status: 'succeeded', n: 2 }]);
  });
});

describe('graceful stop', () => {
  it('SIGTERM stops at a safe point: exit 1, lock released, and a re-run completes without duplicates', async () => {
    const ws = new Workspace();
    workspaces.push(ws);
    const config = ws.writeConfig({ source: slowSource });
    const run = start(config);
    await waitForLock(`${ws.warehouse}.lock`);
    await sleep(1500);
    process.kill(run.child.pid!, 'SIGTERM');
    const stopped = await run.done;
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toMatch(/stopped by SIGTERM/);
    expect(existsSync(`${ws.warehouse}.lock`)).toBe(false);
    expect(await scalar(ws.warehouse, "SELECT count(*)::INTEGER FROM etl_run WHERE status = 'failed'")).toBe(1);

    const rerun = await aetl(['run', '--config', config], { AETL_NOW: NOW });
    expect(rerun.code, rerun.stderr).toBe(0);
    const [row] = await query(
      ws.warehouse,
      'SELECT count(*)::INTEGER AS n, count(DISTINCT event_id)::INTEGER AS d FROM fact_ai_event',
    );
    expect(row!.n).toBe(row!.d);
    expect(row!.n).toBeGreaterThan(1000);
  });
});
