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

    expect(duck!.hourly).toContain("date_trunc('hour', f.event_ts)");
    expect(duck!.hourly).toContain('quantile_cont(f.latency_ms, 0.99)');
    expect(duck!.hourly).toMatch(/f\.date_key BETWEEN CAST\(strftime\(\$from::TIMESTAMPTZ/);

    expect(bq!.hourly).toContain('TIMESTAMP_TRUNC(f.event_ts, HOUR)');
    expect(bq!.hourly).toContain('APPROX_QUANTILES(f.latency_ms, 100)[SAFE_OFFSET(99)]');
    expect(bq!.hourly).toContain('COUNTIF(f.was_blocked)');
    expect(bq!.hourly).toContain('`proj.analytics.fact_ai_event` f');
    expect(bq!.hourly).toContain('f.event_ts >= TIMESTAMP(@from)');
    expect(bq!.present).toContain('r.pipeline = @pipeline');

    expect(sf!.hourly).toContain("DATE_TRUNC('hour', f.event_ts)");
    expect(sf!.hourly).toContain('PERCENTILE_CONT(0.99) WITHIN GROUP (ORDER BY f.latency_ms)');
    expect(sf!.hourly).toContain('COUNT_IF(f.was_blocked)');
    expect(sf!.hourly).toContain('"ANALYTICS"."GOVERNANCE"."FACT_AI_EVENT" f');
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
        expect(sql, `${d.name}: ${sql}`).toMatch(/event_ts >= /);
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
