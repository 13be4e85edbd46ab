import { describe, expect, it } from 'vitest';
import { coveredHours, robustStats, scoreAnomalies, type HourlyPoint } from '../../src/checks/anomaly.js';
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
    expect(status(score(points), 'anomaly_volume')).toBe('insufficient_history');
    // The same six days, and eight more covered hours without a single event: zeros that train the baseline.
    const covered = new Set([
      ...points.map((p) => p.hourMs),
      ...[7, 8, 9, 10, 11, 12, 13, 14].map((k) => TESTED - k * DAY_MS),
    ]);
    const withZeros = score(points, covered);
    expect(status(withZeros, 'anomaly_volume')).toBe('pass');
    expect(withZeros.find((r) => r.name === 'anomaly_volume')!.message).toMatch(/over 14 hour_of_day buckets/);
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
