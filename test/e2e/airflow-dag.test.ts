import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { query } from '../helpers/duckdb.js';
import { REPO, Workspace } from '../helpers/workspace.js';

/**
 * Airflow is not installable here (no PyPI), so the DAG file is compiled with
 * python3 and loaded against a stand-in of the few Airflow names it uses
 * (test/stand-ins/airflow/), which records what it declares; its tasks' callable
 * is then called with their templates rendered, running the real CLI.
 */
const DAG = join(REPO, 'dags/aetl_incremental.py');
const INSPECT = join(REPO, 'test/stand-ins/airflow/inspect_dag.py');
const NOW = '2026-06-10T06:00:00Z';
const python = (args: string[], env: Record<string, string> = {}) =>
  execFileSync('python3', args, {
    encoding: 'utf8',
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', AETL_BIN: `node ${join(REPO, 'dist/cli/main.js')}`, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 120_000,
  });

interface Task {
  task_id: string;
  op_args: string[];
  op_kwargs: Record<string, string>;
  kwargs: Record<string, unknown>;
  downstream: string[];
}
interface Dag {
  dag_id: string;
  kwargs: Record<string, unknown> & { default_args: Record<string, unknown> };
  tasks: Task[];
}

describe('the Airflow DAG', () => {
  const workspaces: Workspace[] = [];
  afterAll(() => workspaces.forEach((w) => w.remove()));
  const workspace = (overrides: Record<string, unknown> = {}) => {
    const ws = new Workspace();
    workspaces.push(ws);
    return { ws, config: ws.writeConfig(overrides) };
  };
  /** Calls one task for the interval [start, end) as Airflow would; returns how it ended. */
  const callTask = (dag: string, task: string, start: string, end: string, config: string) => {
    const out = python([INSPECT, DAG, 'run', dag, task, start, end], { AETL_CONFIG: config, AETL_NOW: NOW });
    // The CLI's own summary comes first (in Airflow, the task log); the outcome is the last line.
    return JSON.parse(out.trim().split('\n').at(-1)!) as { ok: boolean; retried?: boolean; error?: string };
  };

  it('compiles, and declares one run per data interval, then its check, without overlap, with retries and backoff', () => {
    python(['-m', 'py_compile', DAG]);
    const dags = JSON.parse(python([INSPECT, DAG])) as Dag[];
    expect(dags.map((d) => d.dag_id)).toEqual(['aetl_incremental', 'aetl_reconcile']);
    const [incremental, nightly] = dags as [Dag, Dag];
    // A data-interval timetable: on Airflow 3 a cron string or timedelta gives zero-width intervals.
    expect(incremental.kwargs).toMatchObject({
      schedule: 'CronDataIntervalTimetable(*/15 * * * *, UTC)',
      catchup: false,
      max_active_runs: 1,
    });
    expect(incremental.kwargs.default_args).toMatchObject({
      retries: 3,
      retry_delay: { seconds: 120 },
      retry_exponential_backoff: true,
      max_retry_delay: { seconds: 1800 },
    });
    const [settled, load, check] = incremental.tasks as [Task, Task, Task];
    // Waits (without holding a worker) until the interval's end is settle_delay behind, so --to is never clipped.
    expect(settled).toMatchObject({
      task_id: 'settled',
      kwargs: { target_time: '{{ data_interval_end + macros.timedelta(minutes=3) }}', mode: 'reschedule' },
      downstream: ['load'],
    });
    const interval = ['--from', '{{ data_interval_start | ts }}', '--to', '{{ data_interval_end | ts }}'];
    expect(load).toMatchObject({
      task_id: 'load',
      op_args: ['run', ...interval, '--wait', '10m'],
      downstream: ['check'],
    });
    expect(check).toMatchObject({ task_id: 'check', op_args: ['check', ...interval, '--wait', '10m'] });
    for (const task of [load, check, ...nightly.tasks]) expect(task.kwargs.pool).toBe('aetl');
    expect(nightly.tasks.map((t) => t.op_args)).toEqual([['reconcile', '--days', '7', '--wait', '30m']]);
  });

  it('its load and check tasks run the CLI for the data interval (with the lookback)', async () => {
    const { ws, config } = workspace();
    const [start, end] = ['2026-06-10T05:30:00+00:00', '2026-06-10T05:45:00+00:00'];
    expect(callTask('aetl_incremental', 'load', start, end, config)).toEqual({ ok: true });
    expect(callTask('aetl_incremental', 'check', start, end, config)).toEqual({ ok: true });
    const windows = await query(
      ws.warehouse,
      `SELECT strftime(window_start, '%H:%M') AS s, strftime(window_end, '%H:%M') AS e FROM etl_run_window`,
    );
    // Read from an hour (the lookback) before the interval, like `run`, so late events are caught.
    expect(windows).toEqual([{ s: '04:30', e: '05:45' }]);
    const [facts] = await query(
      ws.warehouse,
      `SELECT count(*) AS n, count(*) FILTER (WHERE event_ts < TIMESTAMPTZ '${start}' - INTERVAL 1 HOUR OR event_ts >= '${end}') AS outside FROM fact_ai_event`,
    );
    expect(Number(facts!.n)).toBeGreaterThan(0);
    expect(facts!.outside).toBe(0n);
    // Airflow re-runs the same interval (a retry or a clear): nothing is added.
    expect(callTask('aetl_incremental', 'load', start, end, config)).toEqual({ ok: true });
    const [again] = await query(ws.warehouse, 'SELECT count(*) AS n FROM fact_ai_event');
    expect(again!.n).toBe(facts!.n);
  });

  it('exit 1 is retried; exit 3 (checks failed) and exit 2 (bad config) fail the task without retries', () => {
    const interval = ['2026-06-10T05:30:00+00:00', '2026-06-10T05:45:00+00:00'] as const;
    const down = workspace({
      source: { kind: 'events_api', url: 'http://127.0.0.1:9', token: 't', max_retries: 0 },
    }).config;
    expect(callTask('aetl_incremental', 'load', ...interval, down)).toMatchObject({ ok: false, retried: true });
    const lossy = workspace({
      source: { kind: 'simulator', simulator: { seed: 3, rate_per_minute: 20, faults: { lost_share: 0.2 } } },
    }).config;
    const failedChecks = callTask('aetl_incremental', 'load', ...interval, lossy);
    expect(failedChecks).toMatchObject({ ok: false, retried: false });
    expect(failedChecks.error).toContain('data-quality checks failed (exit 3)');
    const badConfig = callTask('aetl_incremental', 'load', ...interval, join(REPO, 'no-such-config.yaml'));
    expect(badConfig).toMatchObject({ ok: false, retried: false });
    expect(badConfig.error).toContain('bad config or usage (exit 2)');
  });
});
