import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { duckdbDialect } from '../../src/warehouse/duckdb/duckdb-dialect.js';
import { REPO } from '../helpers/workspace.js';

/**
 * BigQuery and Snowflake cannot run here, so their shipped SQL is read as text:
 * no function whose answer depends on the session's (or project's) time zone
 * may be called without an explicit one. The DuckDB SQL is run in several
 * zones by test/e2e/analyst-sql-timezone.test.ts.
 */
function shipped(dialect: 'bigquery' | 'snowflake'): { file: string; sql: string }[] {
  const dir = join(REPO, 'sql', dialect);
  const files = [
    'views.sql',
    ...readdirSync(join(dir, 'queries'))
      .filter((name) => name.endsWith('.sql'))
      .map((name) => join('queries', name)),
  ];
  // Comments explain the zones in words; only the code counts.
  return files.map((file) => ({ file, sql: readFileSync(join(dir, file), 'utf8').replace(/--.*$/gm, '') }));
}

/** Every call of `name(...)` in the text, as its top-level arguments. */
function calls(sql: string, name: string): string[][] {
  const found: string[][] = [];
  for (const match of sql.matchAll(new RegExp(`\\b${name}\\s*\\(`, 'gi'))) {
    const args: string[] = [];
    let depth = 0;
    let current = '';
    for (const c of sql.slice(match.index + match[0].length)) {
      if (c === '(') depth++;
      if (c === ')' && depth-- === 0) break;
      if (c === ',' && depth === 0) {
        args.push(current.trim());
        current = '';
      } else current += c;
    }
    found.push([...args, current.trim()]);
  }
  return found;
}

const inUtc = /^CONVERT_TIMEZONE\s*\(\s*'UTC'\s*,/i;

describe('shipped BigQuery SQL names the zone wherever BigQuery would use the default one', () => {
  // Without a zone argument these use the project's or session's default_time_zone (@@time_zone).
  const withZoneArgument: [name: string, argsWithZone: number][] = [
    ['TIMESTAMP_TRUNC', 3],
    ['FORMAT_TIMESTAMP', 3],
    ['DATE', 2],
    ['DATETIME', 2],
    ['TIME', 2],
    ['STRING', 2],
    ['TIMESTAMP', 2],
    ['PARSE_TIMESTAMP', 3],
  ];
  const sources = shipped('bigquery');

  it('finds the shipped files, and its checks see a call without a zone', () => {
    expect(sources.map((s) => s.file)).toContain('queries/hourly_block_rate_spikes.sql');
    expect(calls('SELECT TIMESTAMP_TRUNC(f(a, b), HOUR) FROM t', 'TIMESTAMP_TRUNC')).toEqual([['f(a, b)', 'HOUR']]);
  });

  it.each(sources)('$file', ({ sql }) => {
    for (const [name, argsWithZone] of withZoneArgument) {
      for (const args of calls(sql, name)) expect(args, `${name}(${args.join(', ')})`).toHaveLength(argsWithZone);
    }
    // EXTRACT(part FROM ts) needs AT TIME ZONE; CURRENT_DATE/DATETIME/TIME read the default zone.
    for (const [args] of calls(sql, 'EXTRACT')) expect(args, `EXTRACT(${args})`).toMatch(/AT TIME ZONE 'UTC'/i);
    expect(sql).not.toMatch(/\bCURRENT_(DATE|DATETIME|TIME)\b/i);
  });
});

describe('shipped Snowflake SQL converts to UTC before it buckets or formats a time', () => {
  const sources = shipped('snowflake');

  it.each(sources)('$file', ({ sql }) => {
    // The time argument of these must be CONVERT_TIMEZONE('UTC', ...): TIMESTAMP_TZ keeps its own offset.
    for (const [name, timeArg] of [
      ['DATE_TRUNC', 1],
      ['TIME_SLICE', 0],
      ['DATE_PART', 1],
      ['TO_CHAR', 0],
      ['TO_VARCHAR', 0],
      ['TO_DATE', 0],
    ] as const) {
      for (const args of calls(sql, name)) expect(args[timeArg], `${name}(${args.join(', ')})`).toMatch(inUtc);
    }
    for (const name of ['HOUR', 'DAY', 'DAYOFWEEK', 'DATE', 'YEAR', 'MONTH']) {
      for (const args of calls(sql, name)) expect(args[0], `${name}(${args.join(', ')})`).toMatch(inUtc);
    }
    for (const [args] of calls(sql, 'EXTRACT'))
      expect(args, `EXTRACT(${args})`).toMatch(/FROM\s+CONVERT_TIMEZONE\('UTC',/i);
    // Session-zone types and clocks; TIMESTAMP alone follows TIMESTAMP_TYPE_MAPPING (may be LTZ).
    expect(sql).not.toMatch(
      /\b(TIMESTAMP_LTZ|TO_TIMESTAMP_LTZ|TIMESTAMP_NTZ|TO_TIMESTAMP_NTZ|TO_TIMESTAMP|LOCALTIMESTAMP)\b/i,
    );
    expect(sql).not.toMatch(/\bCURRENT_(TIMESTAMP|DATE|TIME)\b/i);
    expect(sql).not.toMatch(/::\s*(TIMESTAMP|DATE)\b/i);
    expect(sql).not.toMatch(/\bAS\s+(TIMESTAMP|DATE)\b/i);
    // Text becomes an instant only as a bound ISO parameter with its offset (`...Z`): `:name::TIMESTAMP_TZ`.
    for (const cast of sql.matchAll(/(\S+)::TIMESTAMP_TZ/gi)) expect(cast[1], cast[0]).toMatch(/^:[a-z_]+$/);
  });

  it('its checks see a bucket without the conversion', () => {
    expect(calls("SELECT DATE_TRUNC('hour', event_ts) FROM t", 'DATE_TRUNC')[0]![1]).not.toMatch(inUtc);
    expect(calls("DATE_TRUNC('hour', CONVERT_TIMEZONE('UTC', f.event_ts))", 'DATE_TRUNC')[0]![1]).toMatch(inUtc);
  });
});

describe('the DuckDB checks prune on UTC dates in any session time zone', () => {
  it.each(['UTC', 'Asia/Tokyo', 'America/Los_Angeles'])('%s', async (zone) => {
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      await connection.run(`SET TimeZone = '${zone}'`);
      await connection.run('CREATE TABLE f AS SELECT unnest([20260331, 20260401, 20260402, 20260403]) AS date_key');
      const reader = await connection.runAndReadAll(
        `SELECT list(date_key ORDER BY date_key) AS kept FROM f WHERE true ${duckdbDialect.partitionFilter('f', 'from', 'to')}`,
        { from: '2026-04-01T20:00:00Z', to: '2026-04-02T02:00:00Z' },
      );
      expect(reader.getRowObjectsJson()).toEqual([{ kept: [20260401, 20260402] }]);
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });
});
