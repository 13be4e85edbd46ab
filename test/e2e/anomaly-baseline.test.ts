import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, describe, expect, it } from 'vitest';
import { duckdbDialect } from '../../src/warehouse/duckdb/duckdb-dialect.js';
import { recomputeAggregatesSql } from '../../src/warehouse/sql/sql-aggregates.js';
import { aetl } from '../helpers/cli.js';
import { query } from '../helpers/duckdb.js';
import { Workspace } from '../helpers/workspace.js';

/**
 * Fourteen days of hourly history written with SQL (DESIGN.md test rules),
 * judged by `aetl check` through the real CLI. The pipeline started with a
 * ten-minute window before midnight, then loaded nothing until 01:00: no
 * committed window covers the first hour, so it must not train the baseline
 * as a zero (it did: the loaded span started before it).
 */
const FIRST_WINDOW = ['2026-05-31 23:50:00+00', '2026-06-01 00:00:00+00'];
const HISTORY_FROM = '2026-06-01 01:00:00+00'; // 00:00-01:00 never loaded
const HISTORY_TO = '2026-06-15 01:00:00+00';
const NOW = '2026-06-15T01:05:00Z';
const DROP = '2026-06-13T00:00:00.000Z'; // the unloaded hour's slot: 90 % fewer events
const BLOCK_SPIKE = '2026-06-12T14:00:00.000Z'; // 70 % of the hour blocked
const EMPTIED = '2026-06-11T05:00:00.000Z'; // a covered hour whose events are all gone

const workspaces: Workspace[] = [];
afterAll(() => workspaces.forEach((w) => w.remove()));

interface Result {
  name: string;
  status: string;
  bucket?: string | null;
  message: string;
}

async function sql(file: string, statements: string[]): Promise<void> {
  const instance = await DuckDBInstance.create(file);
  const connection = await instance.connect();
  try {
    await connection.run("SET TimeZone = 'UTC'");
    for (const statement of statements) await connection.run(statement);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/**
 * Hourly traffic with a day cycle (60 events a night hour, 120 a day hour)
 * and ±6 of deterministic noise, 10 % blocked; one committed window a day.
 */
function historySql(injected: boolean): string[] {
  const volume = injected ? `CASE WHEN h = TIMESTAMPTZ '${DROP}' THEN 0.1 ELSE 1 END` : '1';
  const blockShare = injected ? `CASE WHEN h = TIMESTAMPTZ '${BLOCK_SPIKE}' THEN 7 ELSE 1 END` : '1';
  return [
    `CREATE TEMP TABLE hours AS
     SELECT h, round(${volume} * (CASE WHEN hour(h) BETWEEN 8 AND 18 THEN 120 ELSE 60 END
              + (epoch(h)::BIGINT // 3600 * 7919) % 13 - 6))::INTEGER AS n, ${blockShare} AS blocked_tenths, 3_600_000 AS span_ms
     FROM range(TIMESTAMPTZ '${HISTORY_FROM}', TIMESTAMPTZ '${HISTORY_TO}', INTERVAL 1 HOUR) t(h)
     UNION ALL SELECT TIMESTAMPTZ '${FIRST_WINDOW[0]}', 10, 1, 600_000`,
    `INSERT INTO fact_ai_event BY NAME
     SELECT 'e-' || epoch(h)::BIGINT || '-' || i AS event_id, md5('e-' || epoch(h)::BIGINT || '-' || i) AS event_hash,
       h + to_milliseconds(i * span_ms // n) AS event_ts, strftime(h, '%Y%m%d')::INTEGER AS date_key,
       0 AS user_key, 0 AS model_key, 0 AS gateway_key,
       CASE WHEN i % 10 < blocked_tenths THEN 'block' ELSE 'allow' END AS decision, i % 10 < blocked_tenths AS was_blocked,
       100 + (i * 37) % 200 AS latency_ms, 100 AS input_tokens, 50 AS output_tokens, 150 AS total_tokens,
       0.01 + (i % 5) * 0.001 AS cost_usd, 0 AS policies_evaluated_count, 0 AS policies_triggered_count,
       'history' AS run_id, h + INTERVAL 1 HOUR AS loaded_at
     FROM hours, range(n) r(i)`,
    `INSERT INTO etl_run (run_id, pipeline, command, status, started_at, finished_at, error) VALUES ('history', 'default', 'backfill', 'succeeded', TIMESTAMPTZ '${HISTORY_TO}', TIMESTAMPTZ '${HISTORY_TO}', NULL)`,
    `INSERT INTO etl_run_window BY NAME
     SELECT 'history' AS run_id, 'default' AS pipeline, row_number() OVER (ORDER BY s)::INTEGER AS seq,
       s AS window_start, e AS window_end, 0 AS read, 0 AS inserted, 0 AS already_present, 0 AS in_batch_duplicates,
       0 AS conflicts, 0 AS rejected, 0 AS out_of_window, 0 AS policy_rows, false AS checkpoint_moved, 0 AS extract_ms,
       0 AS load_ms, TIMESTAMPTZ '${HISTORY_TO}' AS committed_at, true AS checks_passed,
       c AS source_count -- a window's last package carries the source's count
     FROM (SELECT TIMESTAMPTZ '${FIRST_WINDOW[0]}' AS s, TIMESTAMPTZ '${FIRST_WINDOW[1]}' AS e, 0 AS c
           UNION ALL SELECT TIMESTAMPTZ '${HISTORY_FROM}', TIMESTAMPTZ '2026-06-02 00:00:00+00', 0
           UNION ALL SELECT d, least(d + INTERVAL 1 DAY, TIMESTAMPTZ '${HISTORY_TO}'), 0
           FROM range(TIMESTAMPTZ '2026-06-02 00:00:00+00', TIMESTAMPTZ '${HISTORY_TO}', INTERVAL 1 DAY) t(d)
           -- The first package of a window over the unloaded hour, killed before its last: not a covered hour.
           UNION ALL SELECT TIMESTAMPTZ '${FIRST_WINDOW[1]}', TIMESTAMPTZ '${HISTORY_FROM}', NULL)`,
    ...aggregated('SELECT DISTINCT date_key FROM fact_ai_event'),
  ];
}

/** The hourly aggregates of the days `dateKeys` selects, from the facts, as the product keeps them. */
const aggregated = (dateKeys: string) => recomputeAggregatesSql(duckdbDialect, dateKeys);

/** A warehouse holding the history; the simulator source serves nothing (so per-day completeness has 0 to count). */
async function history(injected: boolean): Promise<{ ws: Workspace; config: string }> {
  const ws = new Workspace();
  workspaces.push(ws);
  const config = ws.writeConfig({
    source: { kind: 'simulator', simulator: { seed: 1, traffic: { hourly_profile: Array(24).fill(0) } } },
    checks: { anomalies: { per_gateway: false } },
  });
  expect((await aetl(['migrate', '--config', config])).code).toBe(0);
  await sql(ws.warehouse, historySql(injected));
  return { ws, config };
}

async function check(config: string): Promise<{ code: number | null; checks: Result[] }> {
  const run = await aetl(
    ['check', '--from', '2026-06-01', '--to', '2026-06-15T01:00:00Z', '--json', '--config', config],
    {
      AETL_NOW: NOW,
    },
  );
  expect(run.stdout, run.stderr.slice(-1000)).not.toBe('');
  return { code: run.code, checks: (JSON.parse(run.stdout) as { checks: Result[] }).checks };
}

const flagged = (checks: Result[]) =>
  checks
    .filter((c) => c.name.startsWith('anomaly_') && c.status === 'fail')
    .map((c) => `${c.name} @ ${c.bucket}`)
    .sort();

describe('anomaly baseline: committed hours only, robust centre and spread', () => {
  it('flags exactly a 90 % drop and a 70 %-block hour in a history whose first hour was never loaded, then a covered hour emptied', async () => {
    const { ws, config } = await history(true);
    const first = await check(config);
    expect(first.code).toBe(3);
    expect(flagged(first.checks)).toEqual([`anomaly_block_rate @ ${BLOCK_SPIKE}`, `anomaly_volume @ ${DROP}`]);
    const judged = (name: string, at: string) =>
      first.checks.find((c) => c.name === name && c.bucket === new Date(at).toISOString())!;
    // The unloaded hour is not a bucket at all, and it trains nothing: 11 same-hour buckets, not 12.
    expect(first.checks.some((c) => c.bucket === '2026-06-01T00:00:00.000Z')).toBe(false);
    expect(judged('anomaly_volume', DROP).message).toMatch(/over 11 hour_of_day buckets/);
    expect(judged('anomaly_volume', '2026-06-08T03:00:00Z').status).toBe('pass');
    expect(judged('anomaly_volume', '2026-06-05T03:00:00Z').status).toBe('insufficient_history');

    // Every event of a covered hour gone: an hour with no event counts as 0, and a drop to zero shows.
    await sql(ws.warehouse, [
      `DELETE FROM fact_ai_event WHERE event_ts >= '${EMPTIED}' AND event_ts < TIMESTAMPTZ '${EMPTIED}' + INTERVAL 1 HOUR`,
      ...aggregated(`SELECT ${EMPTIED.slice(0, 10).replaceAll('-', '')} AS date_key`),
    ]);
    const second = await check(config);
    expect(flagged(second.checks)).toEqual([
      `anomaly_block_rate @ ${BLOCK_SPIKE}`,
      `anomaly_volume @ ${EMPTIED}`,
      `anomaly_volume @ ${DROP}`,
    ]);
    const zero = second.checks.find((c) => c.name === 'anomaly_volume' && c.bucket === EMPTIED)!;
    expect(zero.message).toMatch(/: 0 events is below the expected >= /);
    expect(
      await query(
        ws.warehouse,
        `SELECT count(*)::INTEGER AS n FROM dq_check_result WHERE check_name = 'anomaly_volume' AND status = 'fail'`,
      ),
    ).toEqual([{ n: 3 }]);
  });

  it('the same history without injections raises no anomaly', async () => {
    const { config } = await history(false);
    const { code, checks } = await check(config);
    expect(flagged(checks)).toEqual([]);
    expect(code).toBe(0);
    const passes = checks.filter((c) => c.name.startsWith('anomaly_') && c.status === 'pass');
    expect(passes.length).toBeGreaterThan(6 * 24 * 3); // a week of hours past the minimum training, several metrics
  });
});
