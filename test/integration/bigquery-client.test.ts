import { CredentialRefusedError } from '../../src/util/errors.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BigQueryClient } from '../../src/warehouse/bigquery/bigquery-driver.js';
import { BigQueryStandIn, type QueryParameter } from '../stand-ins/bigquery/server.js';
import { REPO, Workspace } from '../helpers/workspace.js';

const TOKEN = 'ya29.test-token-that-must-never-show';
process.env.NO_PROXY = '127.0.0.1,localhost';

describe('BigQuery client against the stand-in (the real @google-cloud/bigquery library)', () => {
  const ws = new Workspace();
  let standIn: BigQueryStandIn;
  let client: BigQueryClient;

  beforeAll(async () => {
    standIn = await BigQueryStandIn.start(TOKEN);
    client = BigQueryClient.create({
      project: 'proj',
      dataset: 'aetl',
      location: 'EU',
      apiEndpoint: standIn.url,
      accessToken: TOKEN,
    });
  });
  afterAll(async () => {
    await standIn.close();
    ws.remove();
  });

  it('creates the dataset once and applies our DDL (partitioned, clustered tables; unknown members)', async () => {
    await client.ensureDataset();
    await client.ensureDataset();
    const ddl = readFileSync(join(REPO, 'sql/bigquery/migrations/001_initial_schema.sql'), 'utf8').replaceAll(
      '{{dataset}}',
      'proj.aetl',
    );
    await client.query('applying the schema', ddl);
    await client.query('applying the schema again', ddl);
    const tables = await standIn.rows(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'aetl' ORDER BY 1",
    );
    expect(tables.map((t) => t.table_name)).toEqual(
      expect.arrayContaining(['fact_ai_event', 'fact_policy_evaluation', 'dim_user', 'etl_state', 'dq_check_result']),
    );
    expect(await standIn.rows('SELECT user_key, user_id FROM aetl.dim_user')).toEqual([
      { user_key: 0n, user_id: '(unknown)' },
    ]);
  });

  it('loads Parquet with a load job and reads typed rows back with bound parameters', async () => {
    const file = ws.path('batch.parquet');
    const duck = await DuckDBInstance.create(':memory:');
    const c = await duck.connect();
    await c.run(`COPY (SELECT 'e' || i AS event_id, TIMESTAMPTZ '2026-04-01 00:00:00+00' + INTERVAL (i) SECOND AS event_ts,
                  (i * 0.25)::DECIMAL(18,6) AS cost_usd FROM range(5) t(i)) TO '${file}' (FORMAT parquet)`);
    c.closeSync();
    duck.closeSync();
    await client.loadParquet('loading the batch', file, 'stage_run1');
    await client.loadParquet('loading the batch again', file, 'stage_run1');
    const rows = await client.query(
      'reading the batch',
      'SELECT count(*) AS n, max(event_ts) AS last_ts, sum(cost_usd) AS cost FROM `proj.aetl.stage_run1` WHERE event_id <> @skip',
      { skip: { type: 'STRING', value: 'e0' } },
    );
    expect(rows).toHaveLength(1);
    expect(String(rows[0]!.n)).toBe('8'); // two loads of 5 rows, minus the two e0
    expect((rows[0]!.last_ts as { value: string }).value).toBe('2026-04-01T00:00:04.000Z');
    expect(String(rows[0]!.cost)).toBe('5');
    await client.dropTable('stage_run1');
    await client.dropTable('stage_run1');
    expect(await standIn.rows("SELECT 1 FROM information_schema.tables WHERE table_name = 'stage_run1'")).toEqual([]);
  });

  it('sends every parameter with its type, a NULL too; an untyped one is refused, as BigQuery does', async () => {
    const types = ['STRING', 'INT64', 'FLOAT64', 'BOOL', 'TIMESTAMP', 'DATE', 'NUMERIC'] as const;
    const names = types.map((type) => type.toLowerCase());
    const sql = `SELECT ${names.map((name) => `@${name} IS NULL AS ${name}`).join(', ')}`;
    const params = Object.fromEntries(types.map((type, i) => [names[i]!, { type, value: null }]));
    const [row] = await client.query('binding NULLs', sql, params);
    expect(row).toEqual(Object.fromEntries(names.map((name) => [name, true])));
    const job = [...standIn.jobs.values()].find((j) => JSON.stringify(j.resource).includes('@string IS NULL'))!;
    const sent = (job.resource.configuration as { query: { queryParameters: QueryParameter[] } }).query.queryParameters;
    expect(sent.map((p) => [p.name, p.parameterType])).toEqual(names.map((name, i) => [name, { type: types[i] }]));

    // The client itself refuses to send a NULL without a type; a raw request shows the stand-in refuses one too.
    const untyped = await standIn.uncaptured(() =>
      fetch(`${standIn.url}/bigquery/v2/projects/proj/queries`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ query: 'SELECT @x IS NULL', queryParameters: [{ name: 'x', parameterValue: {} }] }),
      }),
    );
    expect(untyped.status).toBe(400);
    expect(await untyped.text()).toContain("Query parameter 'x' has no parameterType");
  });

  it('refuses a statement past its query-complexity limit, as BigQuery does a long UNION ALL of rows', async () => {
    const union = (n: number) => Array.from({ length: n }, (_, i) => `SELECT ${i} AS n`).join(' UNION ALL ');
    const [row] = await client.query('counting', `SELECT COUNT(*) AS n FROM (${union(101)})`);
    expect(String(row!.n)).toBe('101');
    const error = (await client.query('recording check results', union(102)).catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(/too many subqueries or query is too complex/);
  });

  it('names the purpose and the job id of a failed statement, never the token', async () => {
    const error = (await standIn.uncaptured(() =>
      client.query('merging the batch', 'SELECT * FROM `proj.aetl.no_such_table`').catch((e: unknown) => e),
    )) as Error;
    expect(error.message).toMatch(
      /^BigQuery merging the batch failed \(job aetl_merging_the_batch_[0-9a-f]{32}, invalidQuery\): /,
    );
    expect(error.message).toContain('no_such_table');
    expect(error.message).not.toContain(TOKEN);
    const wrong = BigQueryClient.create({ ...client.settings, accessToken: 'wrong-token' });
    const denied = (await wrong.query('reading state', 'SELECT 1').catch((e: unknown) => e)) as Error;
    // A refused credential is a configuration error (exit 2), naming the key to fix.
    expect(denied).toBeInstanceOf(CredentialRefusedError);
    expect(denied.message).toMatch(
      /^BigQuery refused the credential while reading state \(HTTP 401, unauthorized\): check warehouse\.access_token/,
    );
    expect(denied.message).not.toContain('wrong-token');
  });
});
