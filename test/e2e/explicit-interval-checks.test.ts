import { afterAll, describe, expect, it } from 'vitest';
import { aetl } from '../helpers/cli.js';
import { query } from '../helpers/duckdb.js';
import { Workspace } from '../helpers/workspace.js';

/**
 * A pipeline driven only as the shipped Airflow DAG drives it: `aetl run
 * --from --to` once per 15-minute data interval, three minutes after the
 * interval ends (AETL_NOW stands in for the clock).
 */
const QUARTER = 15 * 60_000;
const workspaces: Workspace[] = [];
afterAll(() => workspaces.forEach((w) => w.remove()));

interface Result {
  name: string;
  status: string;
  expected: string | null;
  bucket?: number | null;
}

async function interval(config: string, from: string, now?: string): Promise<Result[]> {
  const to = new Date(Date.parse(from) + QUARTER).toISOString();
  const run = await aetl(['run', '--from', from, '--to', to, '--json', '--config', config], {
    AETL_NOW: now ?? new Date(Date.parse(to) + 3 * 60_000).toISOString(),
  });
  expect(run.code, run.stderr.slice(-1000)).toBe(0);
  return (JSON.parse(run.stdout) as { checks: Result[] }).checks;
}

const quarters = (from: string, count: number) =>
  Array.from({ length: count }, (_, i) => new Date(Date.parse(from) + i * QUARTER).toISOString());

describe('explicit intervals (the Airflow DAG) get freshness and anomaly checks', () => {
  it('a fresh pipeline: freshness from the first interval on, anomaly verdicts once there is history', async () => {
    const ws = new Workspace();
    workspaces.push(ws);
    // The configured schedule says hourly; the orchestrator's own 15-minute interval is what freshness expects.
    const config = ws.writeConfig({
      source: { kind: 'simulator', page_size: 5000, simulator: { seed: 11, rate_per_minute: 2 } },
      checks: { freshness: { schedule_interval: '1h' }, anomalies: { per_gateway: false } },
    });

    const first = await interval(config, '2026-06-10T00:00:00.000Z');
    expect(first.find((c) => c.name === 'freshness')).toMatchObject({ status: 'pass', expected: '<= 1320 s' });
    // The lookback is applied like `run`, and the first interval sets the checkpoint (decision 18).
    expect(
      await query(
        ws.warehouse,
        `SELECT strftime(window_start, '%d %H:%M') AS s, strftime(window_end, '%d %H:%M') AS e FROM etl_run_window`,
      ),
    ).toEqual([{ s: '09 23:00', e: '10 00:15' }]);
    expect(await query(ws.warehouse, `SELECT strftime(checkpoint, '%d %H:%M') AS c FROM etl_state`)).toEqual([
      { c: '10 00:15' },
    ]);
    for (const from of quarters('2026-06-10T00:15:00.000Z', 3)) await interval(config, from);
    expect(
      await query(
        ws.warehouse,
        `SELECT status, count(*)::INTEGER AS n FROM dq_check_result WHERE check_name = 'freshness' GROUP BY 1`,
      ),
    ).toEqual([{ status: 'pass', n: 4 }]);
    // 23:00 on the 9th was read by the first interval's lookback and is complete: judged, with no history yet.
    const judged = async (hour: string) =>
      query(
        ws.warehouse,
        `SELECT r.command, c.status FROM dq_check_result c JOIN etl_run r USING (run_id)
         WHERE c.check_name = 'anomaly_volume' AND c.bucket = TIMESTAMPTZ '${hour}'`,
      );
    expect(await judged('2026-06-09 23:00:00+00')).toEqual([{ command: 'run', status: 'insufficient_history' }]);

    // A week of history before it (a backfill never moves the checkpoint; it judges the hours it loaded).
    const backfill = await aetl(
      ['backfill', '--from', '2026-06-02', '--to', '2026-06-10', '--parallel', '2', '--config', config],
      { AETL_NOW: '2026-06-10T01:05:00Z' },
    );
    expect(backfill.code, backfill.stderr.slice(-1000)).toBe(0);
    expect(await judged('2026-06-09 22:00:00+00')).toEqual([{ command: 'backfill', status: 'pass' }]);
    expect(await judged('2026-06-09 23:00:00+00')).toHaveLength(1); // judged once, not again

    // The next intervals complete 00:00 on the 10th: judged by the interval that completed it, against 8 days.
    for (const from of quarters('2026-06-10T01:00:00.000Z', 4)) await interval(config, from);
    expect(await judged('2026-06-10 00:00:00+00')).toEqual([{ command: 'run', status: 'pass' }]);
    expect(await query(ws.warehouse, `SELECT strftime(checkpoint, '%d %H:%M') AS c FROM etl_state`)).toEqual([
      { c: '10 02:00' },
    ]);

    // Airflow clears an old interval: it is history, with no freshness verdict on data that was never meant to be new.
    const rerun = await interval(config, '2026-06-10T00:15:00.000Z', '2026-06-10T02:03:00Z');
    expect(rerun.map((c) => c.name)).not.toContain('freshness');
  }, 300_000);

  it('an interval larger than staging.package_records loads in packages, each event once, the checkpoint with the last', async () => {
    const ws = new Workspace();
    workspaces.push(ws);
    const config = ws.writeConfig({
      source: { kind: 'simulator', page_size: 500, simulator: { seed: 5, rate_per_minute: 30, bad_record_rate: 0 } },
      staging: { path: ws.path('staging'), package_records: 1000 },
    });
    const to = '2026-06-10T00:15:00.000Z';
    const run = await aetl(['run', '--from', '2026-06-10T00:00:00.000Z', '--to', to, '--json', '--config', config], {
      AETL_NOW: '2026-06-10T00:18:00.000Z',
    });
    expect(run.code, run.stderr.slice(-1000)).toBe(0);
    const summary = JSON.parse(run.stdout) as { windows: unknown[]; totals: { read: number } };
    // 75 minutes read (the lookback included) at ~30 a minute: three packages of at most 1,000.
    expect(summary.windows.length).toBe(Math.ceil(summary.totals.read / 1000));
    expect(summary.windows.length).toBeGreaterThanOrEqual(2);
    const [facts] = await query(
      ws.warehouse,
      'SELECT count(*)::INTEGER AS n, count(DISTINCT event_id)::INTEGER AS ids FROM fact_ai_event',
    );
    expect(facts).toEqual({ n: summary.totals.read, ids: summary.totals.read });
    expect(await query(ws.warehouse, `SELECT strftime(checkpoint, '%H:%M') AS c FROM etl_state`)).toEqual([
      { c: '00:15' },
    ]);
  }, 120_000);
});
