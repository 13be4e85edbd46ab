import { describe, expect, it } from 'vitest';
import {
  coveredHours,
  resolveSeasonality,
  robustStats,
  scoreAnomalies,
  trainingShortfall,
  type HourlyPoint,
} from '../../src/checks/anomaly.js';
import { checksSchema } from '../../src/config/checks-schema.js';
import { DAY_MS, HOUR_MS } from '../../src/util/dates.js';

const config = checksSchema.parse({}).anomalies;
const TESTED = Date.parse('2026-06-15T10:00:00Z');

/** The tested hour and the same hour on the `days` days before it, with these event counts (oldest first). */
function series(training: number[], tested: number, overrides: Partial<HourlyPoint> = {}): HourlyPoint[] {
  const point = (hourMs: number, events: number): HourlyPoint => ({
    hourMs,
    scope: 'total',
    events,
    blocked: Math.round(events * 0.1),
    cost: events * 0.01,
    costSd: 0.002,
    latencyP99: 300,
  });
  return [
    ...training.map((events, i) => point(TESTED - (training.length - i) * DAY_MS, events)),
    { ...point(TESTED, tested), ...overrides },
  ];
}

function score(points: HourlyPoint[], covered = new Set(points.map((p) => p.hourMs)), flagged = new Set<string>()) {
  return scoreAnomalies({ points, scopes: ['total'], candidates: [TESTED], covered, flagged, config }, 'hour_of_day');
}

const status = (results: ReturnType<typeof score>, check: string) => results.find((r) => r.name === check)!.status;

const NOISY = [96, 104, 99, 101, 97, 103, 100, 98, 102, 95, 105, 100, 99];

describe('anomaly scoring: robust centre and spread', () => {
  it('one outlier in training does not hide a 90 % drop (a mean and sample sd would)', () => {
    for (const outlier of [0, 1000]) {
      const results = score(series([...NOISY, outlier], 10));
      expect(status(results, 'anomaly_volume'), `outlier ${outlier}`).toBe('fail');
      const volume = results.find((r) => r.name === 'anomaly_volume')!;
      expect(volume.message).toMatch(/median (99\.5|100), sd /);
      expect(Number(volume.expected!.replace('>= ', ''))).toBeGreaterThan(60);
    }
  });

  it('an ordinary hour passes, and a drop is judged only downwards: a surge in volume is not an anomaly', () => {
    expect(status(score(series(NOISY, 92)), 'anomaly_volume')).toBe('pass');
    expect(status(score(series(NOISY, 400)), 'anomaly_volume')).toBe('pass');
  });

  it('spikes are judged only upwards: the block rate falling to 0 is not an anomaly, rising to 70 % is', () => {
    expect(status(score(series(NOISY, 100, { blocked: 0 })), 'anomaly_block_rate')).toBe('pass');
    expect(status(score(series(NOISY, 100, { blocked: 70 })), 'anomaly_block_rate')).toBe('fail');
  });

  it('a perfectly flat series does not page on a small deviation (the spread has a floor), but does on a real one', () => {
    const flat = Array<number>(14).fill(100);
    expect(robustStats(flat)).toEqual({ centre: 100, sd: 0 });
    expect(status(score(series(flat, 90)), 'anomaly_volume')).toBe('pass');
    expect(status(score(series(flat, 100, { latencyP99: 380 })), 'anomaly_latency_p99')).toBe('pass');
    expect(status(score(series(flat, 40)), 'anomaly_volume')).toBe('fail');
    expect(status(score(series(flat, 100, { latencyP99: 420 })), 'anomaly_latency_p99')).toBe('fail');
  });

  it('when most of the baseline is one value, the rest still give it a spread', () => {
    expect(robustStats([100, 100, 100, 100, 100, 100, 100, 100, 140, 60])).toEqual({
      centre: 100,
      sd: (80 / 10) * 1.2533,
    });
    expect(robustStats([1, 2, 3, 4, 100]).centre).toBe(3);
    expect(robustStats([1, 2, 3, 4, 100]).sd).toBeCloseTo(1.4826);
  });

  it('hours no committed load covered are unknown, never zeros: too few covered hours is insufficient_history', () => {
    const points = series(NOISY.slice(0, 6), 10);
    const short = score(points).find((r) => r.name === 'anomaly_volume')!;
    expect(short.status).toBe('insufficient_history');
    // What `aetl report` reads back from the ledger's message: 6 of the 7 buckets it needs.
    expect(trainingShortfall(short.message)).toEqual({ found: 6, needed: 7, seasonality: 'hour_of_day' });
    // The same six days, and eight more covered hours without a single event: zeros that train the baseline.
    const covered = new Set([
      ...points.map((p) => p.hourMs),
      ...[7, 8, 9, 10, 11, 12, 13, 14].map((k) => TESTED - k * DAY_MS),
    ]);
    const withZeros = score(points, covered);
    expect(status(withZeros, 'anomaly_volume')).toBe('pass');
    const judged = withZeros.find((r) => r.name === 'anomaly_volume')!.message;
    expect(judged).toMatch(/over 14 hour_of_day buckets/);
    expect(trainingShortfall(judged)).toBeNull();
  });

  it('a drop to zero in a covered hour shows', () => {
    const points = series(NOISY, 0).filter((p) => p.hourMs !== TESTED);
    const covered = new Set([...points.map((p) => p.hourMs), TESTED]);
    const results = score(points, covered);
    expect(results.find((r) => r.name === 'anomaly_volume')).toMatchObject({ status: 'fail', observed: 0 });
    expect(status(results, 'anomaly_block_rate')).toBe('skipped'); // no events: no rate to judge
  });

  it('buckets already flagged stay out of the baseline', () => {
    const points = series([...NOISY.slice(0, 7), 10, 10, 10, 10, 10, 10, 10], 10);
    expect(status(score(points), 'anomaly_volume')).toBe('pass'); // a week at 10 is the new normal
    const flagged = new Set([1, 2, 3, 4, 5, 6, 7].map((k) => `anomaly_volume|total|${TESTED - k * DAY_MS}`));
    expect(status(score(points, undefined, flagged), 'anomaly_volume')).toBe('fail');
  });
});

describe('covered hours', () => {
  const at = (iso: string) => Date.parse(`2026-06-15T${iso}:00Z`);
  it('are the whole hours inside the union of committed spans: four 15-minute intervals cover an hour', () => {
    const quarter = (from: string, to: string) => ({ fromMs: at(from), toMs: at(to) });
    expect([
      ...coveredHours([quarter('10:30', '10:45'), quarter('10:00', '10:15'), quarter('10:15', '10:30')]),
    ]).toEqual([]);
    expect([
      ...coveredHours([
        quarter('10:30', '10:45'),
        quarter('10:00', '10:15'),
        quarter('10:15', '10:30'),
        quarter('10:45', '11:00'),
      ]),
    ]).toEqual([at('10:00')]);
    // Overlapping windows (the lookback) and a gap: the hour with the gap is not covered.
    expect([
      ...coveredHours([quarter('07:10', '09:00'), quarter('08:00', '09:30'), quarter('09:40', '11:00')]),
    ]).toEqual([at('08:00'), at('10:00')]);
    expect(coveredHours([{ fromMs: at('00:00'), toMs: at('00:00') + 3 * HOUR_MS }]).size).toBe(3);
  });
});

describe('anomaly scoring: the other metrics and the seasonality', () => {
  it('cost spikes are judged upwards against the baseline with the per-event spread; a fall is not an anomaly', () => {
    expect(status(score(series(NOISY, 100, { cost: 1 })), 'anomaly_cost')).toBe('pass');
    expect(status(score(series(NOISY, 100, { cost: 5 })), 'anomaly_cost')).toBe('fail');
    expect(status(score(series(NOISY, 100, { cost: 0 })), 'anomaly_cost')).toBe('pass');
    const cost = score(series(NOISY, 100, { cost: 5 })).find((r) => r.name === 'anomaly_cost')!;
    expect(cost.message).toMatch(/USD/);
    expect(cost.observed).toBe(5);
  });

  it('rates are not judged on an hour with fewer than min_events events', () => {
    const quiet = score(series(NOISY, config.min_events - 1, { blocked: 40 }));
    expect(status(quiet, 'anomaly_block_rate')).toBe('skipped');
    expect(status(quiet, 'anomaly_latency_p99')).toBe('skipped');
    expect(status(score(series(NOISY, config.min_events, { blocked: 40 })), 'anomaly_block_rate')).toBe('fail');
  });

  it('auto seasonality turns to hour of week only with weeks of history', () => {
    const auto = { ...config, seasonality: 'auto' as const, min_training: 7 };
    expect(resolveSeasonality(auto, 48 * DAY_MS)).toBe('hour_of_day');
    expect(resolveSeasonality(auto, 49 * DAY_MS)).toBe('hour_of_week');
    expect(resolveSeasonality({ ...auto, min_training: 2 }, 28 * DAY_MS)).toBe('hour_of_week');
    expect(resolveSeasonality({ ...auto, min_training: 2 }, 28 * DAY_MS - HOUR_MS)).toBe('hour_of_day');
    expect(resolveSeasonality({ ...config, seasonality: 'none' }, 400 * DAY_MS)).toBe('none');
  });

  it('hour-of-week baselines compare with the same hour a week apart, not the day before', () => {
    // Daily values that alternate wildly; the same weekday hour is steady at 100.
    const points: HourlyPoint[] = [];
    for (let day = 1; day <= 7 * 8; day++) {
      const hourMs = TESTED - day * DAY_MS;
      const events = day % 7 === 0 ? 100 : 5;
      points.push({ hourMs, scope: 'total', events, blocked: 0, cost: 0, costSd: null, latencyP99: null });
    }
    points.push({ hourMs: TESTED, scope: 'total', events: 100, blocked: 0, cost: 0, costSd: null, latencyP99: null });
    const covered = new Set(points.map((p) => p.hourMs));
    const judge = (seasonality: 'hour_of_week' | 'hour_of_day') =>
      scoreAnomalies(
        { points, scopes: ['total'], candidates: [TESTED], covered, flagged: new Set(), config },
        seasonality,
      ).find((r) => r.name === 'anomaly_volume')!;
    expect(judge('hour_of_week').message).toMatch(/median 100\b/);
    expect(judge('hour_of_day').message).toMatch(/median 5\b/);
  });
});
