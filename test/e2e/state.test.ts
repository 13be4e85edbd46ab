import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aetl } from '../helpers/cli.js';
import { query } from '../helpers/duckdb.js';
import { Workspace } from '../helpers/workspace.js';

const NOW = '2026-06-10T06:00:00Z';

describe('aetl state: show, set-checkpoint, reset', () => {
  const ws = new Workspace();
  let config: string;
  let checkpoint: string;
  let facts: number;

  beforeAll(async () => {
    config = ws.writeConfig({ source: { kind: 'simulator', simulator: { seed: 6, rate_per_minute: 2 } } });
    const run = await aetl(['run', '--config', config], { AETL_NOW: NOW });
    expect(run.code, run.stderr).toBe(0);
    const [row] = await query(ws.warehouse, 'SELECT count(*) AS n FROM fact_ai_event');
    facts = Number(row!.n);
  }, 60_000);
  afterAll(() => ws.remove());

  it('show reports the checkpoint and the last window', async () => {
    const shown = await aetl(['state', 'show', '--json', '--config', config], { AETL_NOW: NOW });
    expect(shown.code, shown.stderr).toBe(0);
    const state = JSON.parse(shown.stdout) as { checkpoint: string; last_window: { to: string }; ledger_files: number };
    expect(state.checkpoint).toBe('2026-06-10T05:58:00.000Z');
    expect(state.last_window.to).toBe(state.checkpoint);
    expect(state.ledger_files).toBe(0);
    checkpoint = state.checkpoint;
  });

  it('changes nothing without --yes when there is no terminal to ask on (exit 2)', async () => {
    for (const args of [['reset'], ['set-checkpoint', '2026-06-09']]) {
      const refused = await aetl(['state', ...args, '--config', config], { AETL_NOW: NOW });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('pass --yes to confirm');
    }
    const [row] = await query(
      ws.warehouse,
      "SELECT strftime(checkpoint, '%Y-%m-%dT%H:%M:%S.000Z') AS c FROM etl_state",
    );
    expect(row!.c).toBe(checkpoint);
  });

  it('set-checkpoint backwards, then run: the span is read again, nothing loads twice; recorded in the run ledger', async () => {
    const back = '2026-06-10T00:00:00Z';
    const set = await aetl(['state', 'set-checkpoint', back, '--yes', '--config', config], { AETL_NOW: NOW });
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain(`checkpoint ${checkpoint} -> 2026-06-10T00:00:00.000Z`);
    const rerun = await aetl(['run', '--json', '--config', config], { AETL_NOW: NOW });
    expect(rerun.code, rerun.stderr).toBe(0);
    const summary = JSON.parse(rerun.stdout) as { totals: { inserted: number; already_present: number } };
    expect(summary.totals.inserted).toBe(0);
    expect(summary.totals.already_present).toBeGreaterThan(300);
    const [row] = await query(ws.warehouse, 'SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM fact_ai_event');
    expect(Number(row!.n)).toBe(facts);
    expect(row!.ids).toBe(row!.n);
    const ledger = await query(ws.warehouse, "SELECT status FROM etl_run WHERE command = 'state'");
    expect(ledger).toEqual([{ status: 'succeeded' }]);
  });

  it('reset --yes forgets the checkpoint', async () => {
    const reset = await aetl(['state', 'reset', '--yes', '--config', config], { AETL_NOW: NOW });
    expect(reset.code, reset.stderr).toBe(0);
    expect(await query(ws.warehouse, 'SELECT * FROM etl_state')).toEqual([]);
  });
});
