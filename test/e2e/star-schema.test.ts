import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulatorSettingsFrom } from '../../src/config/schema.js';
import { EventUniverse } from '../../src/simulator/generator.js';
import { aetl } from '../helpers/cli.js';
import { query, queryWith, scalar } from '../helpers/duckdb.js';
import { REFERENCE, REPO, shippedReference, Workspace } from '../helpers/workspace.js';

type Payload = Record<string, unknown>;
const HOUR = 3_600_000;
const DAY_START = Date.parse('2026-04-10T00:00:00Z');
const SPIKE_HOUR = DAY_START + 20 * HOUR;
const QUERY_DIR = join(REPO, 'sql/duckdb/queries');
const workspaces: Workspace[] = [];
afterAll(() => workspaces.forEach((w) => w.remove()));

function workspaceWithReference(): Workspace {
  const ws = new Workspace();
  workspaces.push(ws);
  for (const name of ['users.csv', 'gateways.csv', 'models.csv']) copyFileSync(join(REFERENCE, name), ws.path(name));
  return ws;
}

function config(ws: Workspace): string {
  return ws.writeConfig({
    source: { kind: 'files', files: ws.path('in/*.jsonl') },
    reference: { users: ws.path('users.csv'), gateways: ws.path('gateways.csv'), models: ws.path('models.csv') },
  });
}

function writeEvents(ws: Workspace, name: string, events: Payload[]): void {
  mkdirSync(ws.path('in'), { recursive: true });
  writeFileSync(ws.path('in', name), events.map((e) => JSON.stringify(e)).join('\n'));
}

/** Plain readings of a raw payload, independent of the loader's contract code. */
const raw = {
  ts: (e: Payload) => Date.parse(String(e.timestamp)),
  user: (e: Payload) => String(e.user_id ?? e.user),
  micros: (e: Payload) => BigInt(Math.round(Number(e.cost_usd ?? e.cost) * 1e6)),
  blocked: (e: Payload) => String(e.decision).startsWith('block'),
  policies: (e: Payload) => (e.policies_evaluated as { name: string; result: string }[]) ?? [],
};
const dollars = (micros: bigint) => (Number(micros) / 1e6).toFixed(6);

describe('the star schema and the analyst SQL', () => {
  const ws = workspaceWithReference();
  const universe = new EventUniverse(
    simulatorSettingsFrom({ seed: 404, rate_per_minute: 1, unknown_member_rate: 0.03 }),
    shippedReference(),
  );
  const events: Payload[] = [];
  const teams = new Map(shippedReference().users.map((u) => [u.natural, u.attributes.team]));

  beforeAll(async () => {
    for (const e of universe.eventsBetween(DAY_START, DAY_START + 24 * HOUR, Infinity)) {
      const payload = { ...e.payload };
      // An injected block-rate spike: half of one hour's requests blocked.
      if (e.tsMs >= SPIKE_HOUR && e.tsMs < SPIKE_HOUR + HOUR && events.length % 2 === 0) {
        payload.decision = 'user_id' in payload ? 'blocked' : 'block';
      }
      events.push(payload);
    }
    writeEvents(ws, 'day.jsonl', events);
    const run = await aetl(['run', '--config', config(ws)]);
    expect(run.code, run.stderr).toBe(0);
  });

  const params = {
    from: new Date(DAY_START).toISOString(),
    to: new Date(DAY_START + 24 * HOUR).toISOString(),
    user_id: 'user_003',
  };
  const sqlOf = (name: string) => readFileSync(join(QUERY_DIR, name), 'utf8');

  it('daily spend by team', async () => {
    const expected = new Map<string, bigint>();
    for (const e of events) {
      const team = teams.get(raw.user(e)) ?? '(none)';
      expected.set(team, (expected.get(team) ?? 0n) + raw.micros(e));
    }
    const rows = await queryWith(ws.warehouse, sqlOf('daily_spend_by_team.sql'), params);
    expect(Object.fromEntries(rows.map((r) => [r.team, Number(r.spend_usd).toFixed(6)]))).toEqual(
      Object.fromEntries([...expected].map(([team, m]) => [team, dollars(m)])),
    );
    expect(rows.every((r) => r.date === '2026-04-10')).toBe(true);
  });

  it('block rate by policy', async () => {
    const expected = new Map<string, { evaluations: number; triggered: number; blocks: number }>();
    for (const e of events) {
      for (const p of raw.policies(e)) {
        const entry = expected.get(p.name) ?? { evaluations: 0, triggered: 0, blocks: 0 };
        entry.evaluations++;
        if (p.result !== 'pass') entry.triggered++;
        if (p.result.startsWith('block')) entry.blocks++;
        expected.set(p.name, entry);
      }
    }
    const rows = await queryWith(ws.warehouse, sqlOf('block_rate_by_policy.sql'), params);
    expect(
      Object.fromEntries(
        rows.map((r) => [
          r.policy_name,
          { evaluations: Number(r.evaluations), triggered: Number(r.triggered), blocks: Number(r.blocks) },
        ]),
      ),
    ).toEqual(Object.fromEntries(expected));
  });

  it('model usage and cost', async () => {
    const expected = new Map<string, { requests: number; tokens: number; micros: bigint }>();
    for (const e of events) {
      const entry = expected.get(String(e.model)) ?? { requests: 0, tokens: 0, micros: 0n };
      entry.requests++;
      entry.tokens += Number(e.input_tokens) + Number(e.output_tokens);
      entry.micros += raw.micros(e);
      expected.set(String(e.model), entry);
    }
    const rows = await queryWith(ws.warehouse, sqlOf('model_usage_and_cost.sql'), params);
    expect(
      rows.map((r) => [r.model, Number(r.requests), Number(r.total_tokens), Number(r.cost_usd).toFixed(6)]).sort(),
    ).toEqual([...expected].map(([model, v]) => [model, v.requests, v.tokens, dollars(v.micros)]).sort());
  });

  it('top users by cost', async () => {
    const spend = new Map<string, bigint>();
    for (const e of events) spend.set(raw.user(e), (spend.get(raw.user(e)) ?? 0n) + raw.micros(e));
    const top = [...spend].sort((a, b) => (b[1] > a[1] ? 1 : b[1] < a[1] ? -1 : a[0] < b[0] ? -1 : 1)).slice(0, 10);
    const rows = await queryWith(ws.warehouse, sqlOf('top_users_by_cost.sql'), params);
    expect(rows.map((r) => [r.user_id, Number(r.cost_usd).toFixed(6)])).toEqual(top.map(([u, m]) => [u, dollars(m)]));
  });

  it('hourly block-rate spikes: the injected hour, and exactly the hours an independent computation flags', async () => {
    const hours = new Map<number, { n: number; blocked: number }>();
    for (const e of events) {
      const hour = Math.floor(raw.ts(e) / HOUR) * HOUR;
      const entry = hours.get(hour) ?? { n: 0, blocked: 0 };
      entry.n++;
      if (raw.blocked(e)) entry.blocked++;
      hours.set(hour, entry);
    }
    const rate = (h: number) => hours.get(h)!.blocked / hours.get(h)!.n;
    const flagged: string[] = [];
    for (const hour of [...hours.keys()].sort()) {
      const baseline = [...hours.keys()].filter((h) => h < hour && h >= hour - 24 * HOUR).map(rate);
      if (baseline.length < 12) continue;
      const mean = baseline.reduce((a, b) => a + b, 0) / baseline.length;
      const sd = Math.sqrt(baseline.reduce((a, b) => a + (b - mean) ** 2, 0) / (baseline.length - 1));
      if (rate(hour) > mean + 2 * sd) flagged.push(new Date(hour).toISOString());
    }
    const rows = await queryWith(ws.warehouse, sqlOf('hourly_block_rate_spikes.sql'), params);
    const got = rows.map((r) => new Date(String(r.hour)).toISOString());
    expect(got).toEqual(flagged);
    expect(got).toContain(new Date(SPIKE_HOUR).toISOString());
  });

  it('audit trail for one user and time range', async () => {
    const from = DAY_START + 6 * HOUR;
    const to = DAY_START + 18 * HOUR;
    const mine = events
      .filter((e) => raw.user(e) === 'user_003' && raw.ts(e) >= from && raw.ts(e) < to)
      .sort((a, b) => raw.ts(a) - raw.ts(b) || (String(a.id) < String(b.id) ? -1 : 1));
    const rows = await queryWith(ws.warehouse, sqlOf('audit_trail.sql'), {
      ...params,
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
    });
    expect(mine.length).toBeGreaterThan(5);
    expect(rows.map((r) => r.event_id)).toEqual(mine.map((e) => e.id));
    const first = mine[0]!;
    expect(rows[0]).toMatchObject({ user_id: 'user_003', model: first.model, gateway_id: first.gateway_id });
    const normalise = (result: string) =>
      ({ blocked: 'block', redacted: 'redact', escalated: 'escalate' })[result] ?? result;
    expect(rows[0]!.policies).toBe(
      raw
        .policies(first)
        .map((p) => `${p.name}:${normalise(p.result)}`)
        .join(', '),
    );
  });

  it('the lake equals the warehouse, and the analyst SQL gives the same answers on the lake', async () => {
    const lakeSetup = readFileSync(join(REPO, 'sql/duckdb/lake_views.sql'), 'utf8').replaceAll('data/lake', ws.lake);
    const lake = await queryWith(
      ':memory:',
      'SELECT count(*) AS n, count(DISTINCT event_id) AS d, sum(cost_usd)::VARCHAR AS cost FROM fact_ai_event',
      {},
      lakeSetup,
    );
    const warehouse = await queryWith(
      ws.warehouse,
      'SELECT count(*) AS n, count(DISTINCT event_id) AS d, sum(cost_usd)::VARCHAR AS cost FROM fact_ai_event',
      {},
    );
    expect(lake).toEqual(warehouse);
    expect(Number(lake[0]!.n)).toBe(events.length);
    for (const name of [
      'daily_spend_by_team.sql',
      'block_rate_by_policy.sql',
      'top_users_by_cost.sql',
      'audit_trail.sql',
    ]) {
      expect(await queryWith(':memory:', sqlOf(name), params, lakeSetup), name).toEqual(
        await queryWith(ws.warehouse, sqlOf(name), params),
      );
    }
    // A re-run (after the file changed) rewrites the partition: still one copy of each event.
    writeEvents(ws, 'day.jsonl', [...events, events[0]!]);
    expect((await aetl(['run', '--config', config(ws)])).code).toBe(0);
    const again = await queryWith(
      ':memory:',
      'SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM fact_ai_event',
      {},
      lakeSetup,
    );
    expect(Number(again[0]!.n)).toBe(events.length);
    expect(again[0]!.n).toBe(again[0]!.d);
  });

  it('aetl query runs an analyst file on the warehouse and on the lake, and names missing parameters', async () => {
    const file = join(QUERY_DIR, 'model_usage_and_cost.sql');
    const args = [
      'query',
      file,
      '-p',
      `from=${params.from}`,
      '-p',
      `to=${params.to}`,
      '--json',
      '--config',
      config(ws),
    ];
    const warehouse = await aetl(args);
    const lake = await aetl([...args, '--lake']);
    expect(warehouse.code, warehouse.stderr).toBe(0);
    const rows = (run: typeof lake) => (JSON.parse(run.stdout) as { rows: { requests: number }[] }).rows;
    expect(rows(lake)).toEqual(rows(warehouse));
    expect(rows(warehouse).reduce((n, r) => n + r.requests, 0)).toBe(events.length);
    const missing = await aetl([
      'query',
      join(QUERY_DIR, 'audit_trail.sql'),
      '-p',
      'from=2026-04-10',
      '--config',
      config(ws),
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/needs --param user_id=\.\.\. --param to=\.\.\./);
  });

  it('every fact key resolves to exactly one dimension version valid at the event time', async () => {
    for (const [dim, key] of [
      ['dim_user', 'user_key'],
      ['dim_gateway', 'gateway_key'],
      ['dim_model', 'model_key'],
    ]) {
      const bad = await scalar(
        ws.warehouse,
        `SELECT count(*)::INTEGER FROM fact_ai_event f
         WHERE (SELECT count(*) FROM ${dim} d WHERE d.${key} = f.${key} AND f.event_ts >= d.valid_from AND f.event_ts < d.valid_to) <> 1`,
      );
      expect(bad, dim).toBe(0);
    }
    expect(
      await scalar(
        ws.warehouse,
        'SELECT count(*)::INTEGER FROM fact_policy_evaluation e ANTI JOIN dim_policy p USING (policy_key)',
      ),
    ).toBe(0);
    expect(
      await scalar(ws.warehouse, 'SELECT count(*)::INTEGER FROM fact_ai_event f ANTI JOIN dim_date d USING (date_key)'),
    ).toBe(0);
  });
});

describe('dimension history', () => {
  const evt = (id: string, ts: string, user: string, gateway = 'gw_prod_east') => ({
    id,
    timestamp: ts,
    decision: 'allowed',
    model: 'gpt-4o',
    provider: 'openai',
    input_tokens: 100,
    output_tokens: 10,
    policies_evaluated: [],
    gateway_id: gateway,
    user_id: user,
    cost_usd: 0.001,
  });

  it('SCD2: a user changes team between loads; facts before resolve to the old team, after to the new', async () => {
    const ws = workspaceWithReference();
    writeEvents(ws, 'a.jsonl', [
      evt('before-1', '2026-04-10T08:00:00Z', 'user_001'),
      evt('before-2', '2026-04-10T09:00:00Z', 'user_001'),
    ]);
    expect((await aetl(['run', '--config', config(ws)], { AETL_NOW: '2026-04-10T10:00:00Z' })).code).toBe(0);

    writeFileSync(
      ws.path('users.csv'),
      readFileSync(ws.path('users.csv'), 'utf8').replace(
        'user_001,search,engineering,',
        'user_001,payments,engineering,',
      ),
    );
    writeEvents(ws, 'b.jsonl', [evt('after-1', '2026-04-11T08:00:00Z', 'user_001')]);
    expect((await aetl(['run', '--config', config(ws)], { AETL_NOW: '2026-04-11T00:00:00Z' })).code).toBe(0);

    const versions = await query(
      ws.warehouse,
      `SELECT team, valid_from::VARCHAR AS valid_from, valid_to::VARCHAR AS valid_to, is_current FROM dim_user
       WHERE user_id = 'user_001' ORDER BY valid_from`,
    );
    expect(versions).toEqual([
      { team: 'search', valid_from: '1900-01-01 00:00:00+00', valid_to: '2026-04-11 00:00:00+00', is_current: false },
      { team: 'payments', valid_from: '2026-04-11 00:00:00+00', valid_to: '9999-12-31 00:00:00+00', is_current: true },
    ]);
    // The reference data's change rewrote the lake's file too (an independent reader).
    const lakeUsers = await parquetReadObjects({
      file: await asyncBufferFromFile(join(ws.lake, 'dim_user', 'data.parquet')),
      compressors,
    });
    const lakeVersions = lakeUsers.filter((u) => u.user_id === 'user_001').map((u) => [u.team, u.is_current]);
    expect(lakeVersions.sort()).toEqual([
      ['payments', true],
      ['search', false],
    ]);
    const facts = await query(
      ws.warehouse,
      'SELECT f.event_id, u.team FROM fact_ai_event f JOIN dim_user u USING (user_key) ORDER BY f.event_id',
    );
    expect(facts).toEqual([
      { event_id: 'after-1', team: 'payments' },
      { event_id: 'before-1', team: 'search' },
      { event_id: 'before-2', team: 'search' },
    ]);
    const view = await query(
      ws.warehouse,
      "SELECT DISTINCT user_team, user_team_at_event FROM v_fact_ai_event WHERE event_id LIKE 'before%'",
    );
    expect(view).toEqual([{ user_team: 'payments', user_team_at_event: 'search' }]);
  });

  it('inferred members: unknown user and gateway load, reference data completes them in place, keys unchanged', async () => {
    const ws = workspaceWithReference();
    writeEvents(ws, 'a.jsonl', [
      evt('x-1', '2026-04-10T08:00:00Z', 'user_new', 'gw_new'),
      evt('x-2', '2026-04-10T08:05:00Z', 'user_001'),
    ]);
    expect((await aetl(['run', '--config', config(ws)], { AETL_NOW: '2026-04-10T10:00:00Z' })).code).toBe(0);
    const before = await query(
      ws.warehouse,
      "SELECT user_key, team, is_inferred FROM dim_user WHERE user_id = 'user_new'",
    );
    expect(before).toHaveLength(1);
    expect(before[0]).toMatchObject({ team: null, is_inferred: true });
    const factKeys = await query(ws.warehouse, 'SELECT event_id, user_key, gateway_key FROM fact_ai_event ORDER BY 1');

    writeFileSync(ws.path('users.csv'), `${readFileSync(ws.path('users.csv'), 'utf8')}user_new,legal,compliance,\n`);
    writeFileSync(
      ws.path('gateways.csv'),
      `${readFileSync(ws.path('gateways.csv'), 'utf8')}gw_new,New Gateway,platform,production,ap-south-1,\n`,
    );
    expect((await aetl(['run', '--config', config(ws)], { AETL_NOW: '2026-04-11T10:00:00Z' })).code).toBe(0);

    const after = await query(
      ws.warehouse,
      "SELECT user_key, team, is_inferred FROM dim_user WHERE user_id = 'user_new'",
    );
    expect(after).toEqual([{ user_key: before[0]!.user_key, team: 'legal', is_inferred: false }]);
    expect(
      await query(
        ws.warehouse,
        "SELECT gateway_name, region, is_inferred FROM dim_gateway WHERE gateway_id = 'gw_new'",
      ),
    ).toEqual([{ gateway_name: 'New Gateway', region: 'ap-south-1', is_inferred: false }]);
    expect(await query(ws.warehouse, 'SELECT event_id, user_key, gateway_key FROM fact_ai_event ORDER BY 1')).toEqual(
      factKeys,
    );
  });

  it('declared history plus rebuild-dims re-attributes facts loaded earlier', async () => {
    const ws = workspaceWithReference();
    writeEvents(ws, 'a.jsonl', [
      evt('h-1', '2026-02-10T08:00:00Z', 'user_002'),
      evt('h-2', '2026-03-10T08:00:00Z', 'user_002'),
    ]);
    expect((await aetl(['run', '--config', config(ws)], { AETL_NOW: '2026-04-01T00:00:00Z' })).code).toBe(0);
    writeFileSync(
      ws.path('users.csv'),
      `${readFileSync(ws.path('users.csv'), 'utf8')}user_002,research,science,2026-03-01\n`,
    );
    expect((await aetl(['run', '--config', config(ws)], { AETL_NOW: '2026-04-02T00:00:00Z' })).code).toBe(0);
    const teamsOf = () =>
      query(ws.warehouse, 'SELECT f.event_id, u.team FROM fact_ai_event f JOIN dim_user u USING (user_key) ORDER BY 1');
    // Loading history does not touch facts loaded earlier...
    expect(await teamsOf()).toEqual([
      { event_id: 'h-1', team: 'search' },
      { event_id: 'h-2', team: 'search' },
    ]);
    // ...until asked.
    const rebuild = await aetl(['rebuild-dims', '--config', config(ws)], { AETL_NOW: '2026-04-02T01:00:00Z' });
    expect(rebuild.code, rebuild.stderr).toBe(0);
    expect(rebuild.stdout).toMatch(/re-keyed +1 fact rows/);
    expect(await teamsOf()).toEqual([
      { event_id: 'h-1', team: 'search' },
      { event_id: 'h-2', team: 'research' },
    ]);
    const lakeTeam = await queryWith(
      ':memory:',
      "SELECT u.team FROM fact_ai_event f JOIN dim_user u USING (user_key) WHERE f.event_id = 'h-2'",
      {},
      readFileSync(join(REPO, 'sql/duckdb/lake_views.sql'), 'utf8').replaceAll('data/lake', ws.lake),
    );
    expect(lakeTeam).toEqual([{ team: 'research' }]);
  });
});
