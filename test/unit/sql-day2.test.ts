import { describe, expect, it } from 'vitest';
import type { Dialect } from '../../src/warehouse/dialect.js';
import type { Driver, Fence, SqlParams, SqlRow, SqlRows } from '../../src/warehouse/driver.js';
import { bigqueryDialect } from '../../src/warehouse/bigquery/bigquery-dialect.js';
import { duckdbDialect } from '../../src/warehouse/duckdb/duckdb-dialect.js';
import { snowflakeDialect } from '../../src/warehouse/snowflake/snowflake-dialect.js';
import { eraseUser } from '../../src/warehouse/sql/sql-erasure.js';
import { applyRetention, retentionPlan } from '../../src/warehouse/sql/sql-retention.js';

const dialects: Record<string, Dialect> = {
  duckdb: duckdbDialect,
  bigquery: bigqueryDialect('acme-data.ai_events'),
  snowflake: snowflakeDialect('acme', 'ai_events'),
};

interface Call {
  kind: 'run' | 'together' | 'begin' | 'commit';
  sql: string[];
  params: SqlParams;
  fence?: Fence;
}

/** The run lock's check, which every change must run behind. */
const FENCE: Fence = { sql: 'UPDATE etl_lock ...', params: {}, lost: async () => new Error('lost') };

/** A driver that records what it is asked to run and answers SELECTs with `answer`'s rows. */
function recording(d: Dialect, answer: (sql: string) => SqlRow[]): { driver: Driver; calls: Call[] } {
  const calls: Call[] = [];
  const driver = {
    dialect: d,
    run: async (_purpose: string, sql: string, params: SqlParams = {}) => {
      calls.push({ kind: 'run', sql: [sql], params });
      return answer(sql);
    },
    runTogether: async (_purpose: string, statements: string[], params: SqlParams, fence?: Fence) => {
      calls.push({ kind: 'together', sql: statements, params, fence });
    },
    transaction: async <T>(work: () => Promise<T>) => {
      calls.push({ kind: 'begin', sql: [], params: {} });
      const result = await work();
      calls.push({ kind: 'commit', sql: [], params: {} });
      return result;
    },
  } as Partial<Driver> as Driver;
  return { driver, calls };
}

const REQUEST = {
  pipeline: 'default',
  runId: 'run-1',
  userIds: ['josé', 'u_0123456789abcdef0123456789abcdef'],
  subjectHash: 's_' + 'a'.repeat(64),
  requestedBy: 'ticket-1234',
  nowMs: Date.parse('2026-04-10T06:00:00Z'),
};

describe('erasure and retention SQL (written once, every dialect)', () => {
  for (const [name, d] of Object.entries(dialects)) {
    it(`erases a user in one transaction, the ids only ever bound (${name})`, async () => {
      const { driver, calls } = recording(d, (sql) =>
        sql.includes('COUNT(*)')
          ? [
              {
                etl_event_id: 3n,
                etl_conflict: 0n,
                fact_policy_evaluation: 5n,
                fact_ai_event: 3n,
                dim_user: 1n,
                etl_rejected_event: 2n,
              },
            ]
          : sql.includes('date_key')
            ? [{ date_key: 20260401n }, { date_key: 20260402n }]
            : [{ p: 'b' }, { p: 'default' }],
      );
      const outcome = await eraseUser(driver, REQUEST, FENCE);
      expect(outcome).toEqual({
        rows: {
          etl_event_id: 3,
          etl_conflict: 0,
          fact_policy_evaluation: 5,
          fact_ai_event: 3,
          dim_user: 1,
          etl_rejected_event: 2,
        },
        eventDates: ['2026-04-01', '2026-04-02'],
        pipelines: ['b', 'default'],
      });
      expect(calls.map((c) => c.kind)).toEqual(['begin', 'run', 'run', 'run', 'together', 'commit']);
      const sql = calls.flatMap((c) => c.sql).join('\n');
      for (const id of REQUEST.userIds) expect(sql).not.toContain(id);
      expect(sql).not.toContain(REQUEST.subjectHash);
      const together = calls.find((c) => c.kind === 'together')!;
      expect(together.fence).toBe(FENCE);
      expect(together.params.id_1).toEqual({ type: 'text', value: REQUEST.userIds[1] });
      expect(together.params.rows!.value).toBe(JSON.stringify(outcome.rows));
      // The lake is marked before anything is deleted; the audit row comes last.
      expect(together.sql.map((s) => s.split(/\s/, 3).join(' '))).toMatchSnapshot();
      expect(together.sql).toMatchSnapshot();
      expect(calls[1]!.sql).toMatchSnapshot();
    });

    it(`plans and applies retention, the deletes and the audit rows together (${name})`, async () => {
      const { driver, calls } = recording(d, () => [
        { table_name: 'dq_check_result', date_key: null, n: 4n },
        { table_name: 'etl_conflict', date_key: null, n: 0n },
        { table_name: 'fact_ai_event', date_key: 20260401n, n: 7n },
      ]);
      const cutoffMs = Date.parse('2026-04-02T00:00:00Z');
      const plan = await retentionPlan(driver, 'default', cutoffMs);
      expect(plan).toEqual([
        { table: 'dq_check_result', eventDate: null, rows: 4 },
        { table: 'fact_ai_event', eventDate: '2026-04-01', rows: 7 },
      ]);
      const done = await applyRetention(
        driver,
        plan,
        { pipeline: 'default', runId: 'run-1', cutoffMs, archiveDir: null, nowMs: cutoffMs + 86_400_000 * 8 },
        FENCE,
      );
      expect(done.map((item) => item.archivedTo)).toEqual([null, null]);
      expect(calls.map((c) => c.kind)).toEqual(['run', 'begin', 'together', 'commit']);
      expect(calls[0]!.sql).toMatchSnapshot();
      expect(calls[2]!.sql).toMatchSnapshot();
      // The audit rows, every value bound: one array parameter on BigQuery, one JSON text on DuckDB
      // (event_date is its rows' fourth value), a value each on Snowflake.
      const bound = calls[2]!.params;
      const dates =
        d.name === 'bigquery'
          ? (bound.rows as SqlRows).value.map((row) => row.event_date)
          : d.name === 'duckdb'
            ? (JSON.parse(String(bound.rows!.value)) as (string | null)[][]).map((row) => row[3])
            : [bound.event_date_0!.value, bound.event_date_1!.value];
      expect(dates).toEqual([null, '2026-04-01']);
      expect(calls[2]!.fence).toBe(FENCE);
    });
  }

  it('spells the regular expressions for each engine: POSIX has no non-capturing groups', () => {
    const re2 = '"(?:[^"\\\\]|\\\\.)*"(?:[ ]*:)?';
    expect(dialects.snowflake!.regexPattern(re2)).toBe('"([^"\\\\]|\\\\.)*"([ ]*:)?');
    expect(dialects.bigquery!.regexPattern(re2)).toBe(re2);
  });
});
