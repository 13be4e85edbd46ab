import { describe, expect, it } from 'vitest';
import {
  coveredSpansSql,
  duplicateIdsSql,
  hourlyMetricsSql,
  integritySql,
  lagSql,
  presentCountSql,
  hourPrintsSql,
  rejectsByFieldSql,
  repeatedHashesSql,
  scoredBucketsSql,
  verifiedHoursSql,
} from '../../src/checks/check-sql.js';
import { duckdbDialect } from '../../src/warehouse/duckdb/duckdb-dialect.js';
import { bigqueryDialect } from '../../src/warehouse/bigquery/bigquery-dialect.js';
import { snowflakeDialect } from '../../src/warehouse/snowflake/snowflake-dialect.js';
import type { Dialect } from '../../src/warehouse/dialect.js';
import { queryWith } from '../helpers/duckdb.js';

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
        repeatedHashesSql(d),
        duplicateIdsSql(d, { facts: true, policies: true }),
        presentCountSql(d),
        lagSql(d),
        coveredSpansSql(d, true),
        verifiedHoursSql(d),
        hourPrintsSql(d),
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

  it('duplicates stay exact when distinct keys share a hash: only rows, never hashes, are counted', async () => {
    // 2026-01-01: a once, b twice, c three times, f once (and again on 2026-01-05, which the index
    // names); policy evaluation (a, 0) twice. So 1 + 2 + 1 duplicate fact rows and 1 policy row.
    const day = (d: number, ids: string[]) =>
      ids.map((id) => `('${id}', TIMESTAMPTZ '2026-01-0${d} 10:00:00+00', 2026010${d})`);
    const facts = [...day(1, ['a', 'b', 'b', 'c', 'c', 'c', 'dd', 'f']), ...day(5, ['f', 'g'])];
    const setup = `CREATE TABLE fact_ai_event (event_id VARCHAR, event_ts TIMESTAMPTZ, date_key INTEGER);
      INSERT INTO fact_ai_event VALUES ${facts.join(', ')};
      CREATE TABLE etl_event_id AS SELECT DISTINCT md5_number_lower(event_id) AS id_key, event_id, event_ts, date_key FROM fact_ai_event;
      CREATE TABLE fact_policy_evaluation AS SELECT event_id, ordinal, event_ts, date_key
        FROM fact_ai_event, range(2) o(ordinal) WHERE event_id IN ('a', 'dd');`;
    const twice = `INSERT INTO fact_policy_evaluation SELECT * FROM fact_policy_evaluation WHERE event_id = 'a' AND ordinal = 0;`;
    const params = { from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' };
    /** The check as run-checks runs it: the screen, then the keys compared where hashes repeat. */
    const duplicates = async (d: Dialect, tables: string) => {
      const [screen] = await queryWith(':memory:', repeatedHashesSql(d), params, tables);
      const suspect = { facts: Number(screen!.facts) > 0, policies: Number(screen!.policies) > 0 };
      const [row] = await queryWith(':memory:', duplicateIdsSql(d, suspect), params, tables);
      return { suspect, n: Number(row!.n), policy_n: Number(row!.policy_n) };
    };
    // The policy keys repeat no hash (the copy of f on another day is found by the index, not the screen).
    expect(await duplicates(duckdbDialect, setup)).toEqual({
      suspect: { facts: true, policies: false },
      n: 4,
      policy_n: 0,
    });
    // The real hash; one that every key shares (every row is compared); one that the ids of equal
    // length share (a, b, c and f collide, as do the policy keys of a's and dd's ordinals).
    const hashes: Dialect['keyHash'][] = [duckdbDialect.keyHash, () => '0', (keys) => `length(${keys.join(' || ')})`];
    for (const keyHash of hashes) {
      expect(await duplicates({ ...duckdbDialect, keyHash }, setup + twice), keyHash(['x.event_id'])).toEqual({
        suspect: { facts: true, policies: true },
        n: 4,
        policy_n: 1,
      });
    }
  });
});
