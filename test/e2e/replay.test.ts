import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aetl } from '../helpers/cli.js';
import { query, queryWith } from '../helpers/duckdb.js';
import { lakeSnapshot } from '../helpers/snapshot.js';
import { Workspace } from '../helpers/workspace.js';
import type { LocalServer } from '../helpers/local-server.js';
import { vendorApi, vendorEvent } from '../helpers/vendor-api.js';

const NOW = '2026-04-11T00:00:00Z';

const event = (id: string, hour: number, extra: Record<string, unknown> = {}) =>
  vendorEvent(id, `2026-04-10T${String(hour).padStart(2, '0')}:15:00Z`, extra);

interface Summary {
  run_id: string;
  detail: { windows: number; inserted: number; replaced: number };
}

describe('aetl replay --from --to [--force-update]', () => {
  const ws = new Workspace();
  const events = [event('r-1', 8), event('r-2', 9), event('r-3', 10), event('r-4', 11)];
  let api: LocalServer;
  let config: string;
  const cost = async (id: string) =>
    (await query(ws.warehouse, `SELECT cost_usd::DOUBLE AS c FROM fact_ai_event WHERE event_id = '${id}'`)).map(
      (r) => r.c,
    );

  beforeAll(async () => {
    api = await vendorApi(events);
    config = ws.writeConfig({
      source: { kind: 'events_api', url: api.url, token: 'test-token' },
      window: { initial_start: '2026-04-10T00:00:00Z' },
    });
    const run = await aetl(['run', '--config', config], { AETL_NOW: NOW });
    expect(run.code, run.stderr).toBe(0);
    expect(await cost('r-2')).toEqual([0.001]);
  }, 60_000);
  afterAll(async () => {
    await api.close();
    ws.remove();
  });

  it('re-pulls a range: a missing event loads, a changed one stays as first loaded (a conflict)', async () => {
    events.push(event('r-5', 12)); // arrived late, past any lookback
    events[1] = event('r-2', 9, { cost_usd: 0.25 }); // the vendor corrected it
    const checkpoint = await query(ws.warehouse, 'SELECT checkpoint::VARCHAR AS c FROM etl_state');
    const replay = await aetl(['replay', '--from', '2026-04-10', '--to', '2026-04-11', '--json', '--config', config], {
      AETL_NOW: NOW,
    });
    expect(replay.code, replay.stderr).toBe(0);
    expect((JSON.parse(replay.stdout) as Summary).detail).toEqual({ windows: 4, inserted: 1, replaced: 0 });
    expect(await cost('r-2')).toEqual([0.001]);
    const conflicts = await query(ws.warehouse, 'SELECT event_id, resolution FROM etl_conflict');
    expect(conflicts).toEqual([{ event_id: 'r-2', resolution: 'kept_first' }]);
    expect(await query(ws.warehouse, 'SELECT checkpoint::VARCHAR AS c FROM etl_state')).toEqual(checkpoint);
  });

  it('with --force-update replaces the changed events (one row each, old and new hash in etl_conflict), in the lake too', async () => {
    const hashOf = async (id: string) =>
      (await query(ws.warehouse, `SELECT event_hash FROM fact_ai_event WHERE event_id = '${id}'`))[0]!.event_hash;
    const old = { r2: await hashOf('r-2'), r4: await hashOf('r-4') };
    // The vendor also corrected r-4's time: it moves to the day before, so its old partition must lose it.
    events[3] = event('r-4', 11, { timestamp: '2026-04-09T23:45:00Z' });
    const forced = [
      'replay',
      '--from',
      '2026-04-09',
      '--to',
      '2026-04-11',
      '--force-update',
      '--json',
      '--config',
      config,
    ];
    const replay = await aetl(forced, { AETL_NOW: NOW });
    expect(replay.code, replay.stderr).toBe(0);
    const summary = JSON.parse(replay.stdout) as Summary;
    expect(summary.detail).toEqual({ windows: 8, inserted: 0, replaced: 2 });
    expect(await cost('r-2')).toEqual([0.25]);
    const replaced = await query(
      ws.warehouse,
      "SELECT event_id, event_hash, run_id, date_key FROM fact_ai_event WHERE event_id IN ('r-2', 'r-4') ORDER BY 1",
    );
    expect(replaced.map((r) => [r.event_id, r.run_id, r.date_key])).toEqual([
      ['r-2', summary.run_id, 20260410],
      ['r-4', summary.run_id, 20260409],
    ]);
    const conflicts = await query(
      ws.warehouse,
      'SELECT event_id, loaded_hash, incoming_hash, resolution FROM etl_conflict ORDER BY 1',
    );
    expect(conflicts).toEqual([
      { event_id: 'r-2', loaded_hash: old.r2, incoming_hash: replaced[0]!.event_hash, resolution: 'replaced' },
      { event_id: 'r-4', loaded_hash: old.r4, incoming_hash: replaced[1]!.event_hash, resolution: 'replaced' },
    ]);
    const policies = await query(
      ws.warehouse,
      `SELECT event_id, count(*)::INTEGER AS n, max(run_id) AS run, max(date_key) AS day FROM fact_policy_evaluation
       WHERE event_id IN ('r-2', 'r-4') GROUP BY 1 ORDER BY 1`,
    );
    expect(policies).toEqual([
      { event_id: 'r-2', n: 1, run: summary.run_id, day: 20260410 },
      { event_id: 'r-4', n: 1, run: summary.run_id, day: 20260409 },
    ]);
    expect((await query(ws.warehouse, 'SELECT count(*)::INTEGER AS n FROM fact_ai_event'))[0]!.n).toBe(5);
    const lake = await lakeSnapshot(ws.lake);
    const lakeRow = lake.fact_ai_event!.filter((row) => row.includes('"r-2"'));
    expect(lakeRow).toHaveLength(1);
    expect(lakeRow[0]).toContain('0.25');
    const partitions = await queryWith(
      ':memory:',
      `SELECT parse_dirpath(filename) AS dir FROM read_parquet('${ws.lake}/fact_ai_event/*/*.parquet', filename = true)
       WHERE event_id = 'r-4'`,
      {},
    );
    expect(partitions.map((r) => String(r.dir).split('/').at(-1))).toEqual(['event_date=2026-04-09']);

    // Nothing changed since: a second forced replay replaces nothing.
    const again = await aetl(forced, { AETL_NOW: NOW });
    expect((JSON.parse(again.stdout) as Summary).detail).toEqual({ windows: 8, inserted: 0, replaced: 0 });
  });
});

describe('aetl replay --force-update over a window larger than staging.package_records', () => {
  const ws = new Workspace();
  // 2,400 events in one hour, one every 1.5 s: three packages of at most 1,000, read in pages of 250.
  const at = (i: number) => new Date(Date.parse('2026-04-10T08:00:00Z') + i * 1500).toISOString();
  const events = Array.from({ length: 2400 }, (_, i) => event(`m-${i}`, 8, { timestamp: at(i) }));
  let api: LocalServer;
  let config: string;

  beforeAll(async () => {
    api = await vendorApi(events);
    config = ws.writeConfig({
      source: { kind: 'events_api', url: api.url, token: 'test-token', page_size: 250 },
      window: { initial_start: '2026-04-10T00:00:00Z' },
      staging: { path: ws.path('staging'), package_records: 1000 },
    });
    const run = await aetl(['run', '--config', config], { AETL_NOW: NOW });
    expect(run.code, run.stderr).toBe(0);
  }, 60_000);
  afterAll(async () => {
    await api.close();
    ws.remove();
  });

  it('counts every package: the changed events of each replaced once, the late ones inserted once', async () => {
    const changed = [10, 999, 1000, 1777, 2399]; // in the first, second and third package
    for (const i of changed) events[i] = event(`m-${i}`, 8, { timestamp: at(i), cost_usd: 0.5 });
    events.push(event('m-late-1', 8, { timestamp: at(1) }), event('m-late-2', 8, { timestamp: at(2100) }));
    const args = ['replay', '--from', '2026-04-10T08:00:00Z', '--to', '2026-04-10T09:00:00Z', '--force-update'];
    const replay = await aetl([...args, '--json', '--config', config], { AETL_NOW: NOW });
    expect(replay.code, replay.stderr).toBe(0);
    const summary = JSON.parse(replay.stdout) as Summary;
    expect(summary.detail).toEqual({ windows: 1, inserted: 2, replaced: changed.length });
    const packages = await query(
      ws.warehouse,
      `SELECT read::INTEGER AS read, source_count IS NOT NULL AS counted FROM etl_run_window WHERE run_id = '${summary.run_id}' ORDER BY seq`,
    );
    expect(packages).toEqual([
      { read: 1000, counted: false },
      { read: 1000, counted: false },
      { read: 402, counted: true },
    ]);
    const facts = await query(
      ws.warehouse,
      `SELECT count(*)::INTEGER AS n, count(DISTINCT event_id)::INTEGER AS ids,
         list(event_id ORDER BY event_id) FILTER (WHERE cost_usd = 0.5) AS changed FROM fact_ai_event`,
    );
    expect(facts).toEqual([{ n: 2402, ids: 2402, changed: changed.map((i) => `m-${i}`).sort() }]);
    const conflicts = await query(ws.warehouse, 'SELECT event_id, resolution FROM etl_conflict ORDER BY 1');
    expect(conflicts).toEqual(changed.map((i) => ({ event_id: `m-${i}`, resolution: 'replaced' })).sort(byId));
  });
});

function byId(a: { event_id: string }, b: { event_id: string }): number {
  return a.event_id < b.event_id ? -1 : 1;
}
