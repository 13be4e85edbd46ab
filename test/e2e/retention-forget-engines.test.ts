import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulatorSettingsFrom } from '../../src/config/schema.js';
import { EventUniverse } from '../../src/simulator/generator.js';
import { aetl } from '../helpers/cli.js';
import { ENGINES, type EngineUnderTest } from '../helpers/engines.js';
import { namesIn } from '../helpers/reject-names.js';
import { plain } from '../helpers/remote-e2e.js';
import { shippedReference, Workspace } from '../helpers/workspace.js';

/** Not in the reference data: the simulator's unknown members are user_new_1..5. */
const TARGET = 'user_new_2';
const DAYS = ['2026-04-01', '2026-04-02', '2026-04-03'];

/** One simulated hour of a day (some malformed), plus a broken line that still names the target. */
function dayFile(universe: EventUniverse, dir: string, day: string): void {
  const first = Math.floor(Date.parse(`${day}T10:00:00Z`) / 60_000);
  const lines: string[] = [];
  for (let m = first; m < first + 60; m++) {
    for (const event of universe.eventsInMinute(m)) lines.push(JSON.stringify(event.payload));
  }
  lines.push(`{"id": "broken-${day}", "user_id": "${TARGET}", "decision": "allow", "timest`);
  writeFileSync(join(dir, `${day}.jsonl`), `${lines.join('\n')}\n`);
}

/**
 * `aetl forget` and `aetl retention` on each engine, through the real CLI (and
 * for BigQuery and Snowflake their real client against their stand-in): the
 * same assertions for every engine, read from the tables themselves.
 */
describe.each(ENGINES)('aetl forget and retention on $name', ({ start }) => {
  const ws = new Workspace();
  let engine: EngineUnderTest;
  let env: Record<string, string>;
  let config: string;
  const rows = async (sql: string) => plain(await engine.rows(sql));
  /** Nothing the CLI prints names the user or a credential. */
  const expectQuiet = (output: string) => {
    for (const text of [TARGET, ...Object.values(engine.env)]) expect(output).not.toContain(text);
  };
  /** One row of numbers. */
  const counts = async (sql: string) => (await rows(sql))[0] as Record<string, number>;
  const count = async (sql: string) => (await counts(sql)).n!;
  /** Facts, policy rows and index rows per day. */
  const perDay = async () =>
    rows(`SELECT d.date_key,
      (SELECT count(*) FROM {s}fact_ai_event f WHERE f.date_key = d.date_key) AS facts,
      (SELECT count(*) FROM {s}fact_policy_evaluation p WHERE p.date_key = d.date_key) AS policies,
      (SELECT count(*) FROM {s}etl_event_id i WHERE i.date_key = d.date_key) AS indexed
    FROM (SELECT DISTINCT date_key FROM {s}fact_ai_event) d ORDER BY 1`);

  beforeAll(async () => {
    engine = await start(ws);
    env = { ...engine.env, AETL_PSEUDONYM_KEY: 'day2-pseudonym-key-0123456789' };
    const universe = new EventUniverse(
      simulatorSettingsFrom({ seed: 12, rate_per_minute: 8, bad_record_rate: 0.05, unknown_member_rate: 0.3 }),
      shippedReference(),
    );
    mkdirSync(ws.path('inbox'));
    config = ws.writeConfig({
      source: { kind: 'files', files: ws.path('inbox') },
      warehouse: engine.warehouse,
      checks: { max_reject_rate: 1, anomalies: { enabled: false } },
      // A key, with ids kept raw: forget matches both forms the warehouse may hold.
      privacy: { key: '${AETL_PSEUDONYM_KEY}' },
    });
    for (const day of DAYS) dayFile(universe, ws.path('inbox'), day);
    // Loaded on the second day: its rejects and check results are a day older than the last day's facts.
    const run = await aetl(['run', '--config', config], { ...env, AETL_NOW: '2026-04-02T12:00:00Z' });
    expect(run.code, run.stderr).toBe(0);
    // Another pipeline of the warehouse, as its run ledger knows it: its lake must learn what changed too.
    await engine.rows(
      `INSERT INTO {s}etl_run (run_id, pipeline, command, status, started_at)
       VALUES ('run-of-b', 'b', 'run', 'succeeded', TIMESTAMPTZ '2026-04-04 00:00:00+00')`,
    );
  }, 180_000);
  afterAll(async () => {
    await engine.close();
    ws.remove();
  });

  it('forget --user removes exactly the user’s facts, policy rows, dimension rows, rejects and index rows', async () => {
    const users = `SELECT user_key FROM {s}dim_user WHERE user_id = '${TARGET}'`;
    const userEvents = `SELECT event_id FROM {s}fact_ai_event WHERE user_key IN (${users})`;
    const totals = () =>
      counts(`SELECT (SELECT count(*) FROM {s}fact_ai_event) AS facts,
        (SELECT sum(cost_usd * 1000000)::BIGINT FROM {s}fact_ai_event) AS micros,
        (SELECT count(*) FROM {s}fact_policy_evaluation) AS policies,
        (SELECT count(*) FROM {s}etl_event_id) AS indexed,
        (SELECT count(*) FROM {s}etl_rejected_event) AS rejects`);
    const others = () =>
      rows(`SELECT event_id, event_hash FROM {s}fact_ai_event WHERE user_key NOT IN (${users}) ORDER BY 1`);
    const user = await counts(`SELECT (SELECT count(*) FROM {s}fact_ai_event WHERE user_key IN (${users})) AS facts,
        (SELECT sum(cost_usd * 1000000)::BIGINT FROM {s}fact_ai_event WHERE user_key IN (${users})) AS micros,
        (SELECT count(*) FROM {s}fact_policy_evaluation WHERE user_key IN (${users})) AS policies,
        (SELECT count(*) FROM {s}etl_event_id WHERE event_id IN (${userEvents})) AS indexed,
        (SELECT count(DISTINCT date_key) FROM {s}fact_ai_event WHERE user_key IN (${users})) AS days`);
    const payloads = await rows('SELECT payload FROM {s}etl_rejected_event');
    const userRejects = payloads.filter((r) => namesIn(String(r.payload)).includes(TARGET)).length;
    expect(user.facts).toBeGreaterThan(5);
    expect(user.days).toBe(DAYS.length);
    expect(userRejects).toBeGreaterThanOrEqual(DAYS.length); // a broken line a day at least
    const before = await totals();
    const kept = await others();

    const forget = await aetl(['forget', '--user', TARGET, '--yes', '--json', '--config', config], env);
    expect(forget.code, forget.stderr).toBe(0);
    expectQuiet(forget.stdout + forget.stderr);
    const detail = (JSON.parse(forget.stdout) as { detail: { rows: Record<string, number>; event_dates: string[] } })
      .detail;
    expect(detail.rows).toEqual({
      etl_event_id: user.indexed,
      etl_conflict: 0,
      fact_policy_evaluation: user.policies,
      fact_ai_event: user.facts,
      dim_user: 1,
      etl_rejected_event: userRejects,
    });
    expect(detail.event_dates).toEqual(DAYS);

    // Totals fell by exactly the user's; every other event is there, unchanged.
    expect(await totals()).toEqual({
      facts: before.facts! - user.facts!,
      micros: before.micros! - user.micros!,
      policies: before.policies! - user.policies!,
      indexed: before.indexed! - user.indexed!,
      rejects: before.rejects! - userRejects,
    });
    expect(await others()).toEqual(kept);
    expect(await count(`SELECT count(*) AS n FROM {s}dim_user WHERE user_id = '${TARGET}'`)).toBe(0);
    const left = await rows('SELECT payload FROM {s}etl_rejected_event');
    expect(left.flatMap((r) => namesIn(String(r.payload)))).not.toContain(TARGET);

    // Recorded by a hash, never the id; both pipelines' lakes are to rewrite the user's days and the dimensions.
    const audit = await rows(
      'SELECT subject_hash, requested_by, rows_removed::VARCHAR AS removed, partitions FROM {s}etl_erasure',
    );
    expect(audit).toHaveLength(1);
    expect(String(audit[0]!.subject_hash)).toMatch(/^s_[0-9a-f]{64}$/);
    expect(JSON.parse(String(audit[0]!.removed))).toEqual(detail.rows);
    expect(audit[0]!.partitions).toBe(DAYS.length);
    expect(JSON.stringify(audit)).not.toContain(TARGET);
    const pending = await rows(
      `SELECT DISTINCT table_name, strftime(event_date, '%Y-%m-%d') AS day FROM {s}etl_lake_pending
       WHERE pipeline = 'b' AND run_id = (SELECT run_id FROM {s}etl_erasure) ORDER BY 1, 2`,
    );
    expect(pending).toEqual([
      ...['dim_date', 'dim_gateway', 'dim_model', 'dim_policy', 'dim_user'].map((t) => ({ table_name: t, day: null })),
      ...DAYS.map((day) => ({ table_name: 'fact_ai_event', day })),
      ...DAYS.map((day) => ({ table_name: 'fact_policy_evaluation', day })),
    ]);
  });

  it('retention without --apply lists what would go, with exact counts, and changes nothing', async () => {
    const days = await perDay();
    const plan = await aetl(['retention', '--older-than', '8d', '--json', '--config', config], {
      ...env,
      AETL_NOW: '2026-04-10T06:00:00Z',
    });
    expect(plan.code, plan.stderr).toBe(0);
    const detail = JSON.parse(plan.stdout) as { cutoff: string; items: { table: string; event_date: string }[] };
    expect(detail.cutoff).toBe('2026-04-02');
    const first = days.find((d) => d.date_key === 20260401)!;
    expect(detail.items).toEqual([
      { table: 'fact_ai_event', event_date: DAYS[0], rows: first.facts },
      { table: 'fact_policy_evaluation', event_date: DAYS[0], rows: first.policies },
    ]);
    expect(await perDay()).toEqual(days);
  });

  it('--apply removes the partitions before the cutoff, recorded without a file; the rest untouched', async () => {
    const days = await perDay();
    const applied = await aetl(['retention', '--older-than', '8d', '--apply', '--json', '--config', config], {
      ...env,
      AETL_NOW: '2026-04-10T06:00:00Z',
    });
    expect(applied.code, applied.stderr).toBe(0);
    expectQuiet(applied.stdout + applied.stderr);
    expect(await perDay()).toEqual(days.filter((d) => d.date_key !== 20260401));
    expect(await rows('SELECT table_name, archived_to FROM {s}etl_retention ORDER BY 1')).toEqual([
      { table_name: 'fact_ai_event', archived_to: null },
      { table_name: 'fact_policy_evaluation', archived_to: null },
    ]);
    // The other pipeline's lake rewrites the day without the rows; this one's folders are removed instead.
    const pending = await rows(
      `SELECT DISTINCT pipeline, table_name FROM {s}etl_lake_pending
       WHERE event_date = DATE '2026-04-01' AND run_id = (SELECT max(run_id) FROM {s}etl_retention) ORDER BY 2`,
    );
    expect(pending).toEqual([
      { pipeline: 'b', table_name: 'fact_ai_event' },
      { pipeline: 'b', table_name: 'fact_policy_evaluation' },
    ]);
  });

  it('--apply --archive, killed once after archiving: the partition and the old ledger rows archived once, then gone', async () => {
    const days = await perDay();
    const removed = await rows(
      'SELECT event_id, event_hash FROM {s}fact_ai_event WHERE date_key = 20260402 ORDER BY 1',
    );
    const oldRejects = await count(oldLedger('etl_rejected_event', 'rejected_at'));
    const oldChecks = await count(oldLedger('dq_check_result', 'checked_at'));
    expect(oldRejects).toBeGreaterThan(0);
    const archive = ws.path('archive');
    const retention = (extra: Record<string, string> = {}) =>
      aetl(['retention', '--older-than', '8d', '--archive', archive, '--apply', '--json', '--config', config], {
        ...env,
        AETL_NOW: '2026-04-11T06:00:00Z',
        ...extra,
      });
    // Killed with every file archived and nothing deleted: those files must not stay beside the next run's.
    const killed = await retention({ AETL_FAILPOINT: 'retention:after-archive' });
    expect(killed.code).toBeNull();
    expect(readdirSync(join(archive, 'fact_ai_event', `event_date=${DAYS[1]}`))).toHaveLength(1);
    expect(await perDay()).toEqual(days);
    const applied = await retention();
    expect(applied.code, applied.stderr).toBe(0);
    expect(await perDay()).toEqual(days.filter((d) => d.date_key !== 20260402));
    expect(await count('SELECT count(*) AS n FROM {s}etl_event_id WHERE date_key < 20260403')).toBe(0);
    expect(await count(oldLedger('etl_rejected_event', 'rejected_at'))).toBe(0);
    expect(await count(oldLedger('dq_check_result', 'checked_at'))).toBe(0);

    // The archive, read back by an independent reader: the partition's rows, exactly.
    const runId = (JSON.parse(applied.stdout) as { run_id: string }).run_id;
    const read = async (...path: string[]) => {
      const dir = join(archive, ...path);
      expect(readdirSync(dir)).toEqual([`${runId}.parquet`]); // the killed run's file is gone
      return parquetReadObjects({ file: await asyncBufferFromFile(join(dir, `${runId}.parquet`)), compressors });
    };
    const archived = (await read('fact_ai_event', `event_date=${DAYS[1]}`))
      .map((r) => ({ event_id: r.event_id, event_hash: r.event_hash }))
      .sort((a, b) => (String(a.event_id) < String(b.event_id) ? -1 : 1));
    expect(archived).toEqual(removed);
    expect(await read('etl_rejected_event', 'before=2026-04-03')).toHaveLength(oldRejects);
    expect(await read('dq_check_result', 'before=2026-04-03')).toHaveLength(oldChecks);

    // Recorded: what went and where it is.
    const recorded = await rows(
      `SELECT table_name, strftime(event_date, '%Y-%m-%d') AS day, archived_to FROM {s}etl_retention
       WHERE archived_to IS NOT NULL ORDER BY 1`,
    );
    expect(recorded.map((r) => [r.table_name, r.day])).toEqual([
      ['dq_check_result', null],
      ['etl_rejected_event', null],
      ['fact_ai_event', DAYS[1]],
      ['fact_policy_evaluation', DAYS[1]],
    ]);
    expect(recorded.every((r) => existsSync(String(r.archived_to)))).toBe(true);
  });
});

/** A ledger's rows of the default pipeline recorded before 2026-04-03 (the load's). */
function oldLedger(table: string, column: string): string {
  return `SELECT count(*) AS n FROM {s}${table} WHERE pipeline = 'default' AND ${column} < TIMESTAMPTZ '2026-04-03 00:00:00+00'`;
}
