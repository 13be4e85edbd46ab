import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aetl } from '../helpers/cli.js';
import { shapeA } from '../helpers/events.js';
import { query } from '../helpers/duckdb.js';
import { namesIn } from '../helpers/reject-names.js';
import { Workspace } from '../helpers/workspace.js';

/** Neither is in the reference data. `jane_q` is plain ASCII, spelled with escapes of ASCII letters. */
const JOSE = 'josé';
const JANE = 'jane_q';

type Payload = Record<string, unknown>;

/** A valid shape B event (the `user` field) on 2026-04-02 just after midnight UTC. */
function shapeB(id: string, minute: number, user: string, extra: Payload = {}): Payload {
  return {
    id,
    timestamp: `2026-04-02T00:${String(minute).padStart(2, '0')}:00Z`,
    gateway_id: 'gw_prod_west',
    user,
    provider: 'openai',
    model: 'gpt-4o-mini',
    decision: 'block',
    policies_evaluated: ['pii_detection'],
    policies_triggered: ['pii_detection'],
    latency_ms: 12,
    input_tokens: 40,
    output_tokens: 0,
    cost: '0.0004',
    metadata: {},
    ...extra,
  };
}

/** Shape A on 2026-04-01 just before midnight UTC. */
const lateA = (id: string, minute: number, user: string, extra: Payload = {}) =>
  shapeA(id, minute, { timestamp: `2026-04-01T23:${String(minute).padStart(2, '0')}:00Z`, user_id: user, ...extra });

/** The line as JSON, with every `"from"` string written as `"to"` (an escaped spelling of the same string). */
const spelled = (value: Payload, from: string, to: string) => JSON.stringify(value).replaceAll(`"${from}"`, `"${to}"`);

/** Rejects that name a user, by their id field (or source line when they have none), in any spelling. */
const REJECTS_NAMING = {
  [JOSE]: {
    'r-escaped': spelled(lateA('r-escaped', 1, JOSE, { decision: 'maybe' }), JOSE, 'jos\\u00e9'),
    // Upper-case hex, padded with a tab and spaces (ids are compared trimmed, as the contract stores them).
    'r-shape-b': spelled(shapeB('r-shape-b', 2, JOSE, { decision: 'perhaps' }), JOSE, '\\t jos\\u00E9 '),
    'r-nested': spelled(
      lateA('r-nested', 3, 'user_003', { decision: 'maybe', metadata: { on_behalf_of: JOSE } }),
      JOSE,
      'jos\\u00e9',
    ),
    'r-broken': `{"id": "r-broken", "user_id": "jos\\u00e9", "decision": "allow", "timest`,
  },
  [JANE]: {
    'r-ascii': spelled(lateA('r-ascii', 4, JANE, { decision: 'maybe' }), JANE, '\\u006aane_q'),
    'r-ascii-broken': `{"id": "r-ascii-broken", "user": "\\u006A\\u0061ne\\u005fq", "decision": "allow", "timest`,
  },
};
/** Rejects that must stay: other users, and ids that merely start like the erased ones. */
const OTHER_REJECTS = {
  'r-other': JSON.stringify(lateA('r-other', 5, 'user_new_1', { decision: 'maybe' })),
  'r-longer': spelled(lateA('r-longer', 6, 'josé2', { decision: 'maybe' }), 'josé2', 'jos\\u00e92'),
  'r-prefix': `{"id": "r-prefix", "user_id": "josefina", "decision": "allow", "timest`,
  'r-other-ascii': JSON.stringify(lateA('r-other-ascii', 7, 'jane_qq', { decision: 'maybe' })),
};

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** Every string value of every Parquet file under a folder, read back with hyparquet. */
async function parquetStrings(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const file of filesUnder(dir).filter((f) => f.endsWith('.parquet'))) {
    const rows = await parquetReadObjects({ file: await asyncBufferFromFile(file), compressors });
    for (const row of rows) for (const value of Object.values(row)) if (typeof value === 'string') out.push(value);
  }
  return out;
}

interface ForgetJson {
  status: string;
  detail: { rows: Record<string, number>; event_dates: string[]; staging_packages: string[] };
}

describe('aetl forget matches a user in any JSON spelling, everywhere', () => {
  const ws = new Workspace();
  const shared = { staging: { path: 'staging' }, checks: { max_reject_rate: 1, anomalies: { enabled: false } } };
  let configA: string;
  let configB: string;
  let facts: Record<string, number>;

  /** The stored rejects, named by their record's id (read from the text when the line is broken). */
  const rejectIds = async () =>
    (await query(ws.warehouse, 'SELECT event_id, payload FROM etl_rejected_event')).map((r) => ({
      id: String(r.event_id ?? /"id": "([^"]+)"/.exec(String(r.payload))?.[1]),
      payload: String(r.payload),
    }));
  const factsOf = async (user: string) =>
    Number(
      (
        await query(
          ws.warehouse,
          `SELECT count(*) AS n FROM fact_ai_event JOIN dim_user USING (user_key) WHERE user_id = '${user}'`,
        )
      )[0]!.n,
    );

  beforeAll(async () => {
    mkdirSync(ws.path('in-a'));
    mkdirSync(ws.path('in-b'));
    const events = [
      ...[10, 11, 12].map((m) => lateA(`jose-a-${m}`, m, JOSE)),
      ...[13, 14].map((m) => shapeB(`jose-b-${m}`, m, JOSE)),
      ...[15, 16].map((m) => lateA(`jane-${m}`, m, JANE)),
      ...[17, 18, 19].map((m) => lateA(`other-${m}`, m, 'user_003')),
      shapeB('other-b-20', 20, 'josé2'),
    ];
    const lines = [
      ...events.map((e) => JSON.stringify(e)),
      ...Object.values(REJECTS_NAMING).flatMap((r) => Object.values(r)),
      ...Object.values(OTHER_REJECTS),
    ];
    writeFileSync(ws.path('in-a', '1-first.jsonl'), `${lines.join('\n')}\n`);
    configA = ws.writeConfig({ ...shared, pipeline: { name: 'a' }, source: { kind: 'files', files: ws.path('in-a') } });
    expect((await aetl(['run', '--config', configA])).code).toBe(0);
    // Later versions of loaded events: conflicts, one of José's and one of someone else's.
    writeFileSync(
      ws.path('in-a', '2-resent.jsonl'),
      `${[lateA('jose-a-10', 10, JOSE, { cost_usd: 9 }), lateA('other-17', 17, 'user_003', { cost_usd: 9 })]
        .map((e) => JSON.stringify(e))
        .join('\n')}\n`,
    );
    expect((await aetl(['run', '--config', configA])).code).toBe(0);
    // Pipeline b of the same warehouse is killed once its package is staged: a leftover holding José.
    writeFileSync(ws.path('in-b', 'b.jsonl'), `${JSON.stringify(lateA('jose-in-b', 30, JOSE))}\n`);
    configB = ws.writeConfig(
      {
        ...shared,
        pipeline: { name: 'b' },
        source: { kind: 'files', files: ws.path('in-b') },
        lake: { path: 'lake-b' },
      },
      'b.yaml',
    );
    const killed = await aetl(['run', '--config', configB], { AETL_FAILPOINT: 'extract:after-manifest' });
    expect(killed.code).not.toBe(0);
    facts = { [JOSE]: await factsOf(JOSE), [JANE]: await factsOf(JANE), user_003: await factsOf('user_003') };
  }, 180_000);
  afterAll(() => ws.remove());

  it('before: the facts, the rejects in every spelling, the conflicts, the lake and a staged leftover hold them', async () => {
    expect(facts).toEqual({ [JOSE]: 5, [JANE]: 2, user_003: 3 });
    const stored = await rejectIds();
    for (const id of [...Object.values(REJECTS_NAMING).flatMap(Object.keys), ...Object.keys(OTHER_REJECTS)]) {
      expect(stored.map((r) => r.id)).toContain(id);
    }
    // Stored as read: the escaped spelling is what a substring search for the id would miss.
    expect(stored.find((r) => r.id === 'r-escaped')!.payload).toContain('"jos\\u00e9"');
    expect(stored.find((r) => r.id === 'r-escaped')!.payload).not.toContain(JOSE);
    const conflicts = await query(ws.warehouse, 'SELECT event_id FROM etl_conflict ORDER BY 1');
    expect(conflicts).toEqual([{ event_id: 'jose-a-10' }, { event_id: 'other-17' }]);
    expect(await parquetStrings(ws.lake)).toContain(JOSE);
    expect(await parquetStrings(ws.path('staging', 'b'))).toContain(JOSE);
  });

  it('forget --user josé: each table’s count, the audit row, and no trace in warehouse, lake or staging', async () => {
    const forget = await aetl(['forget', '--user', JOSE, '--yes', '--json', '--config', configA]);
    expect(forget.code, forget.stderr).toBe(0);
    const summary = JSON.parse(forget.stdout) as ForgetJson;
    expect(summary.status).toBe('succeeded');
    const expectedRows = {
      etl_event_id: 5,
      etl_conflict: 1,
      fact_policy_evaluation: 5,
      fact_ai_event: 5,
      dim_user: 1,
      etl_rejected_event: Object.keys(REJECTS_NAMING[JOSE]).length,
    };
    expect(summary.detail.rows).toEqual(expectedRows);
    expect(summary.detail.event_dates).toEqual(['2026-04-01', '2026-04-02']);
    expect(summary.detail.staging_packages).toHaveLength(1);
    expect(summary.detail.staging_packages[0]).toMatch(/^b\/\d{8}T\d{6}Z-[0-9a-f]{6}$/);

    const [audit] = await query(ws.warehouse, 'SELECT rows_removed::VARCHAR AS rows FROM etl_erasure');
    expect(JSON.parse(String(audit!.rows))).toEqual(expectedRows);

    const left = await rejectIds();
    expect(left.map((r) => r.id).sort()).toEqual(
      [...Object.keys(REJECTS_NAMING[JANE]), ...Object.keys(OTHER_REJECTS)].sort(),
    );
    expect(left.flatMap((r) => namesIn(r.payload))).not.toContain(JOSE);
    expect(await query(ws.warehouse, 'SELECT event_id FROM etl_conflict')).toEqual([{ event_id: 'other-17' }]);
    expect(await factsOf(JOSE)).toBe(0);
    expect(await factsOf('user_003')).toBe(facts.user_003);

    const lake = await parquetStrings(ws.lake);
    expect(lake).not.toContain(JOSE);
    expect(lake).toContain(JANE);
    expect(existsSync(ws.path('staging', 'b'))).toBe(false);
    expect(await parquetStrings(ws.path('staging'))).not.toContain(JOSE);
  });

  it('forget --user jane_q (spelled with escaped ASCII in its rejects): the text report names each table', async () => {
    const forget = await aetl(['forget', '--user', JANE, '--yes', '--config', configA]);
    expect(forget.code, forget.stderr).toBe(0);
    // The erasure's own table: from its header to the lake line.
    const removed = /^table +rows removed$([\s\S]*?)^lake /m.exec(forget.stdout)?.[1] ?? '';
    const rows = Object.fromEntries([...removed.matchAll(/^(\w+) +(\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
    expect(rows).toEqual({
      etl_event_id: 2,
      etl_conflict: 0,
      fact_policy_evaluation: 2,
      fact_ai_event: 2,
      dim_user: 1,
      etl_rejected_event: 2,
    });
    expect(forget.stdout).toMatch(/staging +0 leftover load package\(s\) deleted/);
    const left = await rejectIds();
    expect(left.map((r) => r.id).sort()).toEqual(Object.keys(OTHER_REJECTS).sort());
    expect(left.flatMap((r) => namesIn(r.payload))).not.toContain(JANE);
    expect(await parquetStrings(ws.lake)).not.toContain(JANE);
  });
});
