import { describe, expect, it } from 'vitest';
import { bigqueryDialect, requireOneRowChanged } from '../../src/warehouse/bigquery/bigquery-dialect.js';
import { snowflakeDialect } from '../../src/warehouse/snowflake/snowflake-dialect.js';
import { positional } from '../../src/warehouse/snowflake/snowflake-dialect.js';
import { acquireParams, leaseParams, leaseSql } from '../../src/warehouse/sql/sql-lease.js';
import { toDuckDB } from '../stand-ins/bigquery/translate.js';

const dialects = { bigquery: bigqueryDialect('acme-data.ai_events'), snowflake: snowflakeDialect('acme', 'ai_events') };
const lease = { pipeline: 'default', runId: '20260501T120000Z-abc123', leaseMs: 60_000 };

describe('run lock lease SQL (shared by BigQuery and Snowflake)', () => {
  for (const [name, d] of Object.entries(dialects)) {
    it(`emits the lease statements as this text (${name})`, () => {
      const sql = leaseSql(d);
      expect(sql).toMatchSnapshot();
      // Taking over bumps the token; a new row starts at 1; expiry is the warehouse's clock, not ours.
      expect(sql.acquire).toMatch(/WHEN MATCHED AND \(l\.expires_at <= s\.now_at OR l\.token = s\.dead_token\)/);
      expect(sql.acquire).toContain('token = l.token + 1');
      expect(sql.acquire).toMatch(/VALUES \(.*, 1\)$/);
      expect(sql.acquire).toContain('CURRENT_TIMESTAMP()');
      // Renewal (heartbeat and fence) and release touch only our own row at our own token.
      const ours = /WHERE pipeline = \S+lease_pipeline AND owner = \S+lease_owner AND token = \S+lease_token$/;
      expect(sql.renew).toMatch(ours);
      expect(sql.release).toMatch(ours);
      // Release expires the row: a DELETE would let tokens start again at 1.
      expect(Object.values(sql).join('\n')).not.toMatch(/\bDELETE\b/);
    });
  }

  it('binds every value, typed (Snowflake: positional, 64-bit token as exact text)', () => {
    const d = dialects.snowflake;
    const sql = leaseSql(d);
    const acquire = positional(sql.acquire, acquireParams(lease, { host: 'h1', pid: 42, command: 'run' }, null));
    expect(acquire.binds).toEqual(['default', lease.runId, 'h1', '42', 'run', '60000', null]);
    const renew = positional(sql.renew, leaseParams({ ...lease, token: 9007199254740993n }));
    expect(renew.binds).toEqual(['60000', 'default', lease.runId, '9007199254740993']);
    expect(renew.sqlText).toContain('DATEADD(millisecond, CAST(:1 AS BIGINT), CURRENT_TIMESTAMP())');
  });

  it('fails a BigQuery script unless the fence changed one row, with our plain message only', () => {
    expect(requireOneRowChanged('lease lost: x')).toBe(
      "IF @@row_count <> 1 THEN RAISE USING MESSAGE = 'lease lost: x'; END IF",
    );
    expect(() => requireOneRowChanged("x'; DROP TABLE t; --")).toThrow(/not a plain message/);
    // The stand-in runs it as a SELECT that calls DuckDB's error() over the @@row_count variable.
    expect(toDuckDB(requireOneRowChanged('lease lost'))).toBe(
      "SELECT CASE WHEN getvariable('row_count') <> 1 THEN error('lease lost') END",
    );
  });
});
