import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulatorSettingsFrom } from '../../src/config/schema.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/simulator.js';
import { aetl } from '../helpers/cli.js';
import { query } from '../helpers/duckdb.js';
import { shippedReference, Workspace } from '../helpers/workspace.js';
import { serveLocal } from '../helpers/local-server.js';

const SECRET = 'sk-test-5f1d2c9a-RECOGNISABLE';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe('Events API authentication', () => {
  const ws = new Workspace();
  let simulator: RunningSimulator;

  beforeAll(async () => {
    const reference = shippedReference();
    const settings = simulatorSettingsFrom({ seed: 3, rate_per_minute: 1 });
    simulator = await startSimulator(settings, reference, () => Date.parse('2026-05-01T12:00:00Z'), {
      token: 'the-right-token',
    });
  });
  afterAll(async () => {
    await simulator.close();
    ws.remove();
  });

  it('a refused token is a configuration error: exit 2 at once (an orchestrator does not retry it), naming source.token, never showing it', async () => {
    const config = ws.writeConfig({
      source: { kind: 'events_api', url: simulator.url, token: '${AETL_SOURCE_TOKEN}', max_retries: 3 },
    });
    const started = Date.now();
    const run = await aetl(['run', '--config', config, '--log-level', 'debug'], {
      AETL_SOURCE_TOKEN: SECRET,
      AETL_NOW: '2026-05-01T12:00:00Z',
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/authentication failed: .*HTTP 401; check source\.token/);
    expect(Date.now() - started).toBeLessThan(15_000); // no retry loop on 401
    expect(run.stdout + run.stderr).not.toContain(SECRET);
    const [ledger] = await query(ws.warehouse, 'SELECT status, error FROM etl_run');
    expect(ledger).toMatchObject({ status: 'failed' });
    expect(String(ledger!.error)).toMatch(/authentication failed/);
    for (const file of filesUnder(ws.dir)) expect(readFileSync(file).includes(SECRET), file).toBe(false);
  });

  it('a run that fails outright sends one alert with the error, never the token', async () => {
    const bodies: string[] = [];
    const receiver = await serveLocal((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        bodies.push(body);
        res.writeHead(204).end();
      });
    });
    try {
      const url = `${receiver.url}/hook`;
      const config = ws.writeConfig(
        {
          source: { kind: 'events_api', url: simulator.url, token: '${AETL_SOURCE_TOKEN}' },
          checks: { alert: { url } },
        },
        'alerting.yaml',
      );
      const run = await aetl(['run', '--config', config], {
        AETL_SOURCE_TOKEN: SECRET,
        AETL_NOW: '2026-05-01T12:00:00Z',
      });
      expect(run.code).toBe(2);
      expect(bodies).toHaveLength(1);
      const alert = JSON.parse(bodies[0]!) as { status: string; checks: { status: string; message: string }[] };
      expect(alert.status).toBe('failed');
      expect(alert.checks[0]).toMatchObject({ status: 'error' });
      expect(alert.checks[0]!.message).toMatch(/authentication failed/);
      expect(bodies[0]).not.toContain(SECRET);
    } finally {
      await receiver.close();
    }
  });

  it('loads with the right token', async () => {
    const config = ws.writeConfig({
      source: { kind: 'events_api', url: simulator.url, token: '${AETL_SOURCE_TOKEN}' },
    });
    const run = await aetl(['run', '--config', config], {
      AETL_SOURCE_TOKEN: 'the-right-token',
      AETL_NOW: '2026-05-01T12:00:00Z',
    });
    expect(run.code, run.stderr).toBe(0);
    const [row] = await query(ws.warehouse, 'SELECT count(*)::INTEGER AS n FROM fact_ai_event');
    expect(row!.n).toBeGreaterThan(1000);
  });
});
