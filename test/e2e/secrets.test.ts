import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulatorSettingsFrom } from '../../src/config/schema.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/simulator.js';
import { aetl, type CliResult } from '../helpers/cli.js';
import { query, tablesAsText } from '../helpers/duckdb.js';
import { snowflakeWarehouse } from '../helpers/engines.js';
import { shippedReference, Workspace } from '../helpers/workspace.js';
import { serveLocal, type LocalServer } from '../helpers/local-server.js';
import { SnowflakeStandIn } from '../stand-ins/snowflake/server.js';

/**
 * Recognisable secrets go into the config through the environment; then every
 * output channel (stdout, stderr with its JSON logs) and every file the runs
 * write (the warehouse's tables as text, the lake, staging, schedule state)
 * is searched for them, on success and failure paths.
 */
const TOKEN = 'tok-SECRET-5f1c2b9e7a';
const ALERT_SECRET = 'hmac-SECRET-83d0aa41';
const ALERT_PATH = '/hooks/SECRET-webhook-9921';
const SF_PASSWORD = 'pw-SECRET-c41e6d07';
const SECRETS = [TOKEN, ALERT_SECRET, ALERT_PATH, SF_PASSWORD];
const NOW = '2026-06-10T06:00:00Z';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

function expectNoSecret(where: string, text: string): void {
  for (const secret of SECRETS) expect(text.includes(secret), `${secret} found in ${where}`).toBe(false);
}

async function expectCleanWorkspace(ws: Workspace, outputs: CliResult[]): Promise<void> {
  outputs.forEach((o, i) => expectNoSecret(`output of command ${i + 1}`, o.stdout + o.stderr));
  for (const file of filesUnder(ws.dir)) {
    if (file.endsWith('config.yaml')) continue; // holds ${ENV} references, not values (asserted below)
    expectNoSecret(file, readFileSync(file).toString('latin1'));
  }
  expectNoSecret('config.yaml', readFileSync(ws.path('config.yaml'), 'utf8'));
}

describe('secrets never leave the process: logs, errors, status, the run ledger, alerts, files', () => {
  const workspaces: Workspace[] = [];
  let simulator: RunningSimulator;
  let webhook: LocalServer;
  const alerts: string[] = [];
  let webhookUrl = '';
  let echoing: LocalServer;
  let echoUrl = '';
  const env = { SRC_TOKEN: TOKEN, ALERT_SECRET, ALERT_URL: '', SF_PASSWORD };

  beforeAll(async () => {
    simulator = await startSimulator(
      simulatorSettingsFrom({ seed: 5, rate_per_minute: 3, faults: { lost_share: 0.3 } }),
      shippedReference(),
      () => Date.parse(NOW),
      { token: TOKEN },
    );
    webhook = await serveLocal((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        alerts.push(body + JSON.stringify(req.headers));
        res.writeHead(200).end();
      });
    });
    // A broken proxy that echoes the request's Authorization header in an HTML page.
    echoing = await serveLocal((req, res) =>
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end(`<html>bad gateway for ${req.headers.authorization}</html>`),
    );
    webhookUrl = `${webhook.url}${ALERT_PATH}`;
    echoUrl = echoing.url;
    env.ALERT_URL = webhookUrl;
  });
  afterAll(async () => {
    await simulator.close();
    await Promise.all([webhook.close(), echoing.close()]);
    workspaces.forEach((w) => w.remove());
  });

  const workspace = (overrides: Record<string, unknown>) => {
    const ws = new Workspace();
    workspaces.push(ws);
    return { ws, config: ws.writeConfig(overrides) };
  };

  it('a run whose checks fail (alert sent), then status and check: no secret anywhere', async () => {
    const { ws, config } = workspace({
      source: { kind: 'events_api', url: simulator.url, token: '${SRC_TOKEN}' },
      checks: { alert: { url: '${ALERT_URL}', secret: '${ALERT_SECRET}', on: ['fail', 'warn', 'error'] } },
    });
    const outputs = [
      await aetl(['run', '--config', config], { ...env, AETL_NOW: NOW }),
      await aetl(['status', '--config', config], { ...env, AETL_NOW: NOW }),
      await aetl(['status', '--json', '--config', config], { ...env, AETL_NOW: NOW }),
      await aetl(['check', '--config', config], { ...env, AETL_NOW: NOW }),
    ];
    expect(outputs[0]!.code, outputs[0]!.stderr).toBe(3);
    expect(alerts.length).toBeGreaterThan(0);
    alerts.forEach((a) => expectNoSecret('an alert', a.replace(/"x-signature":"sha256=[0-9a-f]+"/, '')));
    await expectCleanWorkspace(ws, outputs);
    expectNoSecret('the warehouse', await tablesAsText(ws.warehouse));
  });

  it('a source that answers 401, and a proxy that echoes the token into its error page: censored everywhere', async () => {
    const { ws, config } = workspace({ source: { kind: 'events_api', url: simulator.url, token: '${BAD_TOKEN}' } });
    const denied = await aetl(['run', '--config', config], { BAD_TOKEN: `${TOKEN}-wrong`, AETL_NOW: NOW });
    expect(denied.code).toBe(2);
    expect(denied.stderr).toContain('HTTP 401');
    // The failed run pages too: the alert carries the error, so it must be censored there as well.
    const echoed = workspace({
      source: { kind: 'events_api', url: echoUrl, token: '${SRC_TOKEN}', max_retries: 0 },
      checks: { alert: { url: '${ALERT_URL}' } },
    });
    const alertsBefore = alerts.length;
    const broken = await aetl(['run', '--config', echoed.config], { ...env, AETL_NOW: NOW });
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain('bad gateway for Bearer [redacted]');
    const paged = alerts.slice(alertsBefore);
    expect(paged).toHaveLength(1);
    expect(paged[0]).toContain('bad gateway for Bearer [redacted]');
    expectNoSecret('the failed run’s alert', paged[0]!);
    const [run] = await query(echoed.ws.warehouse, 'SELECT error FROM etl_run');
    expect(String(run!.error)).toContain('Bearer [redacted]');
    for (const [w, out] of [
      [ws, denied],
      [echoed.ws, broken],
    ] as const) {
      await expectCleanWorkspace(w, [out]);
      expectNoSecret('the warehouse', await tablesAsText(w.warehouse));
    }
  });

  it('a failed warehouse statement whose error echoes the password: censored in errors, logs and the ledger', async () => {
    const standIn = await SnowflakeStandIn.start({
      password: SF_PASSWORD,
      failEchoingPassword: /^MERGE INTO "AETL"."PUBLIC"."FACT_AI_EVENT"/,
    });
    try {
      const { ws, config } = workspace({
        source: { kind: 'simulator', simulator: { seed: 5, rate_per_minute: 3 } },
        warehouse: snowflakeWarehouse(standIn.url),
      });
      const failed = await aetl(['run', '--config', config], { ...env, AETL_NOW: NOW });
      expect(failed.code).toBe(1);
      expect(failed.stderr).toContain('opened with password [redacted]');
      const [run] = await standIn.rows('SELECT error FROM aetl.public.etl_run');
      expect(String(run!.error)).toContain('opened with password [redacted]');
      await expectCleanWorkspace(ws, [failed]);
      const ledger = await standIn.rows(
        "SELECT string_agg(CAST(t AS VARCHAR), '\n') AS text FROM (SELECT * FROM aetl.public.etl_run UNION ALL BY NAME SELECT * FROM aetl.public.dq_check_result) t",
      );
      expectNoSecret('the Snowflake run ledger', String(ledger[0]!.text));
    } finally {
      await standIn.close();
    }
  });
});
