import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BIGQUERY_TYPES, bigqueryDialect } from '../../src/warehouse/bigquery/bigquery-dialect.js';
import type { Driver, SqlParams } from '../../src/warehouse/driver.js';
import { lakePartitionRows } from '../../src/warehouse/sql/sql-lake.js';
import { exportInSlices } from '../../src/warehouse/sql/sql-sliced-export.js';
import { REPO } from '../helpers/workspace.js';
import { BigQueryAnalyzer, type BigQueryType } from './bigquery-analyzer.js';

/**
 * A remote engine's lake file is written by a local DuckDB, which can run out of memory on a day of
 * wide values: the SQL that then reaches BigQuery (the day's packages, then one export each) is
 * sent by no stand-in test, so ZetaSQL judges it here.
 */
const DATASET = 'aetl-test.aetl';
let analyzer: BigQueryAnalyzer;

beforeAll(async () => {
  analyzer = await BigQueryAnalyzer.start();
  for (const file of readdirSync(join(REPO, 'sql/bigquery/migrations')).sort()) {
    const ddl = readFileSync(join(REPO, 'sql/bigquery/migrations', file), 'utf8').replaceAll('{{dataset}}', DATASET);
    expect(await analyzer.analyze(ddl), file).toEqual([]);
  }
});
afterAll(() => analyzer?.close());

const typesOf = (params: SqlParams): Record<string, BigQueryType> =>
  Object.fromEntries(
    Object.entries(params).map(([name, p]) => [name, { type: BIGQUERY_TYPES[(p as { type: 'text' }).type] }]),
  );

it.each(['fact_ai_event', 'fact_policy_evaluation'])(
  'a whole day of %s that the lake writer cannot hold is listed and written per package in SQL BigQuery accepts',
  async (table) => {
    const sent: { sql: string; params: SqlParams }[] = [];
    const driver = {
      dialect: bigqueryDialect(DATASET),
      run: (_purpose: string, sql: string, params: SqlParams = {}) => {
        sent.push({ sql, params });
        return Promise.resolve([
          { run_id: 'r0', package_seq: -1 },
          { run_id: 'r1', package_seq: 2 },
        ]);
      },
      exportParquet: (_purpose: string, sql: string, params: SqlParams) => {
        sent.push({ sql, params });
        // The whole day, the first export, does not fit the local writer's pool.
        if (sent.length === 1) return Promise.reject(new Error('Out of Memory Error: failed to allocate data'));
        return Promise.resolve();
      },
    } as unknown as Driver;
    const rows = lakePartitionRows(driver.dialect, 'default', {
      table,
      eventDate: '2026-04-10',
      runId: 'r2',
      packageSeq: null,
    });
    let n = 0;
    const files = await exportInSlices(driver, 'test', rows, () => `/nowhere/${++n}.parquet`);
    expect(files).toEqual(['/nowhere/2.parquet', '/nowhere/3.parquet']);
    expect(sent).toHaveLength(4); // the whole day, its packages, one export per package
    for (const { sql, params } of sent) expect(await analyzer.analyze(sql, typesOf(params)), sql).toEqual([]);
  },
);
