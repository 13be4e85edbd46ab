import { trainingShortfall, type Seasonality } from '../checks/anomaly.js';
import type { Dialect } from '../warehouse/dialect.js';
import { DAY_MS, isoDay, isoDayOfKey } from '../util/dates.js';
import type { Warehouse, WarehouseQuery } from '../warehouse/warehouse.js';

/**
 * What `aetl report` shows, read with the check dialect so it runs on every
 * warehouse: hourly volume by decision (days are summed from it), block rate
 * with the anomaly hours flagged, cost by team and model, p99 latency by
 * gateway and day, runs with their durations and rejects, and check results:
 * the failing ones with their rows, and what the page must say in words
 * (nothing loaded yet, anomaly checks short of history).
 */
export interface ReportData {
  pipeline: string;
  warehouse: string;
  fromMs: number;
  toMs: number;
  generatedMs: number;
  hourly: { hourMs: number; decision: string; events: number }[];
  blockAnomalies: { hourMs: number; scope: string; observed: number }[];
  cost: { team: string; model: string; cost: number }[];
  latency: { day: string; gateway: string; p99: number }[];
  runs: {
    runId: string;
    command: string;
    status: string;
    startedMs: number;
    seconds: number | null;
    inserted: number;
    rejected: number;
  }[];
  /** Fail and error results first, then warnings; newest first; at most CHECK_ROWS. */
  checks: {
    name: string;
    scope: string;
    status: string;
    message: string;
    checkedMs: number;
    runId: string;
    /** The hour an anomaly result judged (null for checks of a window). */
    bucketMs: number | null;
    observed: number | null;
    expected: string | null;
  }[];
  /** Fail and error results per check in the range, all of them (`checks` may hold fewer). */
  failing: { name: string; results: number }[];
  /** The latest anomaly hour's `insufficient_history` results: the training each one lacked. */
  shortOfHistory: {
    check: string;
    scope: string;
    bucketMs: number;
    found: number;
    needed: number;
    seasonality: Seasonality;
  }[];
  /** Events this pipeline has loaded, any date: tells "nothing loaded yet" from "nothing in this range". */
  loadedEvents: number;
}

export const CHECK_ROWS = 500;

export async function reportData(
  warehouse: WarehouseQuery & Pick<Warehouse, 'description'>,
  pipeline: string,
  days: number,
  nowMs: number,
): Promise<ReportData> {
  const d: Dialect = warehouse.dialect;
  const t = (name: string) => d.table(name);
  const toMs = nowMs;
  const fromMs = Date.parse(`${isoDay(nowMs - days * DAY_MS)}T00:00:00Z`);
  const params = { from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString(), pipeline };
  const range = (alias: string, column = 'event_ts') =>
    `${alias}.${column} >= ${d.timestamp('from')} AND ${alias}.${column} < ${d.timestamp('to')}`;
  // Runs and check results are judged up to now, whatever their clock (a run records wall-clock time).
  const since = (alias: string, column: string) => `${alias}.${column} >= ${d.timestamp('from')}`;
  const q = (sql: string) => warehouse.query(sql, params);

  const hourly = await q(
    `SELECT ${d.epochMs(d.hour('f.event_ts'))} AS hour_ms, f.decision, COUNT(*) AS n
     FROM ${t('fact_ai_event')} f WHERE ${range('f')} GROUP BY 1, 2 ORDER BY 1, 2`,
  );
  const anomalies = await q(
    `SELECT ${d.epochMs('c.bucket')} AS hour_ms, c.scope, c.observed FROM ${t('dq_check_result')} c
     WHERE c.pipeline = ${d.param('pipeline')} AND c.check_name = 'anomaly_block_rate' AND c.status = 'fail'
       AND ${range('c', 'bucket')}`,
  );
  const cost = await q(
    `SELECT COALESCE(u.team, f.team_id, '(none)') AS team, COALESCE(m.model, '(unknown)') AS model, SUM(f.cost_usd) AS cost
     FROM ${t('fact_ai_event')} f
     LEFT JOIN ${t('dim_user')} u ON u.user_key = f.user_key
     LEFT JOIN ${t('dim_model')} m ON m.model_key = f.model_key
     WHERE ${range('f')} GROUP BY 1, 2 ORDER BY 1, 2`,
  );
  const latency = await q(
    `SELECT f.date_key, COALESCE(g.gateway_id, '(unknown)') AS gateway, ${d.percentile('f.latency_ms', 0.99)} AS p99
     FROM ${t('fact_ai_event')} f LEFT JOIN ${t('dim_gateway')} g ON g.gateway_key = f.gateway_key
     WHERE ${range('f')} AND f.latency_ms IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2`,
  );
  const runs = await q(
    `SELECT r.run_id, r.command, r.status, ${d.epochMs('r.started_at')} AS started_ms, ${d.epochMs('r.finished_at')} AS finished_ms,
       COALESCE(SUM(w.inserted), 0) AS inserted, COALESCE(SUM(w.rejected), 0) AS rejected
     FROM ${t('etl_run')} r LEFT JOIN ${t('etl_run_window')} w ON w.run_id = r.run_id
     WHERE r.pipeline = ${d.param('pipeline')} AND ${since('r', 'started_at')}
     GROUP BY r.run_id, r.command, r.status, r.started_at, r.finished_at ORDER BY r.started_at`,
  );
  const checks = await q(
    `SELECT c.check_name, c.scope, c.status, c.message, ${d.epochMs('c.checked_at')} AS checked_ms, c.run_id,
       ${d.epochMs('c.bucket')} AS bucket_ms, c.observed, c.expected
     FROM ${t('dq_check_result')} c
     WHERE c.pipeline = ${d.param('pipeline')} AND ${since('c', 'checked_at')} AND c.status IN ('fail', 'error', 'warn')
     ORDER BY CASE WHEN c.status = 'warn' THEN 1 ELSE 0 END, c.checked_at DESC LIMIT ${CHECK_ROWS}`,
  );
  const failing = await q(
    `SELECT c.check_name, COUNT(*) AS n FROM ${t('dq_check_result')} c
     WHERE c.pipeline = ${d.param('pipeline')} AND ${since('c', 'checked_at')} AND c.status IN ('fail', 'error')
     GROUP BY c.check_name ORDER BY c.check_name`,
  );
  // The newest hour the anomaly checks judged: if it was short of training, so is the pipeline now.
  const short = await q(
    `SELECT c.check_name, c.scope, ${d.epochMs('c.bucket')} AS bucket_ms, c.message FROM ${t('dq_check_result')} c
     WHERE c.pipeline = ${d.param('pipeline')} AND c.status = 'insufficient_history' AND c.bucket = (
       SELECT MAX(a.bucket) FROM ${t('dq_check_result')} a
       WHERE a.pipeline = ${d.param('pipeline')} AND ${since('a', 'checked_at')} AND a.check_name LIKE 'anomaly_%')
     ORDER BY c.check_name, c.scope`,
  );
  const [loaded] = await q(
    `SELECT COALESCE(SUM(w.inserted), 0) AS n FROM ${t('etl_run_window')} w
     JOIN ${t('etl_run')} r ON r.run_id = w.run_id WHERE r.pipeline = ${d.param('pipeline')}`,
  );
  return {
    pipeline,
    warehouse: warehouse.description,
    fromMs,
    toMs,
    generatedMs: nowMs,
    hourly: hourly.map((r) => ({ hourMs: Number(r.hour_ms), decision: String(r.decision), events: Number(r.n) })),
    blockAnomalies: anomalies.map((r) => ({
      hourMs: Number(r.hour_ms),
      scope: String(r.scope),
      observed: Number(r.observed),
    })),
    cost: cost.map((r) => ({ team: String(r.team), model: String(r.model), cost: Number(r.cost) })),
    latency: latency.map((r) => ({ day: isoDayOfKey(r.date_key), gateway: String(r.gateway), p99: Number(r.p99) })),
    runs: runs.map((r) => ({
      runId: String(r.run_id),
      command: String(r.command),
      status: String(r.status),
      startedMs: Number(r.started_ms),
      seconds: r.finished_ms == null ? null : (Number(r.finished_ms) - Number(r.started_ms)) / 1000,
      inserted: Number(r.inserted),
      rejected: Number(r.rejected),
    })),
    checks: checks.map((r) => ({
      name: String(r.check_name),
      scope: String(r.scope),
      status: String(r.status),
      message: String(r.message),
      checkedMs: Number(r.checked_ms),
      runId: String(r.run_id),
      bucketMs: r.bucket_ms == null ? null : Number(r.bucket_ms),
      observed: r.observed == null ? null : Number(r.observed),
      expected: r.expected == null ? null : String(r.expected),
    })),
    failing: failing.map((r) => ({ name: String(r.check_name), results: Number(r.n) })),
    shortOfHistory: short.flatMap((r) => {
      const shortfall = trainingShortfall(String(r.message));
      if (!shortfall) return [];
      return [{ check: String(r.check_name), scope: String(r.scope), bucketMs: Number(r.bucket_ms), ...shortfall }];
    }),
    loadedEvents: Number(loaded?.n ?? 0),
  };
}
