import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulatorSettingsFrom } from '../../src/config/schema.js';
import { normalizeRecord } from '../../src/contract/normalize.js';
import { PackageBuilder } from '../../src/pipeline/extract.js';
import { EventUniverse } from '../../src/simulator/generator.js';
import type { PackageManifest } from '../../src/staging/package.js';
import { BigQueryClient } from '../../src/warehouse/bigquery/bigquery-client.js';
import { loadPackageToBigQuery } from '../../src/warehouse/bigquery/bigquery-load.js';
import { stagingTables } from '../../src/warehouse/bigquery/bigquery-sql.js';
import { BigQueryStandIn } from '../stand-ins/bigquery/server.js';
import { REPO, shippedReference, Workspace } from '../helpers/workspace.js';

process.env.NO_PROXY = '127.0.0.1,localhost';
const TOKEN = 'test-token';
const ds = { project: 'proj', dataset: 'aetl' };
const CHECKPOINT = Date.parse('2026-11-23T00:00:00Z');

describe('BigQuery load: load jobs, one MERGE transaction, idempotent re-runs (real client, stand-in)', () => {
  const ws = new Workspace();
  let standIn: BigQueryStandIn;
  let client: BigQueryClient;
  let manifest: PackageManifest;
  const dir = ws.path('package');
  const expected = { facts: 0, policies: 0, costMicros: 0n };

  beforeAll(async () => {
    standIn = await BigQueryStandIn.start(TOKEN);
    client = BigQueryClient.create({ ...ds, location: 'US', apiEndpoint: standIn.url, accessToken: TOKEN });
    await client.ensureDataset();
    const ddl = readFileSync(join(REPO, 'sql/bigquery/ddl.sql'), 'utf8').replaceAll('{{dataset}}', 'proj.aetl');
    await client.query('applying the schema', ddl);

    const settings = simulatorSettingsFrom({ seed: 3, rate_per_minute: 200 });
    const universe = new EventUniverse(settings, shippedReference());
    const events = [0, 1, 2, 3].flatMap((i) => universe.eventsInMinute(29_000_000 + i));
    const records = events.map((e, i) => ({
      kind: 'value' as const,
      value: e.payload,
      location: { source: 'sim', ref: `item ${i + 1}` },
    }));
    records.push({ ...records[0]!, location: { source: 'sim', ref: 'again' } }); // an exact re-delivery
    const policyNames = new Set<string>();
    for (const e of events) {
      const result = normalizeRecord(e.payload);
      if (!result.ok) throw new Error('the simulator made an invalid event');
      expected.facts++;
      expected.policies += result.event.policies.length;
      expected.costMicros += e.costMicros;
      for (const p of result.event.policies) policyNames.add(p.name);
    }
    // Dimension sync is not part of this slice: the policies are declared here.
    for (const [i, name] of [...policyNames].entries()) {
      await client.query(
        'declaring a policy',
        'INSERT INTO `proj.aetl.dim_policy` (policy_key, policy_name) VALUES (@k, @n)',
        {
          k: { type: 'INT64', value: i + 1 },
          n: { type: 'STRING', value: name },
        },
      );
    }
    const builder = await PackageBuilder.create(dir, null);
    await builder.add(records);
    manifest = await builder.finish('run-1', null, []);
  });
  afterAll(async () => {
    await standIn.close();
    ws.remove();
  });

  const load = (runId: string) =>
    loadPackageToBigQuery(client, ds, {
      pipeline: 'default',
      runId,
      seq: 1,
      packageDir: dir,
      manifest,
      checkpointTo: CHECKPOINT,
      nowMs: CHECKPOINT,
    });
  const facts = async () =>
    (
      await standIn.rows(`SELECT count(*) AS n, count(DISTINCT event_id) AS ids, sum(cost_usd * 1000000)::BIGINT AS micros,
        (SELECT count(*) FROM aetl.fact_policy_evaluation) AS policies FROM aetl.fact_ai_event`)
    )[0];

  it('loads every event once, with its policy rows and the exact cost, and moves the checkpoint in the same commit', async () => {
    const stats = await load('run-1');
    expect(stats).toEqual({ rows: expected.facts + 1, distinctIds: expected.facts });
    expect(await facts()).toEqual({
      n: BigInt(expected.facts),
      ids: BigInt(expected.facts),
      micros: expected.costMicros,
      policies: BigInt(expected.policies),
    });
    const state = await standIn.rows('SELECT pipeline, epoch_ms(checkpoint) AS ms, run_id FROM aetl.etl_state');
    expect(state).toEqual([{ pipeline: 'default', ms: BigInt(CHECKPOINT), run_id: 'run-1' }]);
    expect(standIn.statements.some((s) => s.includes('MERGE `proj.aetl.fact_ai_event` f'))).toBe(true);
  });

  it('a re-run, and a run killed between its load job and its MERGE then re-run, add nothing', async () => {
    await load('run-2');
    const killed = stagingTables('run-3', 1);
    await client.loadParquet('loading staged events', join(dir, manifest.files.events[0]!), killed.events);
    await load('run-4');
    expect(await facts()).toEqual({
      n: BigInt(expected.facts),
      ids: BigInt(expected.facts),
      micros: expected.costMicros,
      policies: BigInt(expected.policies),
    });
    const staging = await standIn.rows(
      "SELECT table_name FROM information_schema.tables WHERE table_name LIKE '_aetl_stage%'",
    );
    expect(staging).toEqual([{ table_name: killed.events }]); // only the killed run's; its cleanup comes with the adapter
  });
});
