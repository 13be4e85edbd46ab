import type { AnomalyConfig, MetricFloors } from '../config/checks-schema.js';
import { HOUR_MS } from '../util/dates.js';
import type { CheckResult } from '../warehouse/warehouse.js';
import { failedStatus } from './status.js';

/**
 * Hourly anomaly scoring over series the warehouse aggregated (see
 * check-sql.ts). The rules come from Elementary's and Soda's open issues:
 * buckets on event time; only complete buckets scored; empty hours count
 * as 0 (a drop to zero must show); the bucket under test and buckets
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
  /** No data before this: earlier hours are unknown, not zero. */
  dataFromMs: number;
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

function trainingHours(bucket: number, seasonality: Seasonality, config: AnomalyConfig, fromMs: number): number[] {
  const hours: number[] = [];
  if (seasonality === 'none') {
    for (let h = bucket - HOUR_MS; h >= bucket - config.training_days * 24 * HOUR_MS && h >= fromMs; h -= HOUR_MS)
      hours.push(h);
    return hours;
  }
  const step = (seasonality === 'hour_of_week' ? 7 * 24 : 24) * HOUR_MS;
  for (let k = 1; k <= config.training_days; k++) {
    const h = bucket - k * step;
    if (h < fromMs) break;
    hours.push(h);
  }
  return hours;
}

function stats(values: number[]): { mean: number; sd: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, values.length - 1);
  return { mean, sd: Math.sqrt(variance) };
}

const fmt = (value: number) => (Math.abs(value) >= 100 ? value.toFixed(0) : Number(value.toPrecision(4)).toString());

function judge(
  metric: Metric,
  floors: MetricFloors,
  tested: HourlyPoint,
  observed: number,
  training: { point: HourlyPoint; value: number }[],
  config: AnomalyConfig,
): { status: 'pass' | 'anomalous'; expected: string; mean: number; sd: number; bound: number } {
  const { mean, sd: sampleSd } = stats(training.map((t) => t.value));
  // A prediction interval: the baseline's spread (at least the metric's sampling noise), widened for its size.
  const spread = Math.max(
    sampleSd,
    metric.noise(
      mean,
      tested,
      training.map((t) => t.point),
    ),
  );
  const sd = spread * Math.sqrt(1 + 1 / training.length);
  if (metric.direction === 'drop') {
    const bound = Math.min(mean - config.z * sd, mean - floors.min_abs, mean * (1 - floors.min_rel));
    return { status: observed < bound ? 'anomalous' : 'pass', expected: `>= ${fmt(bound)}`, mean, sd, bound };
  }
  const bound = Math.max(mean + config.z * sd, mean + floors.min_abs, mean * (1 + floors.min_rel));
  return { status: observed > bound ? 'anomalous' : 'pass', expected: `<= ${fmt(bound)}`, mean, sd, bound };
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
        const training = trainingHours(bucket, seasonality, config, input.dataFromMs)
          .filter((h) => !flagged.has(flagKey(check, scope, h)))
          .map((h) => ({ point: at(scope, h), value: usable(at(scope, h)) }))
          .filter((t): t is { point: HourlyPoint; value: number } => t.value !== null);
        if (training.length < config.min_training) {
          const message = `${metric.name} for ${scope} at ${when}: ${training.length} ${seasonality} training buckets, ${config.min_training} needed`;
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
          ` (mean ${fmt(verdict.mean)}, sd ${fmt(verdict.sd)} over ${training.length} ${seasonality} buckets, z ${config.z})`;
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
