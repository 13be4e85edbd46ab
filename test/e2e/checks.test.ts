import type { IncomingMessage } from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { cpSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { aetl } from '../helpers/cli.js';
import { query, scalar } from '../helpers/duckdb.js';
import { Workspace } from '../helpers/workspace.js';
import { serveLocal } from '../helpers/local-server.js';

const NOW = '2026-06-20T00:00:00Z';
const workspaces: Workspace[] = [];
afterAll(() => workspaces.forEach((w) => w.remove()));

function workspace(): Workspace {
  const ws = new Workspace();
  workspaces.push(ws);
  return ws;
}

interface Result {
  name: string;
  scope: string;
  status: string;
  observed: number | null;
  expected: string | null;
  message: string;
  bucket?: string | null;
}

const SPIKE = '2026-06-13T14:00:00.000Z';
const DROP = '2026-06-12T03:00:00.000Z';

/** The history's days before the first injected incident: the simulator serves them the same with or without incidents. */
const QUIET_UNTIL = '2026-06-12';
/** A config for 15 days of history from the simulator (seed 6, ~2,900 events a day) with `incidents`. */
const historyConfig = (ws: Workspace, incidents: unknown[]) =>
  ws.writeConfig({
    source: { kind: 'simulator', page_size: 5000, simulator: { seed: 6, rate_per_minute: 2, traffic: { incidents } } },
    checks: { freshness: { enabled: false } },
  });
const backfill = (config: string, from: string, to: string) =>
  aetl(
    ['backfill', '--from', from, '--to', to, '--parallel', '2', '--config', config],
    { AETL_NOW: NOW },
    180_000, // days loaded, then every hour of them judged
  );

/** The workspace holding the quiet days, loaded (and judged) once, by the first scenario: each starts from a copy of it. */
let quiet: Promise<Workspace> | undefined;
function quietDays(): Promise<Workspace> {
  quiet ??= (async () => {
    const ws = workspace();
    const load = await backfill(historyConfig(ws, []), '2026-06-01', QUIET_UNTIL);
    expect(load.code, load.stderr.slice(-1000)).toBe(0);
    return ws;
  })();
  return quiet;
}

/** The 15 days of history, the last four with `incidents`, then `aetl check` over the last 8. */
async function scenario(incidents: unknown[]): Promise<{ code: number | null; checks: Result[] }> {
  const ws = workspace();
  // The lake's tables are relative symbolic links: copied as they are, into the copy's own versions.
  cpSync((await quietDays()).dir, ws.dir, { recursive: true, verbatimSymlinks: true });
  const config = historyConfig(ws, incidents);
  const load = await backfill(config, QUIET_UNTIL, '2026-06-16');
  // The backfill judges the hours it loaded: an injected incident fails it already.
  expect(load.code, load.stderr.slice(-1000)).toBe(incidents.length === 0 ? 0 : 3);
  const check = await aetl(['check', '--from', '2026-06-08', '--to', '2026-06-16', '--json', '--config', config], {
    AETL_NOW: NOW,
  });
  return { code: check.code, checks: (JSON.parse(check.stdout) as { checks: Result[] }).checks };
}

const failing = (checks: Result[]) =>
  [...new Set(checks.filter((c) => c.status === 'fail').map((c) => `${c.name} @ ${c.bucket}`))].sort();

describe('anomaly checks', () => {
  it('an injected block-rate spike and volume drop fail exactly their hours, with observed values and expected ranges', async () => {
    const { code, checks } = await scenario([
      { at: SPIKE, kind: 'block_spike', share: 0.6 },
      { at: DROP, kind: 'volume_drop', share: 0.1 },
    ]);
    expect(code).toBe(3);
    expect(failing(checks)).toEqual([`anomaly_block_rate @ ${SPIKE}`, `anomaly_volume @ ${DROP}`]);
    const spike = checks.find((c) => c.name === 'anomaly_block_rate' && c.scope === 'total' && c.status === 'fail')!;
    expect(spike.observed).toBeGreaterThan(0.5);
    expect(spike.expected).toMatch(/^<= 0\.\d+$/);
    expect(spike.message).toMatch(/block_rate for total at 2026-06-13T14:00Z: 0\.\d+ is above the expected <= /);
    const drop = checks.find((c) => c.name === 'anomaly_volume' && c.scope === 'total' && c.status === 'fail')!;
    expect(drop.observed).toBeLessThan(30);
    expect(Number(drop.expected!.replace('>= ', ''))).toBeGreaterThan(60);
    // The spike does not become tomorrow's normal: its hour is out of the next day's baseline.
    const nextDay = checks.find(
      (c) =>
        c.name === 'anomaly_block_rate' &&
        c.scope === 'total' &&
        c.bucket === new Date(Date.parse(SPIKE) + 86_400_000).toISOString(),
    )!;
    expect(nextDay.status).toBe('pass');
    expect(nextDay.message).not.toMatch(/over 14 /); // 13 of the 14 prior days train it: the spike was left out
  }, 240_000);

  it('the same week without injected incidents raises no anomaly at all', async () => {
    const { code, checks } = await scenario([]);
    expect(failing(checks)).toEqual([]);
    expect(code).toBe(0);
    const judged = checks.filter((c) => c.name.startsWith('anomaly_') && c.status === 'pass');
    expect(judged.length).toBeGreaterThan(7 * 24 * 4); // seven days, total and per gateway, several metrics
  }, 240_000);

  it('seasonality: a daily peak is normal by hour of day, while a naive baseline flags it', async () => {
    const ws = workspace();
    const profile = Array.from({ length: 24 }, (_, hour) => (hour === 9 ? 5 : 1));
    const base = {
      source: {
        kind: 'simulator',
        page_size: 5000,
        simulator: { seed: 6, rate_per_minute: 1, traffic: { hourly_profile: profile } },
      },
    };
    const seasonal = ws.writeConfig({
      ...base,
      checks: { freshness: { enabled: false }, anomalies: { seasonality: 'hour_of_day', per_gateway: false } },
    });
    const naive = ws.writeConfig(
      { ...base, checks: { freshness: { enabled: false }, anomalies: { seasonality: 'none', per_gateway: false } } },
      'naive.yaml',
    );
    const load = await aetl(
      ['backfill', '--from', '2026-06-01', '--to', '2026-06-12', '--config', seasonal],
      { AETL_NOW: NOW },
      180_000,
    );
    expect(load.code, load.stderr.slice(-500)).toBe(0);
    const range = ['--from', '2026-06-09', '--to', '2026-06-12', '--json'];
    const good = await aetl(['check', ...range, '--config', seasonal], { AETL_NOW: NOW });
    expect(good.code).toBe(0);
    expect(failing(JSON.parse(good.stdout).checks)).toEqual([]);
    const bad = await aetl(['check', ...range, '--config', naive], { AETL_NOW: NOW });
    expect(bad.code).toBe(3);
    const flagged = failing(JSON.parse(bad.stdout).checks);
    expect(flagged).toEqual([
      'anomaly_cost @ 2026-06-09T09:00:00.000Z',
      'anomaly_cost @ 2026-06-10T09:00:00.000Z',
      'anomaly_cost @ 2026-06-11T09:00:00.000Z',
    ]);
  }, 180_000);

  it('too little history is insufficient_history, not a failure', async () => {
    const ws = workspace();
    const config = ws.writeConfig({ source: { kind: 'simulator', simulator: { seed: 6, rate_per_minute: 1 } } });
    const run = await aetl(['run', '--json', '--config', config], { AETL_NOW: NOW });
    expect(run.code).toBe(0);
    const statuses = new Set(
      (JSON.parse(run.stdout).checks as Result[]).filter((c) => c.name.startsWith('anomaly_')).map((c) => c.status),
    );
    expect([...statuses].sort()).toEqual(['insufficient_history', 'skipped']);
    expect(
      await scalar(ws.warehouse, "SELECT count(*)::INTEGER FROM dq_check_result WHERE status = 'insufficient_history'"),
    ).toBeGreaterThan(20);
    // `aetl check` with no range judges the last 24 loaded hours, completeness per day included.
    const check = await aetl(['check', '--json', '--config', config], { AETL_NOW: NOW });
    expect(check.code).toBe(0);
    const days = (JSON.parse(check.stdout).checks as Result[]).filter((c) => c.name === 'completeness');
    // The first run started 24 hours before now: the checked range is clipped to what was loaded.
    expect(days.map((d) => [d.scope, d.status])).toEqual([['day 2026-06-19', 'pass']]);
    // `--window` judges the window loaded last.
    const window = await aetl(['check', '--window', '--json', '--config', config], { AETL_NOW: NOW });
    expect(window.code).toBe(0);
    const windowDays = (JSON.parse(window.stdout).checks as Result[]).filter((c) => c.name === 'completeness');
    const sourceCount = (r: Result) => Number(/of (\d+) source events/.exec(r.message)![1]);
    expect(windowDays).toHaveLength(1);
    expect(sourceCount(windowDays[0]!)).toBeGreaterThan(100);
    expect(sourceCount(windowDays[0]!)).toBeLessThan(sourceCount(days[0]!) / 3);
  });
});

describe('completeness', () => {
  it('a source that counts events it never serves fails the blocking check: exit 3, checkpoint not advanced, alert signed', async () => {
    const received: { body: string; signature: string }[] = [];
    const receiver = await serveLocal((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received.push({ body, signature: String(req.headers['x-signature'] ?? '') });
        res.writeHead(200).end('ok');
      });
    });
    const url = `${receiver.url}/hooks/aetl`;
    try {
      const ws = workspace();
      const lossy = { kind: 'simulator', simulator: { seed: 9, rate_per_minute: 1, faults: { lost_share: 0.01 } } };
      const config = ws.writeConfig({
        source: lossy,
        checks: { alert: { url, secret: '${AETL_ALERT_SECRET}' } },
      });
      const run = await aetl(['run', '--config', config], { AETL_NOW: NOW, AETL_ALERT_SECRET: 'hook-secret' });
      expect(run.code).toBe(3);
      expect(run.stdout).toMatch(/completeness +pass \d+, FAIL \d+|completeness +FAIL 1/);
      expect(await scalar(ws.warehouse, 'SELECT count(*)::INTEGER FROM etl_state')).toBe(0);
      expect(await scalar(ws.warehouse, 'SELECT count(*)::INTEGER FROM fact_ai_event')).toBeGreaterThan(100);

      expect(received).toHaveLength(1);
      const expected = Buffer.from(
        `sha256=${createHmac('sha256', 'hook-secret').update(received[0]!.body).digest('hex')}`,
      );
      const given = Buffer.from(received[0]!.signature);
      expect(given.length === expected.length && timingSafeEqual(given, expected)).toBe(true);
      const message = JSON.parse(received[0]!.body) as { text: string; checks: Result[] };
      expect(message.text).toMatch(/checks_failed, 1 failing/);
      expect(message.checks.map((c) => c.name)).toEqual(['completeness']);
      expect(run.stdout + run.stderr).not.toContain('hook-secret');

      // Not blocking: the same failure reports exit 3, but the checkpoint moves.
      const lenient = ws.writeConfig({ source: lossy, checks: { completeness: { blocking: false } } }, 'lenient.yaml');
      const second = await aetl(['run', '--config', lenient], { AETL_NOW: NOW });
      expect(second.code).toBe(3);
      expect(await query(ws.warehouse, 'SELECT checkpoint::VARCHAR AS c FROM etl_state')).toEqual([
        { c: '2026-06-19 23:58:00+00' },
      ]);
    } finally {
      await receiver.close();
    }
  });
});
