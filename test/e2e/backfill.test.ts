import { afterAll, describe, expect, it } from 'vitest';
import { aetl } from '../helpers/cli.js';
import { query, scalar } from '../helpers/duckdb.js';
import { lakeSnapshot, warehouseSnapshot } from '../helpers/snapshot.js';
import { Workspace } from '../helpers/workspace.js';

const NOW = '2026-08-20T12:00:00Z';
const overrides = {
  source: { kind: 'simulator', page_size: 500, simulator: { seed: 77, rate_per_minute: 0.5, bad_record_rate: 0.002 } },
  window: { initial_start: '2026-08-20T06:00:00Z' },
  // Daily runs cut a day differently from a backfill (their windows re-read a lookback): two bad records in one
  // 6-hour window of ~180 must not fail one of them where the backfill's day passes.
  checks: { max_reject_rate: 0.05 },
};
const days = [
  '2026-08-10',
  '2026-08-11',
  '2026-08-12',
  '2026-08-13',
  '2026-08-14',
  '2026-08-15',
  '2026-08-16',
  '2026-08-17',
];
const workspaces: Workspace[] = [];
afterAll(() => workspaces.forEach((w) => w.remove()));

async function incrementalFirst(): Promise<{ ws: Workspace; config: string; checkpoint: unknown }> {
  const ws = new Workspace();
  workspaces.push(ws);
  const config = ws.writeConfig(overrides);
  const run = await aetl(['run', '--config', config], { AETL_NOW: NOW });
  expect(run.code, run.stderr).toBe(0);
  return { ws, config, checkpoint: await scalar(ws.warehouse, 'SELECT checkpoint::VARCHAR FROM etl_state') };
}

describe('backfill', () => {
  it(
    '7 days with --parallel 2 equal 7 sequential daily runs; the checkpoint does not move; a re-run skips done days',
    {
      timeout: 150_000, // fourteen runs plus a backfill: ~45 s alone on 2 cores, more when CI is busy
    },
    async () => {
      const parallel = await incrementalFirst();
      // The daily runs read from a lookback (1 h) before their day: the backfill starts there too.
      const bf = await aetl(
        [
          'backfill',
          '--from',
          '2026-08-09T23:00:00Z',
          '--to',
          days[7]!,
          '--parallel',
          '2',
          '--config',
          parallel.config,
        ],
        {
          AETL_NOW: NOW,
        },
      );
      expect(bf.code, bf.stderr).toBe(0);
      expect(await scalar(parallel.ws.warehouse, 'SELECT checkpoint::VARCHAR FROM etl_state')).toBe(
        parallel.checkpoint,
      );

      const sequential = await incrementalFirst();
      for (let i = 0; i < 7; i++) {
        const run = await aetl(['run', '--from', days[i]!, '--to', days[i + 1]!, '--config', sequential.config], {
          AETL_NOW: NOW,
        });
        expect(run.code, run.stderr).toBe(0);
      }
      expect(await scalar(sequential.ws.warehouse, 'SELECT checkpoint::VARCHAR FROM etl_state')).toBe(
        sequential.checkpoint,
      );

      const a = await warehouseSnapshot(parallel.ws.warehouse, true);
      const b = await warehouseSnapshot(sequential.ws.warehouse, true);
      expect(a.fact_ai_event!.length).toBeGreaterThan(4000);
      expect(a).toEqual(b);
      expect(await lakeSnapshot(parallel.ws.lake)).toEqual(await lakeSnapshot(sequential.ws.lake));
      const backfilled = await query(
        parallel.ws.warehouse,
        `SELECT strftime(window_start, '%Y-%m-%d') AS day, (window_end - window_start)::VARCHAR AS span FROM etl_run_window w
       JOIN etl_run r USING (run_id) WHERE r.command = 'backfill' ORDER BY 1`,
      );
      expect(backfilled).toEqual([
        { day: '2026-08-09', span: '01:00:00' },
        ...days.slice(0, 7).map((day) => ({ day, span: '1 day' })),
      ]);

      const windowsBefore = await scalar(parallel.ws.warehouse, 'SELECT count(*)::INTEGER FROM etl_run_window');
      const again = await aetl(
        ['backfill', '--from', days[0]!, '--to', days[7]!, '--json', '--config', parallel.config],
        {
          AETL_NOW: NOW,
        },
      );
      expect(again.code).toBe(0);
      expect(JSON.parse(again.stdout).detail).toEqual({ days: 7, alreadyDone: 7, loaded: 0 });
      expect(await scalar(parallel.ws.warehouse, 'SELECT count(*)::INTEGER FROM etl_run_window')).toBe(windowsBefore);
    },
  );

  it('resumes after a crash: finished days are not loaded again', async () => {
    const { ws, config } = await incrementalFirst();
    const crashed = await aetl(
      ['backfill', '--from', days[0]!, '--to', days[4]!, '--parallel', '2', '--config', config],
      {
        AETL_NOW: NOW,
        AETL_FAILPOINT: 'load:after-commit:2',
      },
    );
    expect(crashed.code).toBeNull();
    const resumed = await aetl(['backfill', '--from', days[0]!, '--to', days[4]!, '--json', '--config', config], {
      AETL_NOW: NOW,
    });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout).detail).toEqual({ days: 4, alreadyDone: 2, loaded: 2 });
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

describe('run --from --to', () => {
  it('moves the checkpoint only when it is the next window, and is idempotent', async () => {
    const { ws, config, checkpoint } = await incrementalFirst();
    expect(checkpoint).toBe('2026-08-20 11:58:00+00');
    const earlier = await aetl(
      ['run', '--from', '2026-08-19T00:00:00Z', '--to', '2026-08-19T06:00:00Z', '--config', config],
      {
        AETL_NOW: '2026-08-20T18:00:00Z',
      },
    );
    expect(earlier.code, earlier.stderr).toBe(0);
    expect(await scalar(ws.warehouse, 'SELECT checkpoint::VARCHAR FROM etl_state')).toBe(checkpoint);
    const count = await scalar(ws.warehouse, 'SELECT count(*)::INTEGER FROM fact_ai_event');
    const repeat = await aetl(
      ['run', '--from', '2026-08-19T00:00:00Z', '--to', '2026-08-19T06:00:00Z', '--config', config],
      {
        AETL_NOW: '2026-08-20T18:00:00Z',
      },
    );
    expect(repeat.code).toBe(0);
    expect(await scalar(ws.warehouse, 'SELECT count(*)::INTEGER FROM fact_ai_event')).toBe(count);

    const next = await aetl(
      ['run', '--from', '2026-08-20T11:00:00Z', '--to', '2026-08-20T15:00:00Z', '--config', config],
      {
        AETL_NOW: '2026-08-20T18:00:00Z',
      },
    );
    expect(next.code, next.stderr).toBe(0);
    expect(await scalar(ws.warehouse, 'SELECT checkpoint::VARCHAR FROM etl_state')).toBe('2026-08-20 15:00:00+00');
  });
});
