import { describe, expect, it } from 'vitest';
import type { Dialect } from '../../src/warehouse/dialect.js';
import type { SqlParams } from '../../src/warehouse/driver.js';
import { bigqueryDialect } from '../../src/warehouse/bigquery/bigquery-dialect.js';
import { duckdbDialect } from '../../src/warehouse/duckdb/duckdb-dialect.js';
import { positional, snowflakeDialect } from '../../src/warehouse/snowflake/snowflake-dialect.js';
import { SqlDimensions } from '../../src/warehouse/sql/sql-dimensions.js';
import { SqlRejects } from '../../src/warehouse/sql/sql-rejects.js';

const dialects = [duckdbDialect, bigqueryDialect('proj.analytics'), snowflakeDialect('analytics', 'governance')];

/** An engine that records what it is asked to run and returns no rows. */
function recording(dialect: Dialect) {
  const calls: { sql: string; params: SqlParams }[] = [];
  return {
    calls,
    engine: {
      dialect,
      run: async (_: string, sql: string, params: SqlParams = {}) => (calls.push({ sql, params }), []),
    },
  };
}

describe('rejects, rebuild-dims and drift SQL: written once, valid on each engine', () => {
  it.each(dialects)('re-keys both fact tables per dimension after marking what it touches ($name)', (d) => {
    const { count, statements } = new SqlDimensions(recording(d).engine).rekeyQueries();
    const all = [count, ...statements].join('\n');
    expect(statements.slice(0, 2).every((s) => s.startsWith(`INSERT INTO ${d.table('etl_lake_pending')}`))).toBe(true);
    const updates = statements.slice(2, -1);
    expect(updates).toHaveLength(6);
    // Re-keyed in place, the rows keep their hours' fingerprints: no hour stays verified.
    expect(statements.at(-1)).toBe(`DELETE FROM ${d.table('dq_verified_hour')} WHERE TRUE`);
    for (const fact of ['fact_ai_event', 'fact_policy_evaluation']) {
      expect(updates.filter((s) => s.startsWith(`UPDATE ${d.table(fact)} f SET `))).toHaveLength(3);
    }
    // BigQuery has no bare UNION and no VALUES list.
    expect(all).not.toMatch(/UNION(?! ALL)|VALUES/);
  });

  it.each(dialects)('pages the quarantine by bound keys, without a row comparison ($name)', async (d) => {
    const { calls, engine } = recording(d);
    await new SqlRejects(engine).toReplay('default', null, { sourceLocation: "o'brien.jsonl", payloadHash: 'h' }, 50.7);
    const [{ sql, params }] = calls as [(typeof calls)[number]];
    expect(sql).toContain(`source_location > ${d.param('after_location')}`);
    expect(sql).not.toContain("o'brien");
    expect(sql).not.toMatch(/\(source_location, payload_hash\) >/);
    expect(sql).toMatch(/LIMIT 50$/);
    expect(params.after_location).toEqual({ type: 'text', value: "o'brien.jsonl" });
  });

  it('counts unknown fields on Snowflake without a JSON path the driver would read as a placeholder', () => {
    const sql = snowflakeDialect('db', 's').extraFieldCounts('"DB"."S"."T"', 'TRUE');
    expect(positional(sql, {})).toEqual({ sqlText: sql, binds: [] });
  });
});
