import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aetl } from '../helpers/cli.js';
import { query } from '../helpers/duckdb.js';
import { lakeSnapshot, warehouseSnapshot } from '../helpers/snapshot.js';
import { Workspace } from '../helpers/workspace.js';
import { jsonLines, shapeA } from '../helpers/events.js';

interface Summary {
  run_id: string;
  exit_code: number;
  detail: { examined: number; replayed: number; still_rejected: number; truncated: number };
}

describe('aetl rejects: fix the contract, then replay the quarantine', () => {
  const ws = new Workspace();
  let config: string;
  const base = {
    source: { kind: 'files', files: ws.path('events.jsonl') },
    checks: { max_reject_rate: 0.5 },
  };
  // Three records carry a decision value the vendor added later; one is broken for good.
  const warned = ['evt-w1', 'evt-w2', 'evt-w3'];

  beforeAll(async () => {
    const lines = [
      ...Array.from({ length: 6 }, (_, i) => shapeA(`evt-${i}`, i)),
      ...warned.map((id, i) => shapeA(id, 10 + i, { decision: 'warned' })),
      shapeA('evt-bad', 20, { input_tokens: -5 }),
    ];
    writeFileSync(ws.path('events.jsonl'), jsonLines(lines));
    config = ws.writeConfig(base);
    const run = await aetl(['run', '--config', config]);
    expect(run.code, run.stderr).toBe(0);
  }, 60_000);
  afterAll(() => ws.remove());

  it('lists the quarantine, filtered by reason and by run', async () => {
    const all = await aetl(['rejects', 'list', '--json', '--config', config]);
    expect(all.code, all.stderr).toBe(0);
    const { rejects: rows } = JSON.parse(all.stdout) as {
      rejects: { event_id: string; field: string; run_id: string; source_ref: string }[];
    };
    expect(rows.map((r) => r.event_id).sort()).toEqual(['evt-bad', ...warned]);
    const byDecision = await aetl(['rejects', 'list', '--reason', 'DECISION', '--json', '--config', config]);
    const { rejects: decisionRows } = JSON.parse(byDecision.stdout) as {
      rejects: { event_id: string; field: string }[];
    };
    expect(decisionRows.map((r) => r.event_id).sort()).toEqual(warned);
    expect(decisionRows.every((r) => r.field === 'decision')).toBe(true);
    const ofOtherRun = await aetl(['rejects', 'list', '--run', 'no-such-run', '--json', '--config', config]);
    expect(JSON.parse(ofOtherRun.stdout)).toEqual({ rejects: [], exit_code: 0 });
    const human = await aetl(['rejects', 'list', '--config', config]);
    expect(human.stdout).toContain('line 7');
  });

  it('refuses without --run or --all (exit 2)', async () => {
    const refused = await aetl(['rejects', 'replay', '--config', config]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('pass either --run ID or --all');
  });

  it('loads the 3 rejects once the contract accepts their decision; a second replay changes nothing', async () => {
    const before = await query(ws.warehouse, 'SELECT count(*)::INTEGER AS n FROM fact_ai_event');
    expect(before[0]!.n).toBe(6);

    // Replaying before the fix loads nothing: the contract still refuses them.
    const early = await aetl(['rejects', 'replay', '--all', '--json', '--config', config]);
    expect(early.code, early.stderr).toBe(0);
    expect((JSON.parse(early.stdout) as Summary).detail).toEqual({
      examined: 4,
      replayed: 0,
      still_rejected: 4,
      truncated: 0,
    });

    config = ws.writeConfig({ ...base, contract: { decision_aliases: { warned: 'allow' } } });
    const replay = await aetl(['rejects', 'replay', '--all', '--json', '--config', config]);
    expect(replay.code, replay.stderr).toBe(0);
    const summary = JSON.parse(replay.stdout) as Summary;
    expect(summary.detail).toEqual({ examined: 4, replayed: 3, still_rejected: 1, truncated: 0 });

    const facts = await query(
      ws.warehouse,
      `SELECT event_id, decision, run_id, input_tokens::INTEGER AS input_tokens FROM fact_ai_event
       WHERE event_id LIKE 'evt-w%' ORDER BY 1`,
    );
    expect(facts).toEqual(
      warned.map((id, i) => ({ event_id: id, decision: 'allow', run_id: summary.run_id, input_tokens: 110 + i })),
    );
    const policies = await query(
      ws.warehouse,
      "SELECT count(*)::INTEGER AS n FROM fact_policy_evaluation WHERE event_id LIKE 'evt-w%'",
    );
    expect(policies[0]!.n).toBe(3);

    // Marked, never deleted: the quarantine still holds all four, three of them replayed by this run.
    const quarantine = await query(
      ws.warehouse,
      'SELECT event_id, replayed_run_id, replayed_at IS NOT NULL AS replayed FROM etl_rejected_event ORDER BY 1',
    );
    expect(quarantine).toEqual([
      { event_id: 'evt-bad', replayed_run_id: null, replayed: false },
      ...warned.map((id) => ({ event_id: id, replayed_run_id: summary.run_id, replayed: true })),
    ]);
    const status = await aetl(['status', '--json', '--config', config]);
    expect((JSON.parse(status.stdout) as { rejects: number }).rejects).toBe(1);

    // The lake partition of that day was rewritten with them.
    const lake = await lakeSnapshot(ws.lake);
    expect(lake.fact_ai_event!.filter((row) => row.includes('"evt-w')).length).toBe(3);

    const warehouse = await warehouseSnapshot(ws.warehouse);
    const again = await aetl(['rejects', 'replay', '--all', '--json', '--config', config]);
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as Summary).detail).toEqual({
      examined: 1,
      replayed: 0,
      still_rejected: 1,
      truncated: 0,
    });
    expect(await warehouseSnapshot(ws.warehouse)).toEqual(warehouse);
    expect(await lakeSnapshot(ws.lake)).toEqual(lake);
  });
});

describe('aetl rejects replay with privacy on: a masked user id is not judged again', () => {
  const ws = new Workspace();
  afterAll(() => ws.remove());

  it('keeps a record refused for its user id (stored as a pseudonym) in quarantine, and loads the fixed one', async () => {
    writeFileSync(
      ws.path('events.jsonl'),
      jsonLines([
        shapeA('p-1', 1),
        shapeA('p-2', 2, { user_id: 42 }), // refused: a user id must be text; stored with the pseudonym of "42"
        shapeA('p-3', 3, { decision: 'warned' }),
      ]),
    );
    const privacy = { pseudonymize_users: true, key: 'replay-test-pseudonym-key-0123456789' };
    const base = { source: { kind: 'files', files: ws.path('events.jsonl') }, checks: { max_reject_rate: 1 }, privacy };
    const run = await aetl(['run', '--config', ws.writeConfig(base)]);
    expect(run.code, run.stderr).toBe(0);
    const [stored] = await query(ws.warehouse, "SELECT payload FROM etl_rejected_event WHERE event_id = 'p-2'");
    expect(JSON.parse(String(stored!.payload)).user_id).toMatch(/^u_[0-9a-f]{32}$/);

    const config = ws.writeConfig({ ...base, contract: { decision_aliases: { warned: 'allow' } } });
    const replay = await aetl(['rejects', 'replay', '--all', '--json', '--config', config]);
    expect(replay.code, replay.stderr).toBe(0);
    expect((JSON.parse(replay.stdout) as Summary).detail).toEqual({
      examined: 2,
      replayed: 1,
      still_rejected: 1,
      truncated: 0,
    });
    const facts = await query(ws.warehouse, 'SELECT event_id FROM fact_ai_event ORDER BY 1');
    expect(facts.map((r) => r.event_id)).toEqual(['p-1', 'p-3']);
    // The replayed event's user is pseudonymised once, like the one loaded directly.
    const users = await query(
      ws.warehouse,
      'SELECT DISTINCT u.user_id FROM fact_ai_event f JOIN dim_user u USING (user_key)',
    );
    expect(users).toHaveLength(1);
  });
});

describe('aetl rejects replay in pages', () => {
  const ws = new Workspace();
  afterAll(() => ws.remove());

  it('replays a quarantine larger than a package in bounded pages, each one package, none skipped or repeated', async () => {
    const count = 2_500;
    writeFileSync(
      ws.path('events.jsonl'),
      jsonLines(Array.from({ length: count }, (_, i) => shapeA(`pg-${i}`, i % 60, { decision: 'warned' }))),
    );
    const base = {
      source: { kind: 'files', files: ws.path('events.jsonl') },
      checks: { max_reject_rate: 1 },
      staging: { path: 'staging', package_records: 1000 },
    };
    const run = await aetl(['run', '--config', ws.writeConfig(base)]);
    expect(run.code, run.stderr).toBe(0);
    const config = ws.writeConfig({ ...base, contract: { decision_aliases: { warned: 'allow' } } });
    const replay = await aetl(['rejects', 'replay', '--all', '--json', '--config', config]);
    expect(replay.code, replay.stderr).toBe(0);
    const summary = JSON.parse(replay.stdout) as Summary;
    expect(summary.detail).toEqual({ examined: count, replayed: count, still_rejected: 0, truncated: 0 });
    const packages = await query(
      ws.warehouse,
      `SELECT inserted::INTEGER AS n FROM etl_run_window WHERE run_id = '${summary.run_id}' ORDER BY seq`,
    );
    expect(packages).toEqual([{ n: 1000 }, { n: 1000 }, { n: 500 }]);
    const [facts] = await query(ws.warehouse, 'SELECT count(DISTINCT event_id)::INTEGER AS n FROM fact_ai_event');
    expect(facts!.n).toBe(count);
    const [marked] = await query(
      ws.warehouse,
      `SELECT count(*)::INTEGER AS n FROM etl_rejected_event WHERE replayed_run_id = '${summary.run_id}'`,
    );
    expect(marked!.n).toBe(count);
  });
});
