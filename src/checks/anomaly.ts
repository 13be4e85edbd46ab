import type { AnomalyConfig, MetricFloors } from '../config/checks-schema.js';
import { HOUR_MS } from '../util/dates.js';
import type { CheckResult } from '../warehouse/warehouse.js';
import { failedStatus } from './status.js';

/**
 * Hourly anomaly scoring over series the warehouse aggregated (see
 * check-sql.ts). The rules come from Elementary's and Soda's open issues:
 * buckets on event time; only complete buckets scored; empty hours count
 * as 0 (a drop to zero must show) but only hours covered by committed loads
 * exist at all (an hour never loaded is unknown, not 0); a robust centre and
 * spread (median, MAD), so one outlier cannot hide an incident; the bucket under test and buckets
 * already flagged stay out of the baseline; seasonal slots (hour of day or
 * hour of week); a real minimum training size with its own status;
 * directional (drops for volume, spikes for the rest); z-score plus
 * absolute and relative floors; every result says what it saw and expected.
 */

export interface HourlyPoint {
  hourMs: number;
  scope: string;
  events: number;
  blocked: number;
  cost: number;
  /** Standard deviation of one event's cost within the hour (null below two events). */
  costSd: number | null;
  latencyP99: number | null;
}

export type Seasonality = 'hour_of_day' | 'hour_of_week' | 'none';

interface Metric {
  name: 'volume' | 'block_rate' | 'cost' | 'latency_p99';
  direction: 'drop' | 'spike';
  unit: string;
  /** Rate metrics say nothing on a handful of events. */
  needsEvents: boolean;
  value(p: HourlyPoint): number | null;
  /**
   * The sampling noise the metric has even when nothing changed (Poisson for
   * counts, binomial for rates, √n·σ for sums): a baseline of a few quiet
   * buckets can have a tiny sample deviation, and must not page on noise.
   */
  noise(mean: number, tested: HourlyPoint, training: HourlyPoint[]): number;
}

const METRICS: Metric[] = [
  {
    name: 'volume',
    direction: 'drop',
    unit: 'events',
    needsEvents: false,
    value: (p) => p.events,
    noise: (mean) => Math.sqrt(Math.max(mean, 0)),
  },
  {
    name: 'block_rate',
    direction: 'spike',
    unit: '',
    needsEvents: true,
    value: (p) => (p.events > 0 ? p.blocked / p.events : null),
    noise: (mean, tested) => Math.sqrt((mean * (1 - mean)) / Math.max(tested.events, 1)),
  },
  {
    name: 'cost',
    direction: 'spike',
    unit: 'USD',
    needsEvents: false,
    value: (p) => p.cost,
    noise: (_, tested, training) => {
      const sds = training.map((p) => p.costSd).filter((v): v is number => v !== null);
      const eventSd = sds.length === 0 ? 0 : sds.reduce((a, b) => a + b, 0) / sds.length;
      return Math.sqrt(Math.max(tested.events, 1)) * eventSd;
    },
  },
  {
    name: 'latency_p99',
    direction: 'spike',
    unit: 'ms',
    needsEvents: true,
    value: (p) => p.latencyP99,
    noise: () => 0,
  },
];

export interface AnomalyInput {
  points: HourlyPoint[];
  scopes: string[];
  /** Complete hours to judge (epoch ms of their start). */
  candidates: number[];
  /** Hours covered by committed loads (see coveredHours); any other hour is unknown, never a zero. */
  covered: Set<number>;
  /** `anomaly_<metric>|<scope>|<hourMs>` of buckets judged anomalous before. */
  flagged: Set<string>;
  config: AnomalyConfig;
}

export const flagKey = (check: string, scope: string, hourMs: number) => `${check}|${scope}|${hourMs}`;

/** `auto` picks hour-of-week once there are enough weeks of history for a full training set. */
export function resolveSeasonality(config: AnomalyConfig, historyMs: number): Seasonality {
  if (config.seasonality !== 'auto') return config.seasonality;
  return historyMs >= Math.max(28, config.min_training * 7) * 24 * HOUR_MS ? 'hour_of_week' : 'hour_of_day';
}

/**
 * The whole hours inside the union of loaded spans `[fromMs, toMs)`: many
 * short windows (15-minute intervals) together cover an hour none covers alone.
 */
export function coveredHours(spans: { fromMs: number; toMs: number }[]): Set<number> {
  const hours = new Set<number>();
  const sorted = [...spans].sort((a, b) => a.fromMs - b.fromMs);
  for (let i = 0; i < sorted.length;) {
    const fromMs = sorted[i]!.fromMs;
    let toMs = sorted[i]!.toMs;
    for (i++; i < sorted.length && sorted[i]!.fromMs <= toMs; i++) toMs = Math.max(toMs, sorted[i]!.toMs);
    for (let h = Math.ceil(fromMs / HOUR_MS) * HOUR_MS; h + HOUR_MS <= toMs; h += HOUR_MS) hours.add(h);
  }
  return hours;
}

function trainingHours(
  bucket: number,
  seasonality: Seasonality,
  config: AnomalyConfig,
  covered: Set<number>,
): number[] {
  const step = (seasonality === 'none' ? 1 : seasonality === 'hour_of_week' ? 7 * 24 : 24) * HOUR_MS;
  const count = seasonality === 'none' ? config.training_days * 24 : config.training_days;
  const hours: number[] = [];
  for (let k = 1; k <= count; k++) if (covered.has(bucket - k * step)) hours.push(bucket - k * step);
  return hours;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/**
 * Median and MAD scaled to a normal σ (× 1.4826). When more than half the
 * baseline is one value the MAD is 0: the mean absolute deviation from the
 * median (× 1.2533) still says how far the rest stray.
 */
export function robustStats(values: number[]): { centre: number; sd: number } {
  const centre = median(values);
  const deviations = values.map((v) => Math.abs(v - centre));
  const mad = median(deviations) * 1.4826;
  return { centre, sd: mad > 0 ? mad : (deviations.reduce((a, b) => a + b, 0) / values.length) * 1.2533 };
}

const trainingShortText = (found: number, seasonality: Seasonality, needed: number) =>
  `${found} ${seasonality} training buckets, ${needed} needed`;
const TRAINING_SHORT = /: (\d+) (hour_of_day|hour_of_week|none) training buckets, (\d+) needed$/;

/**
 * How much training an `insufficient_history` result lacked, read back from its message (the
 * ledger keeps no other column for it): `aetl report` says how much more history the checks need.
 */
export function trainingShortfall(message: string): { found: number; needed: number; seasonality: Seasonality } | null {
  const match = TRAINING_SHORT.exec(message);
  if (!match) return null;
  return { found: Number(match[1]), seasonality: match[2] as Seasonality, needed: Number(match[3]) };
}

const fmt = (value: number) => (Math.abs(value) >= 100 ? value.toFixed(0) : Number(value.toPrecision(4)).toString());

function judge(
  metric: Metric,
  floors: MetricFloors,
  tested: HourlyPoint,
  observed: number,
  training: { point: HourlyPoint; value: number }[],
  config: AnomalyConfig,
): { status: 'pass' | 'anomalous'; expected: string; centre: number; sd: number; bound: number } {
  const { centre, sd: robustSd } = robustStats(training.map((t) => t.value));
  // A prediction interval: the baseline's spread (at least the metric's sampling noise), widened for its size.
  const spread = Math.max(
    robustSd,
    metric.noise(
      centre,
      tested,
      training.map((t) => t.point),
    ),
  );
  const sd = spread * Math.sqrt(1 + 1 / training.length);
  if (metric.direction === 'drop') {
    const bound = Math.min(centre - config.z * sd, centre - floors.min_abs, centre * (1 - floors.min_rel));
    return { status: observed < bound ? 'anomalous' : 'pass', expected: `>= ${fmt(bound)}`, centre, sd, bound };
  }
  const bound = Math.max(centre + config.z * sd, centre + floors.min_abs, centre * (1 + floors.min_rel));
  return { status: observed > bound ? 'anomalous' : 'pass', expected: `<= ${fmt(bound)}`, centre, sd, bound };
}

export function scoreAnomalies(input: AnomalyInput, seasonality: Seasonality): CheckResult[] {
  const { config } = input;
  const byKey = new Map(input.points.map((p) => [`${p.scope}|${p.hourMs}`, p]));
  const at = (scope: string, hourMs: number): HourlyPoint =>
    byKey.get(`${scope}|${hourMs}`) ?? {
      hourMs,
      scope,
      events: 0,
      blocked: 0,
      cost: 0,
      costSd: null,
      latencyP99: null,
    };
  const flagged = new Set(input.flagged);
  const results: CheckResult[] = [];
  const failStatus = failedStatus(config.severity);
  for (const bucket of [...input.candidates].sort((a, b) => a - b)) {
    for (const scope of input.scopes) {
      for (const metric of METRICS) {
        const check = `anomaly_${metric.name}`;
        const floors = config[metric.name];
        const usable = (p: HourlyPoint) =>
          !metric.needsEvents || p.events >= config.min_events ? metric.value(p) : null;
        const base = { name: check, scope, blocking: false, bucket };
        const tested = at(scope, bucket);
        const observed = usable(tested);
        const when = new Date(bucket).toISOString().slice(0, 13) + ':00Z';
        if (observed === null) {
          const message = `${metric.name} for ${scope} at ${when}: fewer than ${config.min_events} events, not judged`;
          results.push({ ...base, status: 'skipped', observed: null, expected: null, message });
          continue;
        }
        const training = trainingHours(bucket, seasonality, config, input.covered)
          .filter((h) => !flagged.has(flagKey(check, scope, h)))
          .map((h) => ({ point: at(scope, h), value: usable(at(scope, h)) }))
          .filter((t): t is { point: HourlyPoint; value: number } => t.value !== null);
        if (training.length < config.min_training) {
          const message = `${metric.name} for ${scope} at ${when}: ${trainingShortText(training.length, seasonality, config.min_training)}`;
          results.push({ ...base, status: 'insufficient_history', observed, expected: null, message });
          continue;
        }
        const verdict = judge(metric, floors, tested, observed, training, config);
        const word = metric.direction === 'drop' ? 'below' : 'above';
        const message =
          `${metric.name} for ${scope} at ${when}: ${fmt(observed)}${metric.unit ? ` ${metric.unit}` : ''}` +
          (verdict.status === 'anomalous'
            ? ` is ${word} the expected ${verdict.expected}`
            : ` within ${verdict.expected}`) +
          ` (median ${fmt(verdict.centre)}, sd ${fmt(verdict.sd)} over ${training.length} ${seasonality} buckets, z ${config.z})`;
        if (verdict.status === 'anomalous') flagged.add(flagKey(check, scope, bucket));
        results.push({
          ...base,
          status: verdict.status === 'anomalous' ? failStatus : 'pass',
          observed,
          expected: verdict.expected,
          message,
        });
      }
    }
  }
  return results;
}
