import { randomBytes } from 'node:crypto';
import { BigQuery } from '@google-cloud/bigquery';
import { afterAll, describe, expect, it } from 'vitest';
import { aetl } from '../helpers/cli.js';
import { query } from '../helpers/duckdb.js';
import { Workspace } from '../helpers/workspace.js';

/**
 * The e2e scenario against a real BigQuery project, only with BIGQUERY_LIVE=1
 * and credentials the usual Google way (ADC or GOOGLE_APPLICATION_CREDENTIALS)
 * plus BIGQUERY_PROJECT (and optionally BIGQUERY_LOCATION). It creates a
 * dataset of its own and deletes it afterwards.
 */
const live = process.env.BIGQUERY_LIVE === '1' && Boolean(process.env.BIGQUERY_PROJECT);
const reason = 'set BIGQUERY_LIVE=1, BIGQUERY_PROJECT and Google credentials (ADC) to run it';
if (!live) console.info(`bigquery-live: skipped (${reason})`);

describe.skipIf(!live)(`simulator → aetl run → live BigQuery (${live ? 'live' : `skipped: ${reason}`})`, () => {
  const project = process.env.BIGQUERY_PROJECT ?? '';
  const location = process.env.BIGQUERY_LOCATION ?? 'US';
  const dataset = `aetl_live_${randomBytes(4).toString('hex')}`;
  const duck = new Workspace();
  const bq = new Workspace();
  const simulator = { seed: 11, rate_per_minute: 3 };
  afterAll(async () => {
    await new BigQuery({ projectId: project })
      .dataset(dataset)
      .delete({ force: true })
      .catch(() => undefined);
    duck.remove();
    bq.remove();
  });

  it('loads the same facts as the DuckDB warehouse, twice without duplicates', async () => {
    const bqConfig = bq.writeConfig({
      source: { kind: 'simulator', simulator },
      warehouse: { kind: 'bigquery', project, dataset, location },
    });
    const duckConfig = duck.writeConfig({ source: { kind: 'simulator', simulator } });
    for (const now of ['2026-05-01T12:00:00.000Z', '2026-05-01T12:20:00.000Z']) {
      const run = await aetl(['run', '--config', bqConfig], { AETL_NOW: now }, 600_000);
      expect(run.code, run.stderr).toBe(0);
      expect((await aetl(['run', '--config', duckConfig], { AETL_NOW: now })).code).toBe(0);
    }
    const [rows] = await new BigQuery({ projectId: project, location }).query(
      `SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS ids, CAST(SUM(cost_usd) AS STRING) AS cost
       FROM \`${project}.${dataset}.fact_ai_event\``,
    );
    const [expected] = await query(
      duck.warehouse,
      'SELECT count(*) AS n, count(DISTINCT event_id) AS ids, sum(cost_usd) AS cost FROM fact_ai_event',
    );
    expect(Number(rows[0].n)).toBe(Number(expected!.n));
    expect(Number(rows[0].ids)).toBe(Number(expected!.n));
    expect(Number(rows[0].cost)).toBeCloseTo(Number(expected!.cost), 6);
  }, 900_000);
});
