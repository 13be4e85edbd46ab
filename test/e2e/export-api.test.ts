import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulatorSettingsFrom } from '../../src/config/schema.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/simulator.js';
import { aetl } from '../helpers/cli.js';
import { query } from '../helpers/duckdb.js';
import { shippedReference, Workspace } from '../helpers/workspace.js';

const NOW = '2026-09-01T00:00:00Z';
const settings = simulatorSettingsFrom({
  seed: 55,
  rate_per_minute: 1,
  bad_record_rate: 0.005,
  faults: { duplicate_share: 0.05, http_500_rate: 0.1 },
});

describe('Export API source', () => {
  let simulator: RunningSimulator;
  const workspaces: Workspace[] = [];
  beforeAll(async () => {
    simulator = await startSimulator(settings, shippedReference(), () => Date.parse(NOW), { token: 'export-token' });
  });
  afterAll(async () => {
    await simulator.close();
    workspaces.forEach((w) => w.remove());
  });

  it.each([
    ['jsonl', 'gzip'],
    ['json', 'none'],
    ['csv', 'gzip'],
  ])('%s (%s): export, poll, download, load = ground truth', async (format, compression) => {
    const ws = new Workspace();
    workspaces.push(ws);
    const config = ws.writeConfig({
      source: {
        kind: 'export_api',
        url: simulator.url,
        token: '${EXPORT_TOKEN}',
        export: { format, compression, poll_interval: '20ms' },
      },
      checks: { max_reject_rate: 0.05 },
    });
    const run = await aetl(['run', '--config', config], { AETL_NOW: NOW, EXPORT_TOKEN: 'export-token' });
    expect(run.code, run.stderr.slice(-1500)).toBe(0);
    const now = Date.parse(NOW);
    const truth = simulator.universe.groundTruth(now - 86_400_000, now - 120_000, now);
    const ids = (await query(ws.warehouse, 'SELECT event_id FROM fact_ai_event ORDER BY 1')).map((r) => r.event_id);
    expect(ids).toEqual([...truth.validIds].sort());
    const [row] = await query(
      ws.warehouse,
      'SELECT sum(cost_usd)::VARCHAR AS cost, (SELECT count(*)::INTEGER FROM etl_rejected_event) AS rejects FROM fact_ai_event',
    );
    expect(row).toEqual({ cost: (Number(truth.costMicros) / 1e6).toFixed(6), rejects: truth.invalidCount });
    const [where] = await query(ws.warehouse, 'SELECT source_location, source_ref FROM etl_rejected_event LIMIT 1');
    expect(where!.source_location).toBe(`${simulator.url}/v1/exports`);
    expect(where!.source_ref).toMatch(/^export exp_\d+ (line|item) \d+$/);
  });
});
