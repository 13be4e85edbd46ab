import { describe, expect, it } from 'vitest';
import {
  coveredSpansSql,
  duplicateIdsSql,
  hourlyMetricsSql,
  integritySql,
  lagSql,
  presentCountSql,
  rejectsByFieldSql,
  scoredBucketsSql,
} from '../../src/checks/check-sql.js';
import { duckdbDialect } from '../../src/warehouse/duckdb/duckdb-dialect.js';
import { bigqueryDialect } from '../../src/warehouse/bigquery/bigquery-dialect.js';
import { snowflakeDialect } from '../../src/warehouse/snowflake/snowflake-dialect.js';

const dialects = [duckdbDialect, bigqueryDialect('proj.analytics'), snowflakeDialect('analytics', 'governance')];

describe('check SQL: one code path, three dialects', () => {
  it('every dialect gets the same checks, with its own functions, names and parameters', () => {
    const [duck, bq, sf] = dialects.map((d) => ({
      hourly: hourlyMetricsSql(d, true),
      present: presentCountSql(d),
      integrity: integritySql(d),
      lag: lagSql(d),
    }));
    expect(bq!.integrity.map((p) => p.name)).toEqual(duck!.integrity.map((p) => p.name));
    expect(sf!.integrity.map((p) => p.name)).toEqual(duck!.integrity.map((p) => p.name));

    // The hourly metrics read the aggregates a load keeps (sql-aggregates.ts), each engine's table and parameters.
    expect(duck!.hourly).toContain('FROM agg_event_hourly a WHERE a.hour >= $from::TIMESTAMPTZ');
    expect(duck!.hourly).toContain('FROM agg_latency_hourly a');
    expect(duck!.hourly).toContain("a.gateway_id <> ''");
    expect(bq!.hourly).toContain('`proj.analytics.agg_event_hourly` a WHERE a.hour >= TIMESTAMP(@from)');
    expect(bq!.present).toContain('r.pipeline = @pipeline');

    expect(sf!.hourly).toContain('"ANALYTICS"."GOVERNANCE"."AGG_EVENT_HOURLY" a');
    expect(sf!.lag).toContain('DATE_PART(epoch_millisecond, f.loaded_at)');
  });

  it('every query filters on the time range (partition pruning), never scans a whole fact table', () => {
    for (const d of dialects) {
      const factQueries = [
        hourlyMetricsSql(d, false),
        duplicateIdsSql(d),
        presentCountSql(d),
        lagSql(d),
        coveredSpansSql(d, true),
      ];
      for (const sql of [
        ...factQueries,
        ...integritySql(d)
          .filter((p) => p.sql.includes('fact_'))
          .map((p) => p.sql),
      ]) {
        expect(sql, `${d.name}: ${sql}`).toMatch(/\b(event_ts|hour) >= /); // facts, or their hourly aggregates
      }
    }
  });

  it('reads JSON the way each engine does, and only along plain paths', () => {
    const [duck, bq, sf] = dialects.map((d) => rejectsByFieldSql(d));
    expect(duck).toContain("json_extract_string(r.reasons, '$[0].path')");
    expect(bq).toContain("JSON_VALUE(r.reasons, '$[0].path')");
    expect(sf).toContain("GET_PATH(r.reasons, '[0].path')::STRING");
    expect(() => duckdbDialect.jsonText('x', "$[0]'); DROP TABLE y; --")).toThrow(/not a JSON path/);
  });

  it('refuses table names that are not plain identifiers', () => {
    expect(() => duckdbDialect.table('fact; DROP TABLE x')).toThrow(/not a table name/);
    expect(scoredBucketsSql(snowflakeDialect('db', 's')).includes(':pipeline')).toBe(true);
  });
});
