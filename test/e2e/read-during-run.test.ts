import { existsSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { progressPath, readProgress, type RunProgress } from '../../src/state/run-progress.js';
import { aetl, spawnAetl, type RunningCli } from '../helpers/cli.js';
import { warehouseSnapshot } from '../helpers/snapshot.js';
import { workspacesForFile } from '../helpers/workspace.js';

/**
 * Issue 20: a DuckDB run holds its file only while it loads and commits a package, so the
 * commands that only read answer during a run (waiting, bounded, for a commit) instead of
 * failing, and `status` shows the run's progress from the file beside the database.
 */
const NOW = '2026-06-10T06:00:00Z';
const overrides = {
  // ~10,000 events in the smallest packages: a run of many loads, with rejects to list.
  source: { kind: 'simulator', simulator: { seed: 12, rate_per_minute: 30, bad_record_rate: 0.01 } },
  window: { initial_start: '2026-06-10T00:00:00Z' },
  staging: { path: 'staging', package_records: 1000 },
  checks: { max_reject_rate: 0.1 },
};
const env = { AETL_NOW: NOW };
const workspace = workspacesForFile();

/** Waits until the run has committed a package (its progress file says so). */
async function firstPackageLoaded(run: RunningCli, file: string): Promise<void> {
  for (const deadline = Date.now() + 90_000; Date.now() < deadline; await sleep(100)) {
    if (run.child.exitCode !== null) throw new Error(`the run ended early: ${(await run.done).stderr}`);
    if ((readProgress(file)?.packages_done ?? 0) >= 1) return;
  }
  throw new Error(`no package loaded after 90 s (${file})`);
}

describe('read-only commands during a DuckDB run', () => {
  it('status shows the running run; runs show, query, rejects list and doctor answer; the run loads as it would alone', async () => {
    const ws = workspace();
    const alone = workspace();
    const config = ws.writeConfig(overrides);
    const countSql = ws.path('count.sql');
    writeFileSync(countSql, 'SELECT count(*) AS n FROM fact_ai_event');
    const cli = (args: string[]) => aetl([...args, '--config', config], env, 120_000);

    const reference = aetl(['run', '--config', alone.writeConfig(overrides)], env, 240_000);
    const run = spawnAetl(['run', '--json', '--config', config], env);
    const progressFile = progressPath(ws.warehouse);
    await firstPackageLoaded(run, progressFile);

    const status = await cli(['--json', 'status']);
    expect(status.code, status.stderr).toBe(0);
    const running = (JSON.parse(status.stdout) as { running: RunProgress }).running;
    expect(running).toMatchObject({ command: 'run', pid: run.child.pid, host: hostname() });
    expect(running.packages_done).toBeGreaterThanOrEqual(1);
    expect(running.records_read).toBeGreaterThanOrEqual(1000);

    const [human, runs, query, rejects, doctor] = await Promise.all([
      cli(['status']),
      cli(['--json', 'runs', 'show', running.run_id]),
      cli(['query', countSql, '--format', 'csv']),
      cli(['--json', 'rejects', 'list']),
      cli(['--json', 'doctor']),
    ]);
    for (const [name, result] of Object.entries({ human, runs, query, rejects, doctor })) {
      expect(result.code, `${name}: ${result.stderr}`).toBe(0);
    }
    // Every reader answered while the run was still loading.
    expect(run.child.exitCode).toBeNull();
    expect(human.stdout).toContain(`running    run ${running.run_id} (pid ${run.child.pid} on ${hostname()}`);
    expect(JSON.parse(runs.stdout)).toMatchObject({ run: { run_id: running.run_id, status: 'running' } });
    const [header, count] = query.stdout.trim().split('\r\n'); // RFC 4180 lines
    expect(header).toBe('n');
    expect(Number(count)).toBeGreaterThan(0);
    expect((JSON.parse(rejects.stdout) as { rejects: unknown[] }).rejects.length).toBeGreaterThan(0);

    const finished = await run.done;
    expect(finished.code, finished.stderr).toBe(0);
    expect((JSON.parse(finished.stdout) as { run_id: string }).run_id).toBe(running.run_id);
    expect(existsSync(progressFile)).toBe(false);
    const after = await cli(['--json', 'status']);
    expect((JSON.parse(after.stdout) as { running: unknown }).running).toBeNull();

    expect((await reference).code).toBe(0);
    const loaded = await warehouseSnapshot(ws.warehouse);
    expect(loaded.fact_ai_event!.length).toBeGreaterThan(Number(count));
    expect(loaded).toEqual(await warehouseSnapshot(alone.warehouse));
  }, 300_000);
});
