import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { aetl, spawnAetl, stopped, type RunningCli } from '../helpers/cli.js';
import { workspacesForFile } from '../helpers/workspace.js';
import { BigQueryStandIn } from '../stand-ins/bigquery/server.js';

/**
 * The run lock across processes on one BigQuery warehouse (DESIGN.md decision
 * 18): real `aetl` processes, the real client, one stand-in. Processes on one
 * machine stand for hosts: the lease lives in the warehouse, not in a file.
 */
const NOW = '2026-05-01T12:00:00.000Z';
const TOKEN = 'ya29.lease-e2e-token';
const env = { AETL_NOW: NOW, BQ_TOKEN: TOKEN };

interface Summary {
  run_id: string;
  status: string;
  totals: { read: number; inserted: number; already_present: number; rejected: number; in_batch_duplicates: number };
}

describe('the run lock lease across processes (BigQuery stand-in)', () => {
  const workspace = workspacesForFile();
  const running: RunningCli[] = [];
  let standIn: BigQueryStandIn;

  beforeAll(async () => {
    standIn = await BigQueryStandIn.start(TOKEN);
  });
  afterAll(() => standIn.close());
  // A stopped process too: SIGKILL ends it whatever its state.
  afterEach(() => running.splice(0).forEach((run) => run.signal('SIGKILL')));

  const configFor = (dataset: string, overrides: Record<string, unknown>) =>
    workspace().writeConfig({
      warehouse: {
        kind: 'bigquery',
        project: 'aetl-test',
        dataset,
        api_endpoint: standIn.url,
        access_token: '${BQ_TOKEN}',
      },
      ...overrides,
    });
  /** A lease that runs out 3 s after its holder stops renewing it. */
  const shortLease = (dataset: string) =>
    configFor(dataset, {
      source: { kind: 'simulator', simulator: { seed: 5, rate_per_minute: 3 } },
      window: { initial_start: '2026-05-01T09:00:00Z' },
      lock: { lease: '3s' },
    });
  /**
   * Starts `command`, which stops itself at `failpoint` (a holder paused past its lease); then a run
   * waits out the lease (no heartbeat comes from a stopped process), takes over and loads.
   */
  async function pauseThenTakeOver(command: string, failpoint: string, config: string) {
    const paused = start([command, '--config', config], {
      AETL_FAILPOINT: failpoint,
      AETL_FAILPOINT_SIGNAL: 'SIGSTOP',
    });
    await stopped(paused);
    const second = await aetl(['run', '--wait', '30s', '--json', '--config', config], env);
    expect(second.code, second.stderr).toBe(0);
    return { paused, summary: JSON.parse(second.stdout) as Summary };
  }
  const start = (args: string[], extra: Record<string, string> = {}) => {
    const run = spawnAetl(args, { ...env, ...extra });
    running.push(run);
    return run;
  };
  const rows = (sql: string) => standIn.rows(sql);
  const facts = async (dataset: string) =>
    (await rows(`SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM ${dataset}.fact_ai_event`))[0]!;

  /** Resolves once someone holds a live lease on `dataset` (the table appears with the first run). */
  async function leaseTaken(dataset: string): Promise<void> {
    for (let i = 0; i < 600; i++) {
      const live = await rows(`SELECT 1 FROM ${dataset}.etl_lock WHERE expires_at > now()`).catch(() => []);
      if (live.length > 0) return;
      await sleep(50);
    }
    throw new Error('the first run never took the lease');
  }

  it('a second run exits 1 naming the holder, skips with --skip-if-locked, or waits its turn; one writer at a time', async () => {
    const config = configFor('overlap', {
      // Slow pages keep the first run busy for several seconds.
      source: {
        kind: 'simulator',
        page_size: 50,
        simulator: { seed: 8, rate_per_minute: 1, faults: { slow_page_ms: 150 } },
      },
      lock: { lease: '10s' },
    });
    const first = start(['run', '--config', config]);
    await leaseTaken('overlap');

    const [refused, skipped, waited] = await Promise.all([
      aetl(['run', '--config', config], env),
      aetl(['run', '--skip-if-locked', '--config', config], env),
      aetl(['run', '--wait', '2m', '--config', config], env, 120_000),
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /another run holds the lock etl_lock of pipeline default in BigQuery aetl-test\.overlap \(run \S+, pid \d+ on \S+, since \S+Z\)/,
    );
    expect(skipped.code, skipped.stderr).toBe(0);
    expect(skipped.stdout).toMatch(/SKIPPED/);
    const firstResult = await first.done;
    expect(firstResult.code, firstResult.stderr).toBe(0);
    expect(waited.code, waited.stderr).toBe(0);
    expect(waited.stdout).toContain('nothing new to load');

    const { n, d } = await facts('overlap');
    expect(n).toBe(d);
    expect(n).toBeGreaterThan(1000);
    // Two runs, one after the other: the second started once the first had finished; the lease passed on once.
    const runs = await rows(
      'SELECT status, epoch_ms(started_at) AS started, epoch_ms(finished_at) AS finished FROM overlap.etl_run ORDER BY started_at',
    );
    expect(runs.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
    expect(runs[1]!.started).toBeGreaterThanOrEqual(runs[0]!.finished as bigint);
    expect(await rows('SELECT token, expires_at <= now() AS released FROM overlap.etl_lock')).toEqual([
      { token: 2n, released: true },
    ]);
  });

  it('a paused holder whose lease ran out cannot commit after a takeover: the warehouse holds the second run only', async () => {
    const config = shortLease('paused');
    // The first run stops itself after its merge and checks, just before committing the window.
    const { paused, summary } = await pauseThenTakeOver('run', 'load:before-checkpoint', config);
    expect(await rows('SELECT owner, token FROM paused.etl_lock')).toEqual([{ owner: summary.run_id, token: 2n }]);
    const loaded = await facts('paused');

    paused.signal('SIGCONT');
    const resumed = await paused.done;
    expect(resumed.code).toBe(1);
    expect(resumed.stderr).toMatch(
      new RegExp(
        `the run lock lease of pipeline default was taken over by run ${summary.run_id}, pid \\d+ on \\S+, since \\S+ \\(token 2; this run had 1\\).*nothing of this transaction was committed`,
      ),
    );

    // Nothing of the first run's commit: the checkpoint and every window record are the second run's.
    expect(await facts('paused')).toEqual(loaded);
    expect(loaded.n).toBe(loaded.d);
    const { totals } = summary;
    expect(Number(loaded.n)).toBe(totals.inserted + totals.already_present);
    expect(Number(loaded.n)).toBe(totals.read - totals.rejected - totals.in_batch_duplicates);
    expect(await rows('SELECT run_id FROM paused.etl_state')).toEqual([{ run_id: summary.run_id }]);
    expect(await rows('SELECT DISTINCT run_id FROM paused.etl_run_window')).toEqual([{ run_id: summary.run_id }]);
    const runs = await rows('SELECT run_id, status, error FROM paused.etl_run ORDER BY started_at');
    expect(runs.map((r) => r.status)).toEqual(['failed', 'succeeded']);
    expect(String(runs[0]!.error)).toContain('taken over');
  });

  it('a paused rebuild-dims whose lease ran out commits nothing after a takeover: it fails, the next run stands', async () => {
    const config = shortLease('rekey');
    const first = await aetl(['run', '--config', config], env);
    expect(first.code, first.stderr).toBe(0);
    // Stopped inside its transaction, before its statements.
    const { paused, summary } = await pauseThenTakeOver('rebuild-dims', 'rebuild-dims:before-rekey', config);

    paused.signal('SIGCONT');
    const resumed = await paused.done;
    expect(resumed.code).toBe(1);
    expect(resumed.stderr).toMatch(/taken over by run .*nothing of this transaction was committed/);
    expect(await rows('SELECT owner, token FROM rekey.etl_lock')).toEqual([{ owner: summary.run_id, token: 3n }]);
    const runs = await rows('SELECT command, status FROM rekey.etl_run ORDER BY started_at');
    expect(runs).toEqual([
      { command: 'run', status: 'succeeded' },
      { command: 'rebuild-dims', status: 'failed' },
      { command: 'run', status: 'succeeded' },
    ]);
  });
});
