import { createHmac } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulatorSettingsFrom } from '../../src/config/schema.js';
import { EventUniverse } from '../../src/simulator/generator.js';
import { aetl, type CliResult } from '../helpers/cli.js';
import { lakeAsText, query, queryWith, tablesAsText } from '../helpers/duckdb.js';
import { lakeSnapshot, warehouseSnapshot } from '../helpers/snapshot.js';
import { shippedReference, Workspace } from '../helpers/workspace.js';

const KEY = 'pseudonym-key-for-forget-tests-0123';
/** Not in the reference data: the simulator's unknown members are user_new_1..5. */
const TARGET = 'user_new_2';
const pseudonymOf = (user: string) => `u_${createHmac('sha256', KEY).update(user).digest('hex').slice(0, 32)}`;

/** Two simulated hours on two days, about 5% malformed, plus broken lines that still name the target. */
function writeInbox(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const universe = new EventUniverse(
    simulatorSettingsFrom({ seed: 12, rate_per_minute: 20, bad_record_rate: 0.05, unknown_member_rate: 0.15 }),
    shippedReference(),
  );
  const start = Math.floor(Date.parse('2026-04-01T10:00:00Z') / 60_000);
  for (const [day, file] of ['day-1.jsonl', 'day-2.jsonl'].entries()) {
    const first = start + day * 1440;
    const lines: string[] = [];
    for (let m = first; m < first + 60; m++) {
      for (const event of universe.eventsInMinute(m)) lines.push(JSON.stringify(event.payload));
    }
    lines.push(`{"id": "broken-${day}", "user_id": "${TARGET}", "decision": "allow", "timest`);
    lines.push(`{"id": "no-user-${day}", "user_id": 7, "decision": "maybe"}`);
    writeFileSync(join(dir, file), `${lines.join('\n')}\n`);
  }
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** The files (under the given folders) whose bytes hold `text`: free blocks of a database file included. */
function filesHolding(dirs: string[], text: string): string[] {
  return dirs.flatMap(filesUnder).filter((file) => readFileSync(file).includes(text));
}

interface Totals {
  events: number;
  micros: number;
  policies: number;
  rejects: number;
}

const TOTALS_SQL = (where: string) => `SELECT
  (SELECT count(*) FROM fact_ai_event WHERE ${where}) AS events,
  (SELECT coalesce(sum(cost_usd * 1000000), 0)::BIGINT FROM fact_ai_event WHERE ${where}) AS micros,
  (SELECT count(*) FROM fact_policy_evaluation WHERE ${where}) AS policies`;

async function totals(file: string, storedId: string | null): Promise<Totals> {
  const where =
    storedId === null ? 'true' : `user_key IN (SELECT user_key FROM dim_user WHERE user_id = '${storedId}')`;
  const [row] = await query(file, TOTALS_SQL(where));
  const [rejects] = await query(
    file,
    storedId === null
      ? 'SELECT count(*) AS n FROM etl_rejected_event'
      : `SELECT count(*) AS n FROM etl_rejected_event WHERE contains(payload, '"${storedId}"')`,
  );
  return {
    events: Number(row!.events),
    micros: Number(row!.micros),
    policies: Number(row!.policies),
    rejects: Number(rejects!.n),
  };
}

/** Every other user's events, exactly: id and content hash. */
async function othersEvents(file: string, storedId: string): Promise<string[]> {
  const rows = await query(
    file,
    `SELECT f.event_id || ':' || f.event_hash AS e FROM fact_ai_event f JOIN dim_user u USING (user_key)
     WHERE u.user_id <> '${storedId}' ORDER BY 1`,
  );
  return rows.map((r) => String(r.e));
}

describe.each([
  { privacy: false, label: 'privacy off: the raw id is in the data' },
  { privacy: true, label: 'privacy on: the warehouse holds the pseudonym' },
])('aetl forget --user ($label)', ({ privacy }) => {
  const ws = new Workspace();
  const env = { AETL_PSEUDONYM_KEY: KEY };
  const stored = privacy ? pseudonymOf(TARGET) : TARGET;
  const places = () => [ws.path('data'), ws.lake, ws.path('staging')];
  let config: string;
  let userBefore: Totals;
  let allBefore: Totals;
  let others: string[];
  let forget: CliResult;

  beforeAll(async () => {
    writeInbox(ws.path('inbox'));
    config = ws.writeConfig({
      source: { kind: 'files', files: ws.path('inbox') },
      checks: { max_reject_rate: 1, anomalies: { enabled: false } },
      ...(privacy ? { privacy: { pseudonymize_users: true, key: '${AETL_PSEUDONYM_KEY}' } } : {}),
    });
    const run = await aetl(['run', '--config', config], env);
    expect(run.code, run.stderr).toBe(0);
    userBefore = await totals(ws.warehouse, stored);
    allBefore = await totals(ws.warehouse, null);
    others = await othersEvents(ws.warehouse, stored);
  }, 120_000);
  afterAll(() => ws.remove());

  it('before: the user has facts on two days, policy rows and rejects, and their id is in the files', async () => {
    expect(userBefore.events).toBeGreaterThan(10);
    expect(userBefore.policies).toBeGreaterThan(userBefore.events);
    expect(userBefore.rejects).toBeGreaterThanOrEqual(2);
    const [days] = await query(
      ws.warehouse,
      `SELECT count(DISTINCT date_key) AS n FROM fact_ai_event
       WHERE user_key IN (SELECT user_key FROM dim_user WHERE user_id = '${stored}')`,
    );
    expect(Number(days!.n)).toBe(2);
    // The search below can find what it looks for: the stored form is in the database file's bytes.
    expect(filesHolding(places(), stored)).toContain(ws.warehouse);
    expect(await lakeAsText(ws.lake)).toContain(stored);
    if (privacy) expect(filesHolding(places(), TARGET)).toEqual([]);
  });

  it('without --yes and without a terminal: exit 2, nothing changes', async () => {
    const warehouse = await warehouseSnapshot(ws.warehouse);
    const lake = await lakeSnapshot(ws.lake);
    const refused = await aetl(['forget', '--user', TARGET, '--config', config], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('pass --yes to confirm');
    expect(refused.stderr).not.toContain(TARGET);
    expect(await warehouseSnapshot(ws.warehouse)).toEqual(warehouse);
    expect(await lakeSnapshot(ws.lake)).toEqual(lake);
  });

  it('refuses a user still in the reference data (exit 2, nothing changes)', async () => {
    const warehouse = await warehouseSnapshot(ws.warehouse);
    const refused = await aetl(['forget', '--user', 'user_003', '--yes', '--config', config], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('is in the reference data');
    expect(refused.stderr).toContain('remove them from that file first');
    expect(await warehouseSnapshot(ws.warehouse)).toEqual(warehouse);
    expect(await query(ws.warehouse, "SELECT * FROM etl_run WHERE command = 'forget'")).toEqual([]);
  });

  it('--yes removes exactly the user’s rows and says how many, without naming them', async () => {
    forget = await aetl(['forget', '--user', TARGET, '--yes', '--json', '--config', config], env);
    expect(forget.code, forget.stderr).toBe(0);
    expect(forget.stdout + forget.stderr).not.toContain(TARGET);
    expect(forget.stdout + forget.stderr).not.toContain(pseudonymOf(TARGET));
    const summary = JSON.parse(forget.stdout) as {
      status: string;
      detail: { rows: Record<string, number>; event_dates: string[]; subject_hash: string };
    };
    expect(summary.status).toBe('succeeded');
    expect(summary.detail.rows).toEqual({
      etl_event_id: userBefore.events,
      etl_conflict: 0,
      fact_policy_evaluation: userBefore.policies,
      fact_ai_event: userBefore.events,
      dim_user: 1,
      etl_rejected_event: userBefore.rejects,
    });
    expect(summary.detail.event_dates).toEqual(['2026-04-01', '2026-04-02']);

    // Totals fell by exactly the user's rows; every other event is there, unchanged.
    const allAfter = await totals(ws.warehouse, null);
    expect(allAfter).toEqual({
      events: allBefore.events - userBefore.events,
      micros: allBefore.micros - userBefore.micros,
      policies: allBefore.policies - userBefore.policies,
      rejects: allBefore.rejects - userBefore.rejects,
    });
    expect(await othersEvents(ws.warehouse, stored)).toEqual(others);
    const [orphans] = await query(
      ws.warehouse,
      'SELECT count(*) AS n FROM fact_ai_event WHERE user_key NOT IN (SELECT user_key FROM dim_user)',
    );
    expect(Number(orphans!.n)).toBe(0);
  });

  it('the id is in no file: not in the database file’s free blocks, the lake or staging', async () => {
    for (const text of [TARGET, pseudonymOf(TARGET)]) {
      expect(filesHolding(places(), text), text).toEqual([]);
      expect((await tablesAsText(ws.warehouse)).includes(text), `${text} in a table`).toBe(false);
      expect((await lakeAsText(ws.lake)).includes(text), `${text} in the lake`).toBe(false);
    }
    // The lake was rewritten, not emptied: it holds what the warehouse holds.
    const [lake] = await queryWith(
      ':memory:',
      `SELECT count(*) AS n FROM read_parquet('${ws.lake}/fact_ai_event/*/*.parquet')`,
      {},
    );
    expect(Number(lake!.n)).toBe(allBefore.events - userBefore.events);
  });

  it('is recorded: one etl_erasure row naming the user by a hash, and a forget run in the ledger', async () => {
    const rows = await query(
      ws.warehouse,
      'SELECT subject_hash, requested_by, rows_removed::VARCHAR AS removed, partitions FROM etl_erasure',
    );
    expect(rows).toHaveLength(1);
    const [row] = rows;
    expect(String(row!.subject_hash)).toMatch(/^s_[0-9a-f]{64}$/);
    expect(JSON.parse(String(row!.removed))).toMatchObject({ fact_ai_event: userBefore.events, dim_user: 1 });
    expect(row!.partitions).toBe(2);
    const runs = await query(ws.warehouse, "SELECT status, error FROM etl_run WHERE command = 'forget'");
    expect(runs).toEqual([{ status: 'succeeded', error: null }]);
  });

  it('the compacted warehouse keeps working: status, and a run that loads nothing again', async () => {
    const status = await aetl(['status', '--json', '--config', config], env);
    expect(status.code, status.stderr).toBe(0);
    const run = await aetl(['run', '--json', '--config', config], env);
    expect(run.code, run.stderr).toBe(0);
    expect((await totals(ws.warehouse, null)).events).toBe(allBefore.events - userBefore.events);
  });

  it('their events sent again load without them (the unknown user); the id is still in no file', async () => {
    const resent = readFileSync(ws.path('inbox', 'day-1.jsonl'), 'utf8')
      .split('\n')
      .filter((line) => line.includes(`"${TARGET}"`));
    expect(resent.length).toBeGreaterThan(5);
    writeFileSync(ws.path('inbox', 'resent.jsonl'), `${resent.join('\n')}\n`);
    const run = await aetl(['run', '--json', '--config', config], env);
    expect(run.code, run.stderr).toBe(0);
    const loaded = (JSON.parse(run.stdout) as { totals: { inserted: number; rejected: number } }).totals;
    expect(loaded.inserted).toBeGreaterThan(0);
    expect(loaded.inserted + loaded.rejected).toBe(resent.length);
    const ids = resent.flatMap((line) => /"id": ?"([^"]+)"/.exec(line)?.[1] ?? []);
    const users = await query(
      ws.warehouse,
      `SELECT DISTINCT u.user_id FROM fact_ai_event f JOIN dim_user u USING (user_key)
       WHERE f.event_id IN (${ids.map((id) => `'${id}'`).join(', ')})`,
    );
    expect(users).toEqual([{ user_id: '(unknown)' }]);
    const [erasedRejects] = await query(
      ws.warehouse,
      `SELECT count(*) AS n FROM etl_rejected_event WHERE source_location LIKE '%resent.jsonl' AND contains(payload, '"(erased)"')`,
    );
    expect(Number(erasedRejects!.n)).toBe(loaded.rejected);
    for (const text of [TARGET, pseudonymOf(TARGET)]) {
      expect(filesHolding([ws.path('data'), ws.lake, ws.path('staging')], text), text).toEqual([]);
    }
  });
});
