import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulatorSettingsFrom } from '../../src/config/schema.js';
import { EventUniverse } from '../../src/simulator/generator.js';
import { expectAggregatesExact } from '../helpers/aggregates.js';
import { aetl } from '../helpers/cli.js';
import { queryWith } from '../helpers/duckdb.js';
import { ENGINES, type EngineUnderTest } from '../helpers/engines.js';
import { plain } from '../helpers/remote-e2e.js';
import { shippedReference, Workspace } from '../helpers/workspace.js';

/**
 * The loading commands on every engine, one body for all: incremental runs,
 * reconcile, replay, explicit windows and backfill, each checked against the
 * simulator's ground truth (every event id, member, token count and cost),
 * then `aetl check` over a tampered range, whose results must be the same
 * rows on every engine.
 */
const T0 = '2026-06-10T06:00:00Z'; // the first run
const LATER = '2026-06-10T06:20:00Z'; // the second run
const RECONCILE = '2026-06-10T10:00:00Z'; // and every command after it: every late event has arrived
const DENSE_HOUR = 3; // 03:00 UTC holds ~1,200 events a day: its window is larger than a package
const simulator = {
  seed: 21,
  rate_per_minute: 0.2,
  bad_record_rate: 0.02,
  unknown_member_rate: 0.1,
  faults: { duplicate_share: 0.05, unordered: true, late_share: 0.1, late_max: '3h' },
  traffic: { hourly_profile: Array.from({ length: 24 }, (_, hour) => (hour === DENSE_HOUR ? 100 : 1)) },
};
const reference = shippedReference();
const universe = new EventUniverse(simulatorSettingsFrom(simulator), reference);
const known = (rows: { natural: string }[]) => new Set(rows.map((r) => r.natural));
const users = known(reference.users);
const gateways = known(reference.gateways);
const ms = (iso: string) => Date.parse(iso);

/** A range of event times the source served at `at`. */
interface Read {
  from: string;
  to: string;
  at: string;
}

interface Fact {
  row: { event_id: string; micros: number } & Record<string, unknown>;
  tsMs: number;
}

/** Every valid event the reads served, once, as its fact row joined to its members; and how many were invalid. */
function served(reads: Read[]): { facts: Map<string, Fact>; invalid: number } {
  const facts = new Map<string, Fact>();
  const invalid = new Set<string>();
  for (const read of reads) {
    for (const event of universe.eventsBetween(ms(read.from), ms(read.to), ms(read.at))) {
      if (!event.valid) {
        invalid.add(event.id);
        continue;
      }
      const p = event.payload;
      const user = String(p.user_id ?? p.user);
      const gateway = String(p.gateway_id);
      const row = {
        event_id: event.id,
        user_id: user,
        user_inferred: !users.has(user),
        gateway_id: gateway,
        gateway_inferred: !gateways.has(gateway),
        model: p.model,
        input_tokens: p.input_tokens,
        output_tokens: p.output_tokens,
        micros: Number(event.costMicros),
      };
      facts.set(event.id, { row, tsMs: event.tsMs });
    }
  }
  return { facts, invalid: invalid.size };
}

const FACTS = `SELECT f.event_id, u.user_id, u.is_inferred AS user_inferred, g.gateway_id, g.is_inferred AS gateway_inferred,
    m.model, f.input_tokens, f.output_tokens, (f.cost_usd * 1000000)::BIGINT AS micros
  FROM {s}fact_ai_event f JOIN {s}dim_user u USING (user_key) JOIN {s}dim_gateway g USING (gateway_key)
    JOIN {s}dim_model m USING (model_key)
  ORDER BY f.event_id`;

/** Micro-dollars as the warehouse's DECIMAL(…, 6) text. */
const dollars = (micros: bigint) => `${micros / 1_000_000n}.${String(micros % 1_000_000n).padStart(6, '0')}`;

interface Summary {
  run_id: string;
  detail: unknown;
  checks: {
    name: string;
    scope: string;
    bucket?: string | null;
    status: string;
    observed: unknown;
    expected: unknown;
  }[];
}

describe.each(ENGINES)('incremental runs, reconcile, explicit windows, backfill and checks on $name', ({ start }) => {
  const ws = new Workspace();
  let engine: EngineUnderTest;
  let config: string;
  /** Everything the commands so far have read from the source. */
  const reads: Read[] = [];
  const rows = async (sql: string) => plain(await engine.rows(sql));
  const cli = async <T = Summary>(args: string[], now: string, code = 0): Promise<T> => {
    const result = await aetl([...args, '--json', '--config', config], { ...engine.env, AETL_NOW: now }, 90_000);
    expect(result.code, result.stderr.slice(-2000)).toBe(code);
    for (const secret of Object.values(engine.env)) expect(result.stdout + result.stderr).not.toContain(secret);
    return JSON.parse(result.stdout) as T;
  };
  const checkpoint = async () => (await rows('SELECT epoch_ms(checkpoint) AS ms FROM {s}etl_state'))[0]!.ms;
  const windowsOf = (runId: string) =>
    rows(`SELECT epoch_ms(window_start) AS from_ms, epoch_ms(window_end) AS to_ms, checkpoint_moved AS moved,
            source_count IS NOT NULL AS counted
          FROM {s}etl_run_window WHERE run_id = '${runId}' ORDER BY seq`);
  const window = (from: string, to: string, moved: boolean, counted = true) => ({
    from_ms: ms(from),
    to_ms: ms(to),
    moved,
    counted,
  });

  /** The warehouse holds exactly what the source served: ids, members, tokens, costs, their sum, the rejects. */
  async function expectServed(): Promise<void> {
    const { facts, invalid } = served(reads);
    const expected = [...facts.values()].map((f) => f.row).sort((a, b) => (a.event_id < b.event_id ? -1 : 1));
    expect(await rows(FACTS)).toEqual(expected);
    const micros = expected.reduce((sum, f) => sum + BigInt(f.micros), 0n);
    const [totals] = await rows(`SELECT (SELECT sum(cost_usd)::DECIMAL(38, 6)::VARCHAR FROM {s}fact_ai_event) AS cost,
        (SELECT count(*) FROM {s}etl_rejected_event) AS rejects`);
    expect(totals).toEqual({ cost: dollars(micros), rejects: invalid });
  }

  beforeAll(async () => {
    engine = await start(ws);
    config = ws.writeConfig({
      source: { kind: 'simulator', page_size: 500, simulator },
      warehouse: engine.warehouse,
      window: { initial_start: '2026-06-09T22:00:00Z', max_window: '4h', lookback: '1h' },
      staging: { package_records: 1000 },
      checks: { max_reject_rate: 0.1 },
    });
  });
  afterAll(async () => {
    await engine.close();
    ws.remove();
  });

  it('a first run loads its windows, the dense one in two packages: exactly the events served', async () => {
    const run = await cli(['run'], T0);
    reads.push({ from: '2026-06-09T22:00:00Z', to: '2026-06-10T05:58:00Z', at: T0 });
    await expectServed();
    expect(await checkpoint()).toBe(ms('2026-06-10T05:58:00Z'));
    // Only a window's last package counts the source and moves the checkpoint.
    expect(await windowsOf(run.run_id)).toEqual([
      window('2026-06-09T22:00:00Z', '2026-06-10T02:00:00Z', true),
      window('2026-06-10T01:00:00Z', '2026-06-10T05:00:00Z', false, false),
      window('2026-06-10T01:00:00Z', '2026-06-10T05:00:00Z', true),
      window('2026-06-10T04:00:00Z', '2026-06-10T05:58:00Z', true),
    ]);
  });

  it('a later run loads only its new window, from the lookback, and moves the checkpoint to its end', async () => {
    const before = served(reads).facts.size;
    const run = await cli(['run'], LATER);
    reads.push({ from: '2026-06-10T04:58:00Z', to: '2026-06-10T06:18:00Z', at: LATER });
    const loaded = await rows(
      `SELECT epoch_ms(window_start) AS from_ms, epoch_ms(window_end) AS to_ms, inserted, already_present > 0 AS reread
       FROM {s}etl_run_window WHERE run_id = '${run.run_id}'`,
    );
    expect(loaded).toEqual([
      {
        from_ms: ms('2026-06-10T04:58:00Z'),
        to_ms: ms('2026-06-10T06:18:00Z'),
        inserted: served(reads).facts.size - before,
        reread: true,
      },
    ]);
    expect(await checkpoint()).toBe(ms('2026-06-10T06:18:00Z'));
    await expectServed();
  });

  it('reconcile loads the late events the runs missed, day by day, and leaves the checkpoint', async () => {
    const loaded = served(reads).facts;
    reads.push({ from: '2026-06-09T22:00:00Z', to: '2026-06-10T06:18:00Z', at: RECONCILE });
    const missed = [...served(reads).facts].filter(([id]) => !loaded.has(id)).map(([, f]) => f.tsMs);
    const missedOn = (day: string) => missed.filter((t) => new Date(t).toISOString().startsWith(day)).length;
    expect(missed.length).toBeGreaterThan(0);
    const reconciled = await cli<{ detail: { day: string; loaded: number; status: string }[] }>(
      ['reconcile', '--days', '1'],
      RECONCILE,
    );
    expect(reconciled.detail.map((d) => [d.day, d.loaded, d.status])).toEqual(
      ['2026-06-09', '2026-06-10'].map((day) => [day, missedOn(day), missedOn(day) > 0 ? 'repaired' : 'ok']),
    );
    expect(await checkpoint()).toBe(ms('2026-06-10T06:18:00Z'));
    await expectServed();
  });

  it('replay --force-update over a loaded hour of unchanged events inserts and replaces nothing', async () => {
    const range = ['--from', '2026-06-10T00:00:00Z', '--to', '2026-06-10T01:00:00Z'];
    const replay = await cli<{ detail: unknown }>(['replay', ...range, '--force-update'], RECONCILE);
    expect(replay.detail).toEqual({ windows: 1, inserted: 0, replaced: 0 });
    expect(await checkpoint()).toBe(ms('2026-06-10T06:18:00Z'));
    await expectServed();
  });

  it('run --from/--to loads an earlier interval without moving the checkpoint; the next interval moves it', async () => {
    const earlier = await cli(['run', '--from', '2026-06-09T12:00:00Z', '--to', '2026-06-09T16:00:00Z'], RECONCILE);
    // Read from a lookback before --from, as `run` reads.
    expect(await windowsOf(earlier.run_id)).toEqual([
      window('2026-06-09T11:00:00Z', '2026-06-09T15:00:00Z', false),
      window('2026-06-09T14:00:00Z', '2026-06-09T16:00:00Z', false),
    ]);
    expect(await checkpoint()).toBe(ms('2026-06-10T06:18:00Z'));
    const next = await cli(['run', '--from', '2026-06-10T06:00:00Z', '--to', '2026-06-10T09:00:00Z'], RECONCILE);
    expect(await windowsOf(next.run_id)).toEqual([window('2026-06-10T05:00:00Z', '2026-06-10T09:00:00Z', true)]);
    expect(await checkpoint()).toBe(ms('2026-06-10T09:00:00Z'));
    reads.push(
      { from: '2026-06-09T11:00:00Z', to: '2026-06-09T16:00:00Z', at: RECONCILE },
      { from: '2026-06-10T05:00:00Z', to: '2026-06-10T09:00:00Z', at: RECONCILE },
    );
    await expectServed();
  });

  it('backfill --parallel 2 loads whole UTC days without moving the checkpoint; run again, it skips them', async () => {
    const range = ['--from', '2026-06-08T04:00:00Z', '--to', '2026-06-09T03:00:00Z', '--parallel', '2'];
    const backfill = await cli<Summary & { detail: unknown }>(['backfill', ...range], RECONCILE);
    expect(backfill.detail).toEqual({ days: 2, already_done: 0, loaded: 2 });
    expect(await windowsOf(backfill.run_id)).toEqual([
      window('2026-06-08T04:00:00Z', '2026-06-09T00:00:00Z', false),
      window('2026-06-09T00:00:00Z', '2026-06-09T03:00:00Z', false),
    ]);
    reads.push({ from: '2026-06-08T04:00:00Z', to: '2026-06-09T03:00:00Z', at: RECONCILE });
    await expectServed();
    const windows = await rows('SELECT count(*) AS n FROM {s}etl_run_window');
    const again = await cli<{ detail: unknown }>(['backfill', ...range], RECONCILE);
    expect(again.detail).toEqual({ days: 2, already_done: 2, loaded: 0 });
    expect(await rows('SELECT count(*) AS n FROM {s}etl_run_window')).toEqual(windows);
    expect(await checkpoint()).toBe(ms('2026-06-10T09:00:00Z'));
  });

  it('the lake holds every event the warehouse holds, once, with the same cost', async () => {
    const totals = `SELECT count(*)::VARCHAR AS n, count(DISTINCT event_id)::VARCHAR AS ids,
        sum(cost_usd)::DECIMAL(38, 6)::VARCHAR AS cost`;
    const [lake] = await queryWith(':memory:', `${totals} FROM '${ws.lake}/fact_ai_event/**/*.parquet'`, {});
    expect(lake!.n).toBe(lake!.ids);
    expect([lake]).toEqual(await engine.rows(`${totals} FROM {s}fact_ai_event`));
  });

  it('the hourly aggregates equal the facts grouped by hour after every kind of load', () =>
    expectAggregatesExact(rows));

  it('aetl check over tampered hours: the same results on every engine, completeness, duplicates and integrity failing', async () => {
    const inRange = `event_ts >= TIMESTAMPTZ '2026-06-09 12:00:00+00' AND event_ts < TIMESTAMPTZ '2026-06-09 14:00:00+00'`;
    const [withPolicies] = await rows(
      `SELECT event_id FROM {s}fact_policy_evaluation WHERE ${inRange} ORDER BY event_id, ordinal LIMIT 1`,
    );
    const policyEvent = `'${String(withPolicies!.event_id)}'`;
    const victims = (
      await rows(
        `SELECT event_id FROM {s}fact_ai_event WHERE ${inRange} AND event_id <> ${policyEvent} ORDER BY event_id LIMIT 3`,
      )
    ).map((v) => `'${String(v.event_id)}'`);
    // One event lost (its fact and policy rows) and another stored twice: the range holds as many
    // facts as it should, so only the ids can tell. One policy evaluation stored twice.
    await engine.rows(`DELETE FROM {s}fact_policy_evaluation WHERE event_id = ${victims[0]}`);
    await engine.rows(`DELETE FROM {s}fact_ai_event WHERE event_id = ${victims[0]}`);
    await engine.rows(`INSERT INTO {s}fact_ai_event SELECT * FROM {s}fact_ai_event WHERE event_id = ${victims[1]}`);
    await engine.rows(
      `INSERT INTO {s}fact_policy_evaluation SELECT * FROM {s}fact_policy_evaluation
       WHERE event_id = ${policyEvent} AND ordinal = (SELECT MIN(ordinal) FROM {s}fact_policy_evaluation WHERE event_id = ${policyEvent})`,
    );
    // A fact whose user has no row, and a model whose versions start a second after the range's first
    // event: its facts until then are orphans.
    await engine.rows(`UPDATE {s}fact_ai_event SET user_key = -7 WHERE event_id = ${victims[2]}`);
    const firstFact = `SELECT model_key FROM {s}fact_ai_event WHERE ${inRange} ORDER BY event_ts LIMIT 1`;
    const [first] = await rows(`SELECT epoch_ms(MIN(event_ts)) AS ms FROM {s}fact_ai_event WHERE ${inRange}`);
    const cut = new Date(Number(first!.ms) + 1000)
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, '+00');
    // (Keys are 64-bit: they stay in SQL.)
    const [early] = await rows(
      `SELECT count(*) AS n FROM {s}fact_ai_event
       WHERE model_key = (${firstFact}) AND ${inRange} AND event_ts < TIMESTAMPTZ '${cut}'`,
    );
    await engine.rows(`UPDATE {s}dim_model SET valid_from = TIMESTAMPTZ '${cut}' WHERE model_key = (${firstFact})`);
    // Policy evaluations without their policy (one event's), without their event (another's), and one
    // without both: each row counts once.
    const others = await rows(
      `SELECT event_id, count(*) AS n FROM {s}fact_policy_evaluation WHERE ${inRange}
       AND event_id NOT IN (${[policyEvent, ...victims].join(', ')}) GROUP BY event_id ORDER BY event_id LIMIT 2`,
    );
    const [unknownPolicy, lostEvent] = others.map((o) => `'${String(o.event_id)}'`);
    await engine.rows(`UPDATE {s}fact_policy_evaluation SET policy_key = -9 WHERE event_id = ${unknownPolicy}`);
    await engine.rows(
      `UPDATE {s}fact_policy_evaluation SET event_id = CONCAT('gone-', event_id) WHERE event_id = ${lostEvent}`,
    );
    await engine.rows(
      `UPDATE {s}fact_policy_evaluation SET policy_key = -9 WHERE event_id = CONCAT('gone-', ${lostEvent}) AND ordinal = 0`,
    );
    const range = ['--from', '2026-06-09T12:00:00Z', '--to', '2026-06-09T14:00:00Z'];
    const { checks } = await cli(['check', ...range], RECONCILE, 3);
    expect(checks.find((c) => c.name === 'integrity_policy_keys')).toMatchObject({
      status: 'fail',
      observed: Number(others[0]!.n) + Number(others[1]!.n),
    });
    expect(checks.find((c) => c.name === 'completeness')).toMatchObject({ scope: 'day 2026-06-09', status: 'fail' });
    expect(checks.find((c) => c.name === 'duplicates')).toMatchObject({
      status: 'fail',
      observed: 2,
      message: '1 duplicate event_id rows, 1 duplicate policy evaluation rows',
    });
    expect(checks.find((c) => c.name === 'integrity_dim_user')).toMatchObject({ status: 'fail', observed: 1 });
    expect(Number(early!.n)).toBeGreaterThan(0);
    expect(checks.find((c) => c.name === 'integrity_dim_model')).toMatchObject({
      status: 'fail',
      observed: Number(early!.n),
    });
    const lines = checks.map((c) => [c.name, c.scope, c.bucket ?? '-', c.status, c.observed, c.expected].join(' | '));
    await expect(`${lines.join('\n')}\n`).toMatchFileSnapshot('__snapshots__/checks-every-engine.txt');
  });
});
