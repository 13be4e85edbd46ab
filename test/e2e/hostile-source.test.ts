import { afterAll, describe, expect, it } from 'vitest';
import { simulatorSettingsFrom } from '../../src/config/schema.js';
import { EventUniverse } from '../../src/simulator/generator.js';
import { aetl } from '../helpers/cli.js';
import { query } from '../helpers/duckdb.js';
import { shippedReference, Workspace } from '../helpers/workspace.js';

/**
 * Property: whatever the hostile source does (late, duplicate, unordered
 * events; 429, 500, truncated bodies, expired cursors), a sequence of
 * scheduled runs followed by one reconcile ends with exactly the ground
 * truth: every valid event once, none missing, the cost exact to the micro-dollar.
 */
const HOUR = 3_600_000;
const T0 = Date.parse('2026-07-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const reference = shippedReference();
const workspaces: Workspace[] = [];
afterAll(() => workspaces.forEach((w) => w.remove()));

function hostile(seed: number) {
  return {
    seed,
    rate_per_minute: 1,
    bad_record_rate: 0.004,
    faults: {
      late_share: 0.15,
      late_max: '5h',
      duplicate_share: 0.08,
      unordered: true,
      http_429_rate: 0.04,
      http_500_rate: 0.04,
      truncated_body_rate: 0.03,
      expired_cursor_rate: 0.04,
    },
  };
}

// Seven CLI runs a seed: ~20 s on a quiet machine, past the default minute under the full suite on a busy one.
describe('exactly once under a hostile source', { timeout: 180_000 }, () => {
  it.each([101, 202, 303])('seed %i: scheduled runs + reconcile = ground truth', async (seed) => {
    const ws = new Workspace();
    workspaces.push(ws);
    const simulator = hostile(seed);
    const config = ws.writeConfig({
      source: { kind: 'simulator', page_size: 100, max_retries: 8, simulator },
      window: { initial_start: iso(T0 - 12 * HOUR), lookback: '1h', max_window: '4h' },
      checks: { max_reject_rate: 0.05 },
    });
    for (let hour = 0; hour <= 10; hour += 2) {
      const run = await aetl(['run', '--config', config], { AETL_NOW: iso(T0 + hour * HOUR) });
      expect(run.code, run.stderr.slice(-2000)).toBe(0);
    }
    const reconcileAt = T0 + 16 * HOUR;
    const rec = await aetl(['reconcile', '--days', '3', '--config', config], { AETL_NOW: iso(reconcileAt) });
    expect(rec.code, rec.stderr.slice(-2000)).toBe(0);

    const universe = new EventUniverse(simulatorSettingsFrom(simulator), reference);
    const checkpoint = T0 + 10 * HOUR - 2 * 60_000;
    const truth = universe.groundTruth(T0 - 12 * HOUR, checkpoint, reconcileAt);
    const ids = (await query(ws.warehouse, 'SELECT event_id FROM fact_ai_event ORDER BY 1')).map((r) => r.event_id);
    const expected = [...truth.validIds].sort();
    expect(ids.length).toBe(expected.length);
    expect(ids).toEqual(expected);
    const [sums] = await query(ws.warehouse, 'SELECT sum(cost_usd)::VARCHAR AS cost FROM fact_ai_event');
    expect(sums!.cost).toBe((Number(truth.costMicros) / 1e6).toFixed(6));

    // The late events were really late: the incremental runs alone had missed some, reconcile loaded them.
    expect(rec.stdout).toMatch(/repaired/);
    expect(rec.stdout).not.toMatch(/short/);
    const [repaired] = await query(
      ws.warehouse,
      `SELECT sum(w.inserted)::INTEGER AS n FROM etl_run_window w JOIN etl_run r USING (run_id) WHERE r.command = 'reconcile'`,
    );
    expect(repaired!.n).toBeGreaterThan(0);
  });
});
