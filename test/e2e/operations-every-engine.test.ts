import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIRST_VALID_FROM_MS, versionKey } from '../../src/transform/scd2.js';
import { aetl } from '../helpers/cli.js';
import { ENGINES, type EngineUnderTest } from '../helpers/engines.js';
import { jsonLines, shapeA } from '../helpers/events.js';
import { REFERENCE, Workspace } from '../helpers/workspace.js';

interface Summary {
  run_id: string;
  detail: Record<string, number>;
  checks: { name: string; status: string; observed: number | null }[];
}

const WARNED = ['evt-w1', 'evt-w2', 'evt-w3'];
const HISTORY_FROM = '2026-03-01';
const userKey = (fromMs: number) => versionKey('dim_user', 'user_002', fromMs);

/**
 * The day-2 commands on every engine, one body for all: the quarantine listed
 * and replayed after the contract learnt a value, the facts re-keyed after
 * reference data gained history, and unknown source fields in `aetl status`.
 */
describe.each(ENGINES)('rejects, rebuild-dims and drift on $name', ({ start }) => {
  const ws = new Workspace();
  let engine: EngineUnderTest;
  let firstRun: Summary;
  const configWith = (overrides: Record<string, unknown> = {}) =>
    ws.writeConfig({
      source: { kind: 'files', files: ws.path('events.jsonl') },
      warehouse: engine.warehouse,
      reference: { users: ws.path('users.csv'), gateways: ws.path('gateways.csv'), models: ws.path('models.csv') },
      checks: { max_reject_rate: 0.5 },
      ...overrides,
    });
  const cli = async <T = Summary>(args: string[], config = configWith()) => {
    const result = await aetl([...args, '--json', '--config', config], engine.env);
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as T;
  };

  beforeAll(async () => {
    engine = await start(ws);
    for (const name of ['users.csv', 'gateways.csv', 'models.csv']) copyFileSync(join(REFERENCE, name), ws.path(name));
    const lines = [
      ...Array.from({ length: 4 }, (_, i) => shapeA(`evt-${i}`, i, i < 2 ? { region_hint: 'eu' } : {})),
      shapeA('h-1', 0, { timestamp: '2026-02-10T08:00:00Z', user_id: 'user_002' }),
      shapeA('h-2', 0, { timestamp: '2026-03-10T08:00:00Z', user_id: 'user_002' }),
      // A decision value the vendor added later, and a record broken for good.
      ...WARNED.map((id, i) => shapeA(id, 10 + i, { decision: 'warned' })),
      shapeA('evt-bad', 20, { input_tokens: -5 }),
    ];
    writeFileSync(ws.path('events.jsonl'), jsonLines(lines));
    firstRun = await cli(['run']);
  }, 60_000);
  afterAll(async () => {
    await engine.close();
    ws.remove();
  });

  it('lists the quarantine and shows the unknown field in status, new to this run', async () => {
    expect(firstRun.checks.find((c) => c.name === 'schema_drift')).toMatchObject({ status: 'warn', observed: 1 });
    const { rejects: listed } = await cli<{ rejects: { event_id: string; replayed_at: null }[] }>(['rejects', 'list']);
    expect(listed.map((r) => r.event_id).sort()).toEqual(['evt-bad', ...WARNED]);
    expect(listed.every((r) => r.replayed_at === null)).toBe(true);
    const status = await cli<{ rejects: number; drift: unknown[] }>(['status']);
    expect(status.rejects).toBe(4);
    expect(status.drift).toMatchObject([{ field: 'region_hint', count: 2, example_type: 'string', new: true }]);
  });

  it('replays the quarantine once the contract accepts the value: loaded once, marked, never twice', async () => {
    const fixed = configWith({ contract: { decision_aliases: { warned: 'allow' } } });
    const replay = await cli(['rejects', 'replay', '--all'], fixed);
    expect(replay.detail).toEqual({ examined: 4, replayed: 3, still_rejected: 1, truncated: 0 });
    const loaded = `SELECT event_id, decision, run_id, count(*) OVER (PARTITION BY event_id) AS copies
                    FROM {s}fact_ai_event WHERE event_id LIKE 'evt-w%' ORDER BY 1`;
    const facts = WARNED.map((id) => ({ event_id: id, decision: 'allow', run_id: replay.run_id, copies: 1n }));
    expect(await engine.rows(loaded)).toEqual(facts);
    const marks = await engine.rows(
      'SELECT event_id, replayed_run_id, replayed_at IS NOT NULL AS marked FROM {s}etl_rejected_event ORDER BY 1',
    );
    expect(marks).toEqual([
      { event_id: 'evt-bad', replayed_run_id: null, marked: false },
      ...WARNED.map((id) => ({ event_id: id, replayed_run_id: replay.run_id, marked: true })),
    ]);

    const again = await cli(['rejects', 'replay', '--all'], fixed);
    expect(again.detail).toEqual({ examined: 1, replayed: 0, still_rejected: 1, truncated: 0 });
    expect(await engine.rows(loaded)).toEqual(facts);
    const { rejects: outstanding } = await cli<{ rejects: unknown[] }>(['rejects', 'list']);
    const { rejects: all } = await cli<{ rejects: { replayed_at: string | null }[] }>([
      'rejects',
      'list',
      '--replayed',
    ]);
    expect([outstanding.length, all.filter((r) => r.replayed_at !== null).length]).toEqual([1, 3]);
    expect((await cli<{ rejects: number }>(['status'])).rejects).toBe(1);
  });

  it('rebuild-dims points facts and policy rows at the member version valid at their event time', async () => {
    writeFileSync(
      ws.path('users.csv'),
      `${readFileSync(ws.path('users.csv'), 'utf8')}user_002,research,science,${HISTORY_FROM}\n`,
    );
    const rebuild = await cli(['rebuild-dims']);
    expect(rebuild.detail).toEqual({ rekeyed: 1 });
    const keys = (table: string) =>
      engine.rows(`SELECT event_id, user_key FROM {s}${table} WHERE event_id LIKE 'h-%' ORDER BY 1`);
    const expected = [
      { event_id: 'h-1', user_key: userKey(FIRST_VALID_FROM_MS) },
      { event_id: 'h-2', user_key: userKey(Date.parse(HISTORY_FROM)) },
    ];
    expect(await keys('fact_ai_event')).toEqual(expected);
    expect(await keys('fact_policy_evaluation')).toEqual(expected);
    // For the lake: the touched day of both fact tables and every dimension were marked, and the
    // command published them before it ended (every engine writes the lake), so none is left pending.
    const pending = await engine.rows(
      `SELECT count(*) AS n FROM {s}etl_lake_pending WHERE run_id = '${rebuild.run_id}'`,
    );
    expect(Number(pending[0]!.n)).toBe(0);
  });
});
