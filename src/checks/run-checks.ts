import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { WindowedSource } from '../source/source.js';
import { DAY_MS, HOUR_MS, isoDay, startOfUtcDay } from '../util/dates.js';
import { fault } from '../util/failpoint.js';
import { bucketLatency } from '../warehouse/sql/sql-aggregates.js';
import type { CheckResult, LoadCounts, WarehouseChecks } from '../warehouse/warehouse.js';
import { failedStatus as failed } from './status.js';
import { completenessResult } from './blocking.js';
import {
  coveredHours,
  flagKey,
  resolveSeasonality,
  scoreAnomalies,
  type HourlyPoint,
  type Seasonality,
} from './anomaly.js';
import {
  copyOneFactSql,
  coveredSpansSql,
  duplicateIdsSql,
  hourlyMetricsSql,
  integritySql,
  lagSql,
  repeatedHashesSql,
  scoredBucketsSql,
} from './check-sql.js';
import { planVerification, verificationResult, type Span, type VerificationPlan } from './verified-hours.js';

/**
 * The checks that run after a load commits (and on demand with `aetl
 * check`): integrity, duplicates, freshness, anomalies and per-day
 * completeness. They judge data, they never change it; every result is
 * appended to dq_check_result. The blocking ones live in blocking.ts.
 */
export interface CheckRequest {
  warehouse: WarehouseChecks;
  config: Config;
  logger: Logger;
  runId: string;
  nowMs: number;
  fromMs: number;
  toMs: number;
  /**
   * `incremental`: after loading the schedule's next interval (freshness judged); `history`: after any other
   * load; both score the complete hours not judged yet. `on_demand`: `aetl check`, which judges its range again.
   */
  kind: 'incremental' | 'on_demand' | 'history';
  /** A files pipeline: its batches have no window, so what they covered is read from their events. */
  files: boolean;
  /** The interval the schedule runs at (an explicit interval's own length), else checks.freshness.schedule_interval. */
  scheduleIntervalMs?: number;
  /** The run's counters, for source-side duplicate delivery. */
  counts?: Pick<LoadCounts, 'read' | 'inBatchDuplicates' | 'conflicts'>;
  /** For per-day completeness on demand. */
  source?: WindowedSource;
  /** `aetl check --full`: every hour read again, verified or not. */
  full?: boolean;
}

const toNumberOrNull = (v: unknown) => (v === null || v === undefined ? null : Number(v));

function params(request: CheckRequest, fromMs = request.fromMs, toMs = request.toMs) {
  return {
    pipeline: request.config.pipeline.name,
    run_id: request.runId,
    from: new Date(fromMs).toISOString(),
    to: new Date(toMs).toISOString(),
  };
}

/** A probe's count over `span`, or 0 unread where every hour is verified. */
async function countOver(request: CheckRequest, span: Span | null | undefined, sql: string): Promise<number> {
  if (span === null) return 0;
  const [row] = await request.warehouse.query(sql, span ? params(request, span.fromMs, span.toMs) : params(request));
  return toNumberOrNull(row?.n) ?? 0;
}

async function integrity(request: CheckRequest, plan: VerificationPlan): Promise<CheckResult[]> {
  const { warehouse, config } = request;
  const results: CheckResult[] = [];
  for (const probe of integritySql(warehouse.dialect)) {
    const span = probe.reads === 'dimensions' ? undefined : plan[probe.reads];
    const n = await countOver(request, span, probe.sql);
    results.push({
      name: probe.name,
      scope: 'checked range',
      status: n === 0 ? 'pass' : failed(config.checks.integrity.severity),
      blocking: false,
      observed: n,
      expected: '0',
      message: n === 0 ? `no ${probe.what}` : `${n} ${probe.what}`,
    });
  }
  return results;
}

/** Repeated event_id rows and policy evaluation rows over `span` (the changed hours): none where it is null. */
async function duplicateRows(request: CheckRequest, span: Span | null): Promise<{ facts: number; policies: number }> {
  if (span === null) return { facts: 0, policies: 0 };
  const { warehouse } = request;
  const q = params(request, span.fromMs, span.toMs);
  // The cheap screen first: only the tables whose key hashes repeat have their keys compared.
  const [screen] = await warehouse.query(repeatedHashesSql(warehouse.dialect), q);
  const suspect = { facts: Number(screen?.facts ?? 0) > 0, policies: Number(screen?.policies ?? 0) > 0 };
  const [row] = await warehouse.query(duplicateIdsSql(warehouse.dialect, suspect), q);
  return { facts: toNumberOrNull(row?.n) ?? 0, policies: toNumberOrNull(row?.policy_n) ?? 0 };
}

async function duplicates(request: CheckRequest, plan: VerificationPlan): Promise<CheckResult[]> {
  const { config, counts } = request;
  const { facts, policies } = await duplicateRows(request, plan.rows);
  const found = [
    ...(facts > 0 ? [`${facts} duplicate event_id rows`] : []),
    ...(policies > 0 ? [`${policies} duplicate policy evaluation rows`] : []),
  ];
  const results: CheckResult[] = [
    {
      name: 'duplicates',
      scope: 'checked range',
      status: found.length === 0 ? 'pass' : failed(config.checks.duplicates.severity),
      blocking: false,
      observed: facts + policies,
      expected: '0',
      message: found.length === 0 ? 'no duplicate event_id' : found.join(', '),
    },
  ];
  if (counts && counts.read > 0) {
    const rate = counts.inBatchDuplicates / counts.read;
    const limit = config.checks.duplicates.max_delivery_rate;
    results.push({
      name: 'duplicate_delivery',
      scope: 'run',
      status: rate <= limit ? 'pass' : 'warn',
      blocking: false,
      observed: rate,
      expected: `<= ${limit}`,
      message: `the source delivered ${counts.inBatchDuplicates} duplicate records of ${counts.read} (${(rate * 100).toFixed(3)}%)`,
    });
    results.push({
      name: 'conflicting_duplicates',
      scope: 'run',
      status: counts.conflicts === 0 ? 'pass' : 'warn',
      blocking: false,
      observed: counts.conflicts,
      expected: '0',
      message:
        counts.conflicts === 0
          ? 'no event arrived twice with different content'
          : `${counts.conflicts} events arrived twice with different content (first loaded kept; see etl_conflict)`,
    });
  }
  return results;
}

/** The lag the schedule implies (decision 15): its interval + settle_delay + the tolerance (5 min by default). */
export function freshnessLimitMs(config: Config, scheduleIntervalMs?: number): number {
  const f = config.checks.freshness;
  return (scheduleIntervalMs ?? f.schedule_interval) + config.window.settle_delay + f.tolerance;
}

async function freshness(request: CheckRequest): Promise<CheckResult[]> {
  const { warehouse, config } = request;
  const f = config.checks.freshness;
  const [row] = await warehouse.query(lagSql(warehouse.dialect), params(request));
  const newest = toNumberOrNull(row?.newest_ms);
  const limitMs = freshnessLimitMs(config, request.scheduleIntervalMs);
  const lagMs = newest === null ? null : request.nowMs - newest;
  const p50 = toNumberOrNull(row?.lag_p50_s);
  const p99 = toNumberOrNull(row?.lag_p99_s);
  const ingest = p50 === null ? '' : `; this run's load lag p50 ${p50.toFixed(0)} s, p99 ${(p99 ?? 0).toFixed(0)} s`;
  return [
    {
      name: 'freshness',
      scope: 'newest event',
      status: lagMs !== null && lagMs <= limitMs ? 'pass' : failed(f.severity),
      blocking: false,
      observed: lagMs === null ? null : lagMs / 1000,
      expected: `<= ${limitMs / 1000} s`,
      message:
        lagMs === null
          ? 'no event in the checked range'
          : `newest event is ${(lagMs / 60_000).toFixed(1)} min old; the schedule implies at most ${(limitMs / 60_000).toFixed(1)} min${ingest}`,
    },
  ];
}

async function anomalies(request: CheckRequest): Promise<CheckResult[]> {
  const { warehouse, config } = request;
  const a = config.checks.anomalies;
  const hourOf = (ms: number) => Math.floor(ms / HOUR_MS) * HOUR_MS;
  const trainingMs = (seasonality: Seasonality) => a.training_days * (seasonality === 'hour_of_week' ? 7 : 1) * DAY_MS;
  // After a load, every hour of the recent past not judged yet is a candidate, whatever command loaded it
  // (an explicit interval completes an hour it did not read); `aetl check` judges its own range.
  const candidatesFrom = hourOf(
    request.kind === 'on_demand' ? request.fromMs : Math.min(request.fromMs, request.toMs - trainingMs('hour_of_day')),
  );
  const lookbackFrom = candidatesFrom - trainingMs(a.seasonality === 'auto' ? 'hour_of_week' : a.seasonality);
  const spans = (
    await warehouse.query(coveredSpansSql(warehouse.dialect, request.files), params(request, lookbackFrom))
  ).map((r) => ({ fromMs: Number(r.from_ms), toMs: Number(r.to_ms) }));
  if (spans.length === 0) return [];
  // A files batch covers whole hours from its first event's to its last event's.
  const covered = coveredHours(
    request.files ? spans.map((s) => ({ fromMs: hourOf(s.fromMs), toMs: hourOf(s.toMs) + HOUR_MS })) : spans,
  );
  // A bucket is complete once its end is at least the lookback before the data's end (decision 15).
  const dataEnd = Math.min(
    request.toMs,
    spans.reduce((end, s) => Math.max(end, s.toMs), 0),
  );
  const completeEnd = dataEnd - config.window.lookback;
  let candidates = [...covered].filter((h) => h >= candidatesFrom && h + HOUR_MS <= completeEnd).sort((x, y) => x - y);
  if (candidates.length === 0) return [];

  const dataFromMs = [...covered].reduce((first, h) => Math.min(first, h));
  const seasonality = resolveSeasonality(a, candidates[0]! - dataFromMs);
  const fromMs = Math.max(lookbackFrom, candidates[0]! - trainingMs(seasonality));
  const scored = await warehouse.query(scoredBucketsSql(warehouse.dialect), params(request, fromMs));
  const flagged = new Set<string>();
  const judged = new Set<number>();
  for (const r of scored) {
    const key = flagKey(String(r.check_name), String(r.scope), Number(r.bucket_ms));
    if (r.status === 'fail' || r.status === 'warn') flagged.add(key);
    judged.add(Number(r.bucket_ms));
  }
  if (request.kind !== 'on_demand') candidates = candidates.filter((h) => !judged.has(h));
  if (candidates.length === 0) return [];

  const q = params(request, fromMs, candidates.at(-1)! + HOUR_MS);
  const rows = [
    ...(await warehouse.query(hourlyMetricsSql(warehouse.dialect, false), q)),
    ...(a.per_gateway ? await warehouse.query(hourlyMetricsSql(warehouse.dialect, true), q) : []),
  ];
  const points: HourlyPoint[] = rows.map((r) => {
    const events = Number(r.events);
    const cost = Number(r.cost);
    const bucket = toNumberOrNull(r.latency_bucket);
    return {
      hourMs: Number(r.hour_ms),
      scope: r.scope === 'total' ? 'total' : `gateway:${String(r.scope)}`,
      events,
      blocked: Number(r.blocked),
      cost,
      // The sample standard deviation from the sums (clamped: rounding can take it a hair below 0).
      costSd: events < 2 ? null : Math.sqrt(Math.max(0, (Number(r.cost_sq) - (cost * cost) / events) / (events - 1))),
      latencyP99: bucket === null ? null : bucketLatency(bucket),
    };
  });
  const scopes = ['total', ...[...new Set(points.map((p) => p.scope))].filter((s) => s !== 'total').sort()];
  return scoreAnomalies({ points, scopes, candidates, covered, flagged, config: a }, seasonality);
}

/** Per UTC day: the source's count against loaded ∪ quarantined (on demand; `run` checks each window as it loads). */
async function completenessByDay(request: CheckRequest, source: WindowedSource): Promise<CheckResult[]> {
  const { warehouse, config } = request;
  const results: CheckResult[] = [];
  for (let day = startOfUtcDay(request.fromMs); day < request.toMs; day += DAY_MS) {
    const fromMs = Math.max(day, request.fromMs);
    const toMs = Math.min(day + DAY_MS, request.toMs);
    const expected = await source.count(fromMs, toMs);
    const present = await warehouse.presentCount(config.pipeline.name, fromMs, toMs);
    results.push({
      ...completenessResult(config.checks, { expected, present, scope: `day ${isoDay(day)}` }),
      blocking: false,
    });
  }
  return results;
}

/** Unknown source fields first seen by this run's loads: kept in metadata, but the contract may need a look. */
async function schemaDrift(request: CheckRequest): Promise<CheckResult[]> {
  const { warehouse, config } = request;
  const fields = await warehouse.newDriftFields(config.pipeline.name, request.runId);
  const result = { name: 'schema_drift', scope: 'run', blocking: false, expected: '0 new fields' };
  const named = fields.map((f) => `${f.field} (${f.type}, ${f.count} records)`).join(', ');
  return [
    {
      ...result,
      status: fields.length === 0 ? 'pass' : failed(config.checks.schema_drift.severity),
      observed: fields.length,
      message:
        fields.length === 0
          ? 'no unknown source field first seen'
          : `${fields.length} unknown source field(s) first seen: ${named}; kept in metadata._extra_fields`,
    },
  ];
}

/** The parts of `outer` outside `inner` (inner within outer). */
const around = (outer: Span, inner: Span): Span[] =>
  [
    { fromMs: outer.fromMs, toMs: inner.fromMs },
    { fromMs: inner.toMs, toMs: outer.toMs },
  ].filter((s) => s.fromMs < s.toMs);

/**
 * The checks that read the range's rows (so cost what the range holds) run only where hours changed
 * since their checks passed; the hours they read and passed are recorded as verified. A failing check
 * forgets every hour it read (which one failed is not known), so those are read again, and fail again.
 */
async function verifiedChecks(request: CheckRequest): Promise<CheckResult[]> {
  const { warehouse, runId, nowMs } = request;
  const plan = await planVerification(warehouse, request, request.full === true);
  // Read before the checks: an hour written to meanwhile is recorded with what it held, so it differs next time.
  const prints = plan.rows ? await warehouse.hourPrints(plan.rows) : [];
  // Only the versions changed (no hour's rows to read): their print alone, not the range's rows grouped by hour.
  const dimensions = plan.versions ? (prints[0]?.dimensions ?? (await warehouse.dimensionsPrint())) : undefined;
  const results = [...(await integrity(request, plan)), ...(await duplicates(request, plan))];
  const passed = (names: (r: CheckResult) => boolean) =>
    results.filter((r) => r.scope === 'checked range' && names(r)).every((r) => r.status === 'pass');
  const orphans = new Set(
    integritySql(warehouse.dialect)
      .filter((p) => p.reads === 'versions')
      .map((p) => p.name),
  );
  const rowsPassed = passed((r) => !orphans.has(r.name));
  const versionsPassed = passed((r) => orphans.has(r.name));
  // The orphan probes' span holds the rows checks' span. Hours only the probes read keep the row
  // fingerprint their rows were read with (a write since the plan still shows); their dimensions are renewed.
  if (plan.versions && !versionsPassed) await warehouse.markVerifiedHours(plan.versions, false, [], runId, nowMs);
  else if (plan.versions) {
    if (fault('check:write-before-record')) await warehouse.query(copyOneFactSql(warehouse.dialect), params(request));
    if (plan.rows) await warehouse.markVerifiedHours(plan.rows, rowsPassed, prints, runId, nowMs);
    if (dimensions !== undefined) {
      for (const span of plan.rows ? around(plan.versions, plan.rows) : [plan.versions])
        await warehouse.renewVerifiedDimensions(span, dimensions);
    }
  }
  return [...results, verificationResult(plan)];
}

export async function runChecks(request: CheckRequest): Promise<CheckResult[]> {
  const { config } = request;
  const results = await verifiedChecks(request);
  if (request.kind !== 'history' && config.checks.freshness.enabled) results.push(...(await freshness(request)));
  if (config.checks.anomalies.enabled) results.push(...(await anomalies(request)));
  if (request.kind !== 'on_demand' && config.checks.schema_drift.enabled) results.push(...(await schemaDrift(request)));
  if (request.kind === 'on_demand' && request.source)
    results.push(...(await completenessByDay(request, request.source)));
  await request.warehouse.writeCheckResults(config.pipeline.name, request.runId, results, request.nowMs);
  const bad = results.filter((r) => r.status === 'fail' || r.status === 'warn' || r.status === 'error');
  if (bad.length > 0) request.logger.warn({ failing: bad.length, first: bad[0]!.message }, 'checks found problems');
  return results;
}
