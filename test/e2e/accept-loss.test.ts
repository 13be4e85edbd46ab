import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aetl } from '../helpers/cli.js';
import { ENGINES, type EngineUnderTest } from '../helpers/engines.js';
import { Workspace } from '../helpers/workspace.js';

const NOW = '2026-06-10T06:00:00Z';
const FROM = '2026-06-10T00:00:00.000Z';
const TO = '2026-06-10T05:58:00.000Z'; // now − settle_delay: where a complete run moves the checkpoint

interface Summary {
  run_id: string;
  windows: { checks: { name: string; status: string; blocking: boolean; message: string }[] }[];
}

/**
 * Issue 20 item 5: a source that lost events for good blocks the checkpoint
 * (completeness) run after run; the failure says what to do, and an accepted
 * loss, recorded and shown by status, lets the next run move on. Every engine.
 */
describe.each(ENGINES)('a lossy source on $name', ({ start }) => {
  const ws = new Workspace();
  let engine: EngineUnderTest;
  let config: string;
  const cli = (args: string[]) => aetl([...args, '--config', config], { AETL_NOW: NOW, ...engine.env });

  beforeAll(async () => {
    engine = await start(ws);
    config = ws.writeConfig({
      source: { kind: 'simulator', simulator: { seed: 4, rate_per_minute: 1, faults: { lost_share: 0.2 } } },
      window: { initial_start: FROM },
      warehouse: engine.warehouse,
      checks: { anomalies: { enabled: false } },
    });
  });
  afterAll(async () => {
    await engine.close();
    ws.remove();
  });

  it('blocks and says how to accept the loss; once accepted, the run moves on and status shows it', async () => {
    const blocked = await cli(['run', '--json']);
    expect(blocked.code, blocked.stderr).toBe(3);
    const failing = (JSON.parse(blocked.stdout) as Summary).windows[0]!.checks.find((c) => c.name === 'completeness')!;
    expect(failing).toMatchObject({ status: 'fail', blocking: true });
    expect(failing.message).toContain(`aetl accept-loss --from ${FROM} --to 2026-06-10T`);
    expect(await engine.rows('SELECT count(*) AS n FROM {s}etl_state')).toEqual([{ n: 0n }]);

    const accepted = await cli([
      'accept-loss',
      '--from',
      FROM,
      '--to',
      TO,
      '--reason',
      'vendor outage',
      '--accepted-by',
      'ops',
    ]);
    expect(accepted.code, accepted.stderr).toBe(0);
    const moved = await cli(['run', '--json']);
    expect(moved.code, moved.stderr).toBe(0);
    const warned = (JSON.parse(moved.stdout) as Summary).windows
      .flatMap((w) => w.checks)
      .filter((c) => c.name === 'completeness');
    expect(warned.length).toBeGreaterThan(0);
    for (const check of warned) {
      expect(check).toMatchObject({ status: 'warn', blocking: false });
      expect(check.message).toMatch(/accepted loss "vendor outage" \(by ops, run \S+\)$/);
    }
    const status = await cli(['status', '--json']);
    const report = JSON.parse(status.stdout) as { checkpoint: string; accepted_losses: unknown[] };
    expect(report.checkpoint).toBe(TO);
    expect(report.accepted_losses).toEqual([
      { from: FROM, to: TO, reason: 'vendor outage', accepted_by: 'ops', run_id: expect.any(String) },
    ]);
    const human = await cli(['status']);
    expect(human.stdout).toContain(`accepted   loss ${FROM} → ${TO}: "vendor outage" (by ops)`);
  });
});
