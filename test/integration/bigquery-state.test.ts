import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BigQueryDriver } from '../../src/warehouse/bigquery/bigquery-driver.js';
import { SqlChecks } from '../../src/warehouse/sql/sql-checks.js';
import { SqlState } from '../../src/warehouse/sql/sql-state.js';
import { migrationFiles } from '../../src/warehouse/sql/migrations.js';
import { BigQueryStandIn } from '../stand-ins/bigquery/server.js';
import { SCRATCH } from '../helpers/duckdb.js';

process.env.NO_PROXY = '127.0.0.1,localhost';
const TOKEN = 'state-token';
const T0 = Date.parse('2026-11-23T10:00:00Z');

describe('BigQuery pipeline state (real client, stand-in)', () => {
  let standIn: BigQueryStandIn;
  let state: SqlState;
  let checks: SqlChecks;
  let migrate: () => Promise<number>;

  beforeAll(async () => {
    standIn = await BigQueryStandIn.start(TOKEN);
    const driver = BigQueryDriver.open(
      {
        project: 'proj',
        dataset: 'etl',
        location: 'US',
        apiEndpoint: standIn.url,
        accessToken: TOKEN,
      },
      SCRATCH,
    );
    state = new SqlState(driver);
    checks = new SqlChecks(driver);
    migrate = () => driver.migrate();
  });
  afterAll(() => standIn.close());

  it('creates the dataset and tables once, and records the schema version', async () => {
    const files = migrationFiles('bigquery');
    expect(await migrate()).toBe(files.length);
    expect(await migrate()).toBe(0);
    expect(await standIn.rows('SELECT version, name FROM etl.etl_schema_version ORDER BY version')).toEqual(
      files.map((name, i) => ({ version: BigInt(i + 1), name })),
    );
    expect(await state.getCheckpoint('default')).toBeNull();
    expect(await state.loadedFiles('default')).toEqual(new Map());
    expect(await state.loadedSpan('default')).toBeNull();
    expect(await state.lastWindow('default')).toBeNull();
  });

  it('keeps the run ledger: started, finished, and abandoned when a crash left one running', async () => {
    await state.startRun({ runId: 'r1', pipeline: 'default', command: 'run', startedMs: T0 });
    await state.finishRun({ runId: 'r1', status: 'succeeded', error: null, nextStep: null, finishedMs: T0 + 5000 });
    await state.startRun({ runId: 'r2', pipeline: 'default', command: 'run', startedMs: T0 + 60_000 });
    await state.abandonUnfinishedRuns('default', T0 + 120_000);
    const runs = await standIn.rows(
      'SELECT run_id, status, epoch_ms(finished_at) AS finished, error IS NOT NULL AS has_error FROM etl.etl_run ORDER BY run_id',
    );
    expect(runs).toEqual([
      { run_id: 'r1', status: 'succeeded', finished: BigInt(T0 + 5000), has_error: false },
      { run_id: 'r2', status: 'abandoned', finished: BigInt(T0 + 120_000), has_error: true },
    ]);
  });

  it('appends check results with their values bound, in slices below the parameter limit', async () => {
    const results = Array.from({ length: 1201 }, (_, i) => ({
      name: 'anomaly_volume',
      scope: `gateway:gw_${i}`,
      status: i === 0 ? ('fail' as const) : ('pass' as const),
      blocking: false,
      observed: i === 1 ? Number.NaN : i,
      expected: i === 2 ? null : "'<= 3'; DROP TABLE etl.etl_run; --",
      message: `bucket ${i}`,
      bucket: i === 3 ? null : T0,
    }));
    await checks.writeCheckResults('default', 'r1', results, T0);
    const [summary] = await standIn.rows(
      `SELECT count(*) AS n, count(observed) AS observed, count(expected) AS expected, count(bucket) AS buckets,
              sum(observed)::BIGINT AS total, count(*) FILTER (WHERE status = 'fail') AS failed FROM etl.dq_check_result`,
    );
    const sumOfObserved = (1200 * 1201) / 2 - 1; // 0..1200 without the NaN at 1
    expect(summary).toEqual({
      n: 1201n,
      observed: 1200n,
      expected: 1200n,
      buckets: 1200n,
      total: BigInt(sumOfObserved),
      failed: 1n,
    });
    expect(await standIn.rows('SELECT count(*) AS n FROM etl.etl_run')).toEqual([{ n: 2n }]);
  });

  it('stops with the drifted columns named when someone changed our tables', async () => {
    expect(await migrate()).toBe(0); // no drift yet
    await standIn.rows('ALTER TABLE etl.etl_state DROP COLUMN updated_at');
    await standIn.rows('ALTER TABLE etl.fact_ai_event ALTER COLUMN decision TYPE INTEGER USING 0');
    const error = (await migrate().catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(/the BigQuery dataset proj\.etl has drifted from our schema/);
    expect(error.message).toContain('etl_state.updated_at is missing (expected TIMESTAMP)');
    expect(error.message).toContain('fact_ai_event.decision is INT64, expected STRING');
  });
});
