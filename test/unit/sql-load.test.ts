import { describe, expect, it } from 'vitest';
import { bigqueryDialect } from '../../src/warehouse/bigquery/bigquery-dialect.js';
import { snowflakeDialect } from '../../src/warehouse/snowflake/snowflake-dialect.js';
import { duckdbDialect } from '../../src/warehouse/duckdb/duckdb-dialect.js';
import { transactionScript } from '../../src/warehouse/bigquery/bigquery-dialect.js';
import {
  batchStatsSql,
  commitStatements,
  insertRejectsSql,
  isStagingTableOf,
  mergeQueries,
  stagingTables,
} from '../../src/warehouse/sql/sql-load.js';

const dialects = {
  duckdb: duckdbDialect,
  bigquery: bigqueryDialect('acme-data.ai_events'),
  snowflake: snowflakeDialect('acme', 'ai_events'),
};
const options = { hasPolicies: true, forceUpdate: false };

describe('load SQL generation (one text per dialect)', () => {
  it('quotes validated names and refuses anything else', () => {
    expect(dialects.bigquery.table('fact_ai_event')).toBe('`acme-data.ai_events.fact_ai_event`');
    expect(() => dialects.bigquery.table('a`; DROP TABLE y; --')).toThrow(/not a table name/);
    expect(() => dialects.duckdb.table('a.b')).toThrow(/not a table name/);
    expect(dialects.snowflake.table('fact_ai_event')).toBe('"ACME"."AI_EVENTS"."FACT_AI_EVENT"');
    expect(() => snowflakeDialect('acme"; DROP', 's').table('t')).toThrow(/invalid Snowflake name/);
  });

  it('names run-scoped staging tables from the pipeline, run id and package, and recognises only its own', () => {
    const staging = stagingTables('default', '20261123T174228Z-c3a59a', 2);
    expect(staging.events).toBe('_aetl_stage_default_20261123t174228z_c3a59a_2_events');
    expect(Object.keys(staging)).toEqual([
      'events',
      'policies',
      'rejects',
      'winner',
      'existing',
      'toInsert',
      'changed',
    ]);
    expect(Object.values(staging).every((t) => isStagingTableOf('default', t))).toBe(true);
    // Snowflake lists names upper-case; a pipeline whose name extends ours is another pipeline.
    expect(isStagingTableOf('default', staging.toInsert.toUpperCase())).toBe(true);
    expect(isStagingTableOf('default', stagingTables('default_b', '20261123T174228Z-c3a59a', 1).events)).toBe(false);
    expect(isStagingTableOf('default', 'fact_ai_event')).toBe(false);
  });

  for (const [name, d] of Object.entries(dialects)) {
    it(`emits the load of one package as this text (${name})`, () => {
      const staging = stagingTables('default', 'run-1', 1);
      const merge = mergeQueries(d, staging, options);
      const forced = mergeQueries(d, staging, { ...options, forceUpdate: true });
      expect(batchStatsSql(d, staging.events)).toMatchSnapshot();
      expect(merge).toMatchSnapshot();
      // A forced update only adds the replacement of changed events, before the insert, and the
      // recompute of the hourly aggregates of the hours they leave.
      expect(forced.statements.filter((sql) => !merge.statements.includes(sql)).length).toBe(12);
      expect(insertRejectsSql(d, staging.rejects)).toMatchSnapshot();
      expect(commitStatements(d, { checkpoint: true, files: 1, driftFields: 1 })).toMatchSnapshot();
      expect(mergeQueries(d, staging, { ...options, hasPolicies: false }).statements.join()).not.toMatch(
        /INSERT INTO \S*fact_policy_evaluation/i,
      );
      // The work tables' DDL binds nothing (it runs before the transaction) and reads no fact table.
      expect(merge.prepare.join()).not.toMatch(/[@:](lo_ts|hi_ts|run_id)|FACT_AI_EVENT|fact_ai_event/);
      // The MERGE joins on event_id and the batch's span, never with OR (warehouses prune on it).
      const mergeSql = merge.statements.find((s) => s.startsWith('MERGE'))!;
      expect(mergeSql.slice(mergeSql.indexOf('\nON '))).toMatch(
        /^\nON f\.event_id = s\.event_id AND f\.event_ts >= \S+ AND f\.event_ts < \S+( AND f\.date_key BETWEEN .*)?\n/,
      );
      expect(mergeSql).not.toMatch(/\bOR\b/);
      const windowFailedChecks = commitStatements(d, { checkpoint: false, files: 0, driftFields: 0 }).join();
      expect(windowFailedChecks).not.toMatch(/etl_state|ETL_STATE/);
      expect(windowFailedChecks).not.toMatch(/etl_file_ledger|ETL_FILE_LEDGER/);
    });
  }

  it('wraps BigQuery statements into one script transaction', () => {
    expect(transactionScript(['DELETE FROM a', 'INSERT INTO a SELECT 1'])).toBe(
      'BEGIN TRANSACTION;\n\nDELETE FROM a;\n\nINSERT INTO a SELECT 1;\n\nCOMMIT TRANSACTION;',
    );
  });
});
