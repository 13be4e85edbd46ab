import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aetl } from '../helpers/cli.js';
import { lakeSnapshot, warehouseSnapshot } from '../helpers/snapshot.js';
import { REPO, Workspace } from '../helpers/workspace.js';

/**
 * The kill matrix: a run killed (SIGKILL) at any step and then re-run must
 * leave the same warehouse and lake as a run that was never interrupted.
 */
const NOW = '2026-06-10T06:00:00Z';
const source = {
  kind: 'simulator',
  page_size: 100,
  simulator: {
    seed: 21,
    rate_per_minute: 2,
    bad_record_rate: 0.01,
    faults: { duplicate_share: 0.05, unordered: true },
  },
};
// Compaction after more than two files: the run compacts yesterday's partitions, so a crash can hit it too.
const overrides = { source, checks: { max_reject_rate: 0.05 }, lake: { path: 'lake', compact_after_files: 2 } };

type Snapshot = { warehouse: Record<string, string[]>; lake: Record<string, string[]> };

async function snapshot(ws: Workspace): Promise<Snapshot> {
  return { warehouse: await warehouseSnapshot(ws.warehouse), lake: await lakeSnapshot(ws.lake) };
}

/** Starts `aetl run` and SIGKILLs its process group after `delayMs`; resolves when it is gone. */
function killAfter(config: string, delayMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(REPO, 'dist/cli/main.js'), 'run', '--config', config], {
      env: { ...process.env, AETL_NOW: NOW },
      detached: true,
      stdio: 'ignore',
    });
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), delayMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

describe('crash at any step, then re-run = uninterrupted run', () => {
  const reference = new Workspace();
  let expected: Snapshot;
  const workspaces: Workspace[] = [];

  beforeAll(async () => {
    const run = await aetl(['run', '--config', reference.writeConfig(overrides)], { AETL_NOW: NOW });
    expect(run.code, run.stderr).toBe(0);
    expected = await snapshot(reference);
  });
  afterAll(() => [reference, ...workspaces].forEach((w) => w.remove()));

  it('the reference run loaded several windows, rejects, duplicates and a lake', () => {
    expect(expected.warehouse.fact_ai_event!.length).toBeGreaterThan(2000);
    expect(expected.warehouse.etl_rejected_event!.length).toBeGreaterThan(10);
    expect(expected.lake.fact_ai_event).toHaveLength(expected.warehouse.fact_ai_event!.length);
    expect(expected.warehouse.etl_lake_pending).toEqual([]);
  });

  const failpoints = [
    'extract:page:7', // mid-window, some pages staged
    'extract:after-manifest:2', // a complete package, not loaded
    'load:after-facts:3', // inside the load transaction, facts inserted
    'load:before-checkpoint:4', // merge done, checkpoint not yet moved
    'load:after-commit:2', // committed, lake not published
    'lake:after-export:5', // a partition written to .tmp, not swapped in
    'lake:after-rename:3', // a partition swapped in, its pending mark not cleared
    'lake:before-swap', // a compaction's merged version built beside the current one, not swapped in
    'lake:after-swap:2', // both tables' merged versions swapped in, the old one of the last not yet removed
    'run:before-finish', // everything done, run ledger still says running
  ];

  it.each(failpoints)('killed at %s', async (failpoint) => {
    const ws = new Workspace();
    workspaces.push(ws);
    const config = ws.writeConfig(overrides);
    const crashed = await aetl(['run', '--config', config], { AETL_NOW: NOW, AETL_FAILPOINT: failpoint });
    expect(crashed.code, `the failpoint ${failpoint} was not reached`).toBeNull();
    const rerun = await aetl(['run', '--config', config], { AETL_NOW: NOW });
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(await snapshot(ws)).toEqual(expected);
    const runs = await aetl(['status', '--json', '--config', config]);
    const statuses = (JSON.parse(runs.stdout) as { runs: { status: string }[] }).runs.map((r) => r.status);
    expect(statuses).toEqual(['succeeded', 'abandoned']);
  });

  it.each([900, 1700, 2600])('killed from outside with SIGKILL after %i ms', async (delayMs) => {
    const ws = new Workspace();
    workspaces.push(ws);
    const config = ws.writeConfig(overrides);
    await killAfter(config, delayMs);
    const rerun = await aetl(['run', '--config', config], { AETL_NOW: NOW });
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(await snapshot(ws)).toEqual(expected);
  });
});
