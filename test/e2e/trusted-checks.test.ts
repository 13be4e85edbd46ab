import { mkdirSync, writeFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { aetl } from '../helpers/cli.js';
import { query, scalar } from '../helpers/duckdb.js';
import { jsonLines, shapeA } from '../helpers/events.js';
import { serveLocal } from '../helpers/local-server.js';
import { workspacesForFile, type Workspace } from '../helpers/workspace.js';

/**
 * The promise the checks keep (issue 17): nothing lost or doubled without a
 * failing check. Each test makes a check's blind spot happen for real (a
 * second pipeline, a re-send weeks later, a record or row lost on the way)
 * and sees the check fail, or the warehouse stay right.
 */
const workspace = workspacesForFile();

interface CheckRow {
  pipeline: string;
  check_name: string;
  scope: string;
  status: string;
  message: string;
}

const checkRows = async (ws: Workspace, where: string) =>
  (await query(
    ws.warehouse,
    `SELECT pipeline, check_name, scope, status, message FROM dq_check_result WHERE ${where} ORDER BY checked_at, scope`,
  )) as unknown as CheckRow[];

/** Runs statements against a warehouse file with write access (the CLI is not running). */
async function tamper(file: string, ...statements: string[]): Promise<void> {
  const instance = await DuckDBInstance.create(file);
  const connection = await instance.connect();
  try {
    for (const statement of statements) await connection.run(statement);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** A small deterministic PRNG, so the property test's cases can be replayed from its seed. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('completeness counts this pipeline only', () => {
  it('two pipelines on one warehouse: the lossy one exits 3 with its own missing count, the other passes', async () => {
    const ws = workspace();
    const env = { AETL_NOW: '2026-06-20T00:00:00Z' };
    const simulator = (faults: Record<string, number>) => ({
      kind: 'simulator',
      simulator: { seed: 9, rate_per_minute: 2, faults },
    });
    // Both read the same events; b first, complete, so every event a loses is already in the fact table.
    const b = ws.writeConfig({ pipeline: { name: 'b' }, source: simulator({}), lake: { path: 'lake-b' } }, 'b.yaml');
    const a = ws.writeConfig(
      { pipeline: { name: 'a' }, source: simulator({ lost_share: 0.05 }), lake: { path: 'lake-a' } },
      'a.yaml',
    );
    const runB = await aetl(['run', '--config', b], env);
    expect(runB.code, runB.stderr.slice(-2000)).toBe(0);
    const runA = await aetl(['run', '--config', a], env);
    expect(runA.code, runA.stderr.slice(-2000)).toBe(3);

    const ofB = await checkRows(ws, "pipeline = 'b' AND check_name = 'completeness'");
    expect(ofB.length).toBeGreaterThan(0);
    expect(ofB.every((c) => c.status === 'pass')).toBe(true);
    const ofA = await checkRows(ws, "pipeline = 'a' AND check_name = 'completeness'");
    expect(ofA).toHaveLength(1); // the run stops at the window that failed
    expect(ofA[0]!.status).toBe('fail');
    // Its missing events are those b loaded in the window and a never accounted for.
    const [, from, to] = /window (\S+) \.\. (\S+)/.exec(ofA[0]!.scope)!;
    const missing = Number(
      await scalar(
        ws.warehouse,
        `SELECT count(*) FROM etl_event_id b WHERE b.pipeline = 'b'
           AND b.event_ts >= '${from}'::TIMESTAMPTZ AND b.event_ts < '${to}'::TIMESTAMPTZ
           AND NOT EXISTS (SELECT 1 FROM etl_event_id a WHERE a.pipeline = 'a' AND a.event_id = b.event_id)`,
      ),
    );
    expect(missing).toBeGreaterThan(0);
    expect(ofA[0]!.message).toMatch(new RegExp(`, ${missing} missing\\. If the source re-sends them`));
    // Nothing was loaded twice by the second pipeline.
    expect(await scalar(ws.warehouse, 'SELECT count(*) - count(DISTINCT event_id) FROM fact_ai_event')).toBe(0n);
  });

  it('a replayed reject counts once, while the events the source never sent stay missing', async () => {
    const ws = workspace();
    // The source counts 9 events in the hour but serves 7 of them: 6 valid, one with a decision the contract does not know yet.
    const served = [
      ...Array.from({ length: 6 }, (_, i) => shapeA(`evt-${i}`, i)),
      shapeA('evt-warned', 10, { decision: 'warned' }),
    ];
    const counted = served.length + 2;
    const api = await serveLocal((req, res) => {
      const url = new URL(req.url!, 'http://x');
      const since = Date.parse(url.searchParams.get('since')!);
      const until = Date.parse(url.searchParams.get('until')!);
      const inRange = served.filter((e) => {
        const ts = Date.parse(String(e.timestamp));
        return ts >= since && ts < until;
      });
      const hourOfEvents = since <= Date.parse('2026-04-10T08:00:00Z') && until > Date.parse('2026-04-10T08:59:00Z');
      const body =
        url.searchParams.get('count') === 'true'
          ? { count: inRange.length + (hourOfEvents ? counted - served.length : 0) }
          : { data: inRange, next_cursor: null };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    try {
      const env = { AETL_NOW: '2026-04-10T12:00:00Z' };
      const base = {
        source: { kind: 'events_api', url: api.url, token: 'test-token', max_retries: 0 },
        window: { initial_start: '2026-04-10T08:00:00Z' },
        checks: { max_reject_rate: 0.5, freshness: { enabled: false }, anomalies: { enabled: false } },
      };
      const run = await aetl(['run', '--config', ws.writeConfig(base)], env);
      expect(run.code, run.stderr.slice(-2000)).toBe(3);
      const [first] = await checkRows(ws, "check_name = 'completeness'");
      // A window's failing completeness also says what to do about it.
      expect(first!.message).toMatch(
        /^7 of 9 source events present .*, 2 missing\. If the source re-sends them, .*`aetl accept-loss --from 2026-04-10T08:00:00\.000Z --to \S+ --reason TEXT` lets runs move on$/,
      );

      const fixed = ws.writeConfig({ ...base, contract: { decision_aliases: { warned: 'allow' } } });
      const replay = await aetl(['rejects', 'replay', '--all', '--config', fixed], env);
      expect(replay.code, replay.stderr.slice(-2000)).toBe(0);
      expect(await scalar(ws.warehouse, "SELECT count(*) FROM fact_ai_event WHERE event_id = 'evt-warned'")).toBe(1n);

      const check = await aetl(
        ['check', '--from', '2026-04-10', '--to', '2026-04-11', '--json', '--config', fixed],
        env,
      );
      expect(check.code).toBe(3);
      const day = (
        JSON.parse(check.stdout) as { checks: { name: string; status: string; message: string }[] }
      ).checks.find((c) => c.name === 'completeness');
      // The replayed record is loaded and quarantined: counted once, so the two never sent remain missing.
      expect(day!.status).toBe('fail');
      expect(day!.message).toMatch(/^7 of 9 source events present .*, 2 missing$/);
    } finally {
      await api.close();
    }
  });
});

describe('a known event_id is found whatever its date', () => {
  it('an event re-sent 19 days later is one fact and one etl_conflict row', async () => {
    const ws = workspace();
    mkdirSync(ws.path('in'));
    writeFileSync(ws.path('in', '1.jsonl'), jsonLines([shapeA('evt-a', 1), shapeA('evt-b', 2)]));
    writeFileSync(
      ws.path('in', '2.jsonl'),
      jsonLines([shapeA('evt-a', 1, { timestamp: '2026-04-29T08:01:00Z' }), shapeA('evt-c', 3)]),
    );
    const config = ws.writeConfig({ source: { kind: 'files', files: ws.path('in') } });
    const run = await aetl(['run', '--config', config], { AETL_NOW: '2026-05-01T00:00:00Z' });
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    expect(
      await query(ws.warehouse, 'SELECT event_id, event_ts::VARCHAR AS ts FROM fact_ai_event ORDER BY event_id'),
    ).toEqual([
      { event_id: 'evt-a', ts: '2026-04-10 08:01:00+00' },
      { event_id: 'evt-b', ts: '2026-04-10 08:02:00+00' },
      { event_id: 'evt-c', ts: '2026-04-10 08:03:00+00' },
    ]);
    expect(
      await query(
        ws.warehouse,
        'SELECT event_id, incoming_event_ts::VARCHAR AS ts, resolution FROM etl_conflict ORDER BY event_id',
      ),
    ).toEqual([{ event_id: 'evt-a', ts: '2026-04-29 08:01:00+00', resolution: 'kept_first' }]);
  });

  it('property: random re-timestamps over 60 days never store two facts for one id; the first loaded is kept', async () => {
    const seed = 20261207;
    const random = mulberry32(seed);
    const ws = workspace();
    mkdirSync(ws.path('in'));
    const ids = Array.from({ length: 40 }, (_, i) => `evt-${String(i).padStart(2, '0')}`);
    const start = Date.parse('2026-03-01T00:00:00Z');
    const firstTs = new Map<string, string>();
    const versions = new Map<string, Set<string>>();
    for (let file = 0; file < 5; file++) {
      const events = ids
        .filter(() => random() < 0.6)
        .map((id) => {
          const ts = new Date(start + Math.floor(random() * 60 * 86_400) * 1000).toISOString();
          if (!firstTs.has(id)) firstTs.set(id, ts);
          versions.set(id, (versions.get(id) ?? new Set()).add(ts));
          return shapeA(id, 0, { timestamp: ts });
        });
      writeFileSync(ws.path('in', `${file}.jsonl`), jsonLines(events));
    }
    const config = ws.writeConfig({ source: { kind: 'files', files: ws.path('in') } });
    const run = await aetl(['run', '--config', config], { AETL_NOW: '2026-05-01T00:00:00Z' });
    expect(run.code, `seed ${seed}: ${run.stderr.slice(-2000)}`).toBe(0);

    const stored = await query(
      ws.warehouse,
      "SELECT event_id, strftime(event_ts, '%Y-%m-%dT%H:%M:%S.000Z') AS ts FROM fact_ai_event ORDER BY event_id",
    );
    expect(stored, `seed ${seed}`).toEqual(
      [...firstTs.keys()].sort().map((id) => ({ event_id: id, ts: firstTs.get(id) })),
    );
    const laterVersions = [...versions.values()].reduce((n, set) => n + set.size - 1, 0);
    expect(laterVersions).toBeGreaterThan(10);
    expect(await scalar(ws.warehouse, 'SELECT count(*)::INTEGER FROM etl_conflict')).toBe(laterVersions);
  });
});

describe('the duplicates check', () => {
  it('fails when fact_ai_event holds one event_id twice, on the same date or weeks apart', async () => {
    const ws = workspace();
    writeFileSync(ws.path('events.jsonl'), jsonLines([shapeA('evt-a', 1), shapeA('evt-b', 2)]));
    const config = ws.writeConfig({
      source: { kind: 'files', files: ws.path('events.jsonl') },
      checks: { freshness: { enabled: false }, anomalies: { enabled: false } },
    });
    const env = { AETL_NOW: '2026-05-01T00:00:00Z' };
    const checkDay = (day: string, next: string) =>
      aetl(['check', '--from', day, '--to', next, '--json', '--config', config], env);
    const duplicates = (stdout: string) =>
      (JSON.parse(stdout) as { checks: { name: string; status: string; observed: number }[] }).checks.find(
        (c) => c.name === 'duplicates',
      );
    expect((await aetl(['run', '--config', config], env)).code).toBe(0);
    const clean = await checkDay('2026-04-10', '2026-04-11');
    expect(clean.code, clean.stderr.slice(-2000)).toBe(0);
    expect(duplicates(clean.stdout)).toMatchObject({ status: 'pass', observed: 0 });

    // A second copy of evt-a 19 days later, as a load whose lookup missed the first would store it
    // (every insert records its id in the index, so the copy is found from either date).
    await tamper(
      ws.warehouse,
      `INSERT INTO fact_ai_event SELECT * REPLACE (event_ts + INTERVAL 19 DAY AS event_ts, 20260429 AS date_key)
       FROM fact_ai_event WHERE event_id = 'evt-a'`,
      `INSERT INTO etl_event_id SELECT id_key, pipeline, event_id, event_ts + INTERVAL 19 DAY, 20260429, event_hash
       FROM etl_event_id WHERE event_id = 'evt-a'`,
    );
    // From the copy's date (a changed hour), and from the first copy's with --full: its hour was
    // verified before the copy appeared elsewhere, and is trusted until it changes itself.
    for (const [day, next, full] of [
      ['2026-04-29', '2026-04-30', false],
      ['2026-04-10', '2026-04-11', true],
    ] as const) {
      const check = await aetl(
        ['check', '--from', day, '--to', next, '--json', '--config', config, ...(full ? ['--full'] : [])],
        env,
      );
      expect(check.code, day).toBe(3);
      expect(duplicates(check.stdout), day).toMatchObject({ status: 'fail', observed: 1 });
    }
    // A copy written behind the loader's back (no index row) is found from its own date.
    await tamper(
      ws.warehouse,
      'DELETE FROM etl_event_id WHERE date_key = 20260429',
      `UPDATE fact_ai_event SET event_ts = event_ts + INTERVAL 1 DAY, date_key = 20260430 WHERE date_key = 20260429`,
    );
    const unindexed = await checkDay('2026-04-30', '2026-05-01');
    expect(unindexed.code).toBe(3);
    expect(duplicates(unindexed.stdout)).toMatchObject({ status: 'fail', observed: 1 });
    // And a plain second row on the same date.
    await tamper(
      ws.warehouse,
      'DELETE FROM fact_ai_event WHERE date_key = 20260429',
      "INSERT INTO fact_ai_event SELECT * FROM fact_ai_event WHERE event_id = 'evt-b'",
    );
    const sameDay = await checkDay('2026-04-10', '2026-04-11');
    expect(sameDay.code).toBe(3);
    expect(duplicates(sameDay.stdout)).toMatchObject({ status: 'fail', observed: 1 });
  });
});

describe("the load's blocking duplicates check", () => {
  it('fails when the lookup misses an event loaded 19 days earlier and it is stored a second time', async () => {
    const ws = workspace();
    mkdirSync(ws.path('in'));
    writeFileSync(ws.path('in', '1.jsonl'), jsonLines([shapeA('evt-a', 1), shapeA('evt-b', 2)]));
    const config = ws.writeConfig({ source: { kind: 'files', files: ws.path('in') } });
    const env = { AETL_NOW: '2026-05-01T00:00:00Z' };
    expect((await aetl(['run', '--config', config], env)).code).toBe(0);
    writeFileSync(ws.path('in', '2.jsonl'), jsonLines([shapeA('evt-a', 1, { timestamp: '2026-04-29T08:01:00Z' })]));
    const run = await aetl(['run', '--config', config], { ...env, AETL_FAULT: 'load:miss-known' });
    expect(run.code, run.stderr.slice(-2000)).toBe(3);
    // Both see it: the load's blocking check (its ids on any date) and the one after it (the range).
    const failing = await checkRows(ws, "check_name = 'duplicates' AND status = 'fail'");
    expect(failing.map((c) => c.message).sort()).toEqual([
      '1 duplicate event_id rows',
      "1 duplicate event_id rows among this load's ids",
    ]);
    // The file that doubled it stays out of the ledger, so it is read again once fixed.
    expect(await scalar(ws.warehouse, "SELECT count(*)::INTEGER FROM etl_file_ledger WHERE path LIKE '%2.jsonl'")).toBe(
      0,
    );
  });
});

describe('a wrong number in the counters fails a blocking check', () => {
  const lines = [
    ...Array.from({ length: 8 }, (_, i) => shapeA(`evt-${i}`, i)),
    shapeA('evt-bad', 9, { input_tokens: -5 }),
  ];

  async function runWithFault(fault: string) {
    const ws = workspace();
    writeFileSync(ws.path('events.jsonl'), jsonLines(lines));
    const config = ws.writeConfig({
      source: { kind: 'files', files: ws.path('events.jsonl') },
      checks: { max_reject_rate: 0.5 },
    });
    const run = await aetl(['run', '--config', config], { AETL_NOW: '2026-05-01T00:00:00Z', AETL_FAULT: fault });
    const checks = await checkRows(ws, "check_name IN ('counts_balance', 'completeness')");
    const ledger = await scalar(ws.warehouse, 'SELECT count(*)::INTEGER FROM etl_file_ledger');
    return { run, checks: Object.fromEntries(checks.map((c) => [c.check_name, c])), ledger };
  }

  it('without a fault every counter balances and the file is complete', async () => {
    const { run, checks, ledger } = await runWithFault('none');
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    expect(checks.counts_balance!.status).toBe('pass');
    expect(checks.completeness).toMatchObject({
      status: 'pass',
      message: expect.stringMatching(/^9 of 9 .*none missing$/),
    });
    expect(ledger).toBe(1);
  });

  it('an insert that lost a row: counts_balance fails, the file stays out of the ledger (exit 3)', async () => {
    const { run, checks, ledger } = await runWithFault('load:lose-insert');
    expect(run.code, run.stderr.slice(-2000)).toBe(3);
    expect(checks.counts_balance).toMatchObject({ status: 'fail', message: expect.stringContaining('inserted 7') });
    expect(ledger).toBe(0);
  });

  it('a quarantined record that went missing: counts_balance fails (exit 3)', async () => {
    const { run, checks, ledger } = await runWithFault('load:lose-reject');
    expect(run.code, run.stderr.slice(-2000)).toBe(3);
    expect(checks.counts_balance).toMatchObject({ status: 'fail', message: expect.stringContaining('rejected 0') });
    expect(ledger).toBe(0);
  });

  it('a record dropped between the reader and the load: the counters agree with each other, file completeness fails', async () => {
    const { run, checks, ledger } = await runWithFault('extract:drop-record');
    expect(run.code, run.stderr.slice(-2000)).toBe(3);
    expect(checks.counts_balance!.status).toBe('pass');
    expect(checks.completeness).toMatchObject({
      status: 'fail',
      message: expect.stringMatching(/^8 of 9 .*1 missing$/),
    });
    expect(ledger).toBe(0);
  });
});
