import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { aetl, spawnAetl } from '../helpers/cli.js';
import { query } from '../helpers/duckdb.js';
import { Workspace } from '../helpers/workspace.js';

const NOW = '2026-06-10T06:00:00Z';
/** Slow pages make a first run (24 hours of events) last a few seconds: longer than a one-second cron. */
const slowSource = (slowPageMs: number) => ({
  kind: 'simulator',
  page_size: 50,
  simulator: { seed: 8, rate_per_minute: 1, faults: { slow_page_ms: slowPageMs } },
});
const EVERY_SECOND = '* * * * * *';
const NEW_YEAR = '0 0 1 1 *';

const workspaces: Workspace[] = [];
afterEach(() => workspaces.splice(0).forEach((w) => w.remove()));

function workspace(schedule: Record<string, unknown>, slowPageMs = 60): { ws: Workspace; config: string } {
  const ws = new Workspace();
  workspaces.push(ws);
  return { ws, config: ws.writeConfig({ source: slowSource(slowPageMs), schedule }) };
}

const runs = (ws: Workspace) =>
  query(
    ws.warehouse,
    'SELECT command, status, epoch_ms(started_at) AS started, epoch_ms(finished_at) AS finished FROM etl_run ORDER BY started_at',
  );

const message = (text: string) => (r: Record<string, unknown>) => r.msg === text;

describe('aetl schedule', () => {
  it('fires that would overlap run once: a fire while the job runs is dropped, runs never overlap', async () => {
    const { ws, config } = workspace({
      heartbeat: '1s',
      jobs: { incremental: { cron: EVERY_SECOND, command: 'run' } },
    });
    const scheduler = spawnAetl(['schedule', '--config', config], { AETL_NOW: NOW });
    await scheduler.waitForLog(message('fire skipped: the previous run of this job is still going'));
    await scheduler.waitForLog(message('job finished'));
    await scheduler.waitForLog(message('scheduler heartbeat'));
    scheduler.signal('SIGTERM');
    const exit = await scheduler.done;
    expect(exit.code, exit.stderr).toBe(0);

    const ledger = await runs(ws);
    const started = scheduler.logs().filter(message('job started'));
    expect(ledger.length).toBe(started.length);
    expect(ledger.every((r) => r.status === 'succeeded')).toBe(true);
    for (let i = 1; i < ledger.length; i++) {
      expect(Number(ledger[i]!.started), 'two runs overlapped').toBeGreaterThanOrEqual(Number(ledger[i - 1]!.finished));
    }
    expect(existsSync(`${ws.warehouse}.lock`)).toBe(false);
    const [ids] = await query(ws.warehouse, 'SELECT count(*) - count(DISTINCT event_id) AS dups FROM fact_ai_event');
    expect(ids!.dups).toBe(0n);
  }, 60_000);

  it('SIGTERM during a job: no new fires, the job stops at a safe point after stop_timeout, lock released, state consistent', async () => {
    const { ws, config } = workspace(
      { stop_timeout: '1s', jobs: { incremental: { cron: EVERY_SECOND, command: 'run' } } },
      150,
    );
    const scheduler = spawnAetl(['schedule', '--config', config], { AETL_NOW: NOW });
    await scheduler.waitForLog(message('job started'));
    await sleep(300);
    scheduler.signal('SIGTERM');
    const exit = await scheduler.done;
    expect(exit.code, exit.stderr).toBe(0);
    const logs = scheduler.logs();
    expect(logs.some(message('stopping: letting the running job finish'))).toBe(true);
    expect(logs.some(message('scheduler stopped'))).toBe(true);
    expect(logs.filter(message('job started'))).toHaveLength(1);
    expect(existsSync(`${ws.warehouse}.lock`)).toBe(false);
    // The run was asked to stop (it takes longer than stop_timeout): recorded as failed, never left running.
    const [run] = await runs(ws);
    expect(run).toMatchObject({ command: 'run', status: 'failed' });

    // The same events served without the slow pages: the re-run need not outlast a stop_timeout.
    const fast = ws.writeConfig({ source: slowSource(0) }, 'fast.yaml');
    const rerun = await aetl(['run', '--config', fast], { AETL_NOW: NOW });
    expect(rerun.code, rerun.stderr).toBe(0);
    const [ids] = await query(ws.warehouse, 'SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM fact_ai_event');
    expect(ids!.n).toBe(ids!.ids);
    expect(Number(ids!.n)).toBeGreaterThan(1000);
  }, 60_000);

  it('after downtime, a job that missed fires runs once (not once per fire); one that missed none does not', async () => {
    const { ws, config } = workspace(
      {
        jobs: {
          incremental: { cron: NEW_YEAR, command: 'run' },
          check: { cron: NEW_YEAR, command: 'check' },
          reconcile: { cron: NEW_YEAR, command: 'reconcile', catch_up: false },
        },
      },
      0,
    );
    const longAgo = new Date(Date.now() - 800 * 86_400_000).toISOString(); // two new years missed
    mkdirSync(ws.path('staging'), { recursive: true });
    writeFileSync(
      ws.path('staging', 'schedule-default.json'),
      JSON.stringify({ last_fired: { incremental: longAgo, check: new Date().toISOString(), reconcile: longAgo } }),
    );
    const scheduler = spawnAetl(['schedule', '--config', config], { AETL_NOW: NOW });
    await scheduler.waitForLog(message('job finished'));
    await sleep(1500);
    scheduler.signal('SIGTERM');
    const exit = await scheduler.done;
    expect(exit.code, exit.stderr).toBe(0);
    const catchUps = scheduler
      .logs()
      .filter(message('catching up: running once for the fires missed while the scheduler was down'));
    expect(catchUps.map((r) => r.job)).toEqual(['incremental']);
    expect((await runs(ws)).map((r) => [r.command, r.status])).toEqual([['run', 'succeeded']]);
  }, 60_000);

  it('--list prints the next fire times; --once runs one job through the same path; an unknown job is exit 2', async () => {
    const { config } = workspace({ jobs: { incremental: { cron: '*/15 * * * *', command: 'run' } } }, 0);
    const list = await aetl(['schedule', '--list', '--json', '--config', config]);
    expect(list.code, list.stderr).toBe(0);
    const {
      jobs: [job],
    } = JSON.parse(list.stdout) as { jobs: { job: string; next: string[] }[] };
    expect(job!.job).toBe('incremental');
    expect(job!.next).toHaveLength(3);
    expect(job!.next.every((t) => new Date(t).getUTCMinutes() % 15 === 0 && Date.parse(t) > Date.now())).toBe(true);

    const once = await aetl(['schedule', '--once', 'incremental', '--config', config], { AETL_NOW: NOW });
    expect(once.code, once.stderr).toBe(0);
    expect(once.stdout).toContain('SUCCEEDED');
    const unknown = await aetl(['schedule', '--once', 'nightly', '--config', config]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no job "nightly" in schedule.jobs (jobs: incremental)');
  });
});
