import { describe, expect, it } from 'vitest';
import { planWindows } from '../../src/state/window.js';

const H = 3_600_000;
const settings = { lookbackMs: H, settleDelayMs: 120_000, maxWindowMs: 6 * H, maxWindows: 48, initialStartMs: 0 };
const t = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe('planWindows', () => {
  it('first run: consecutive windows from initial_start to the signpost, overlapping by the lookback', () => {
    const now = t('2026-05-01T12:00:00Z');
    const plan = planWindows(null, now, { ...settings, initialStartMs: now - 24 * H });
    expect(iso(plan.signpostMs)).toBe('2026-05-01T11:58:00.000Z');
    expect(plan.windows.map((w) => [iso(w.startMs), iso(w.endMs)])).toEqual([
      ['2026-04-30T12:00:00.000Z', '2026-04-30T18:00:00.000Z'],
      ['2026-04-30T17:00:00.000Z', '2026-04-30T23:00:00.000Z'],
      ['2026-04-30T22:00:00.000Z', '2026-05-01T04:00:00.000Z'],
      ['2026-05-01T03:00:00.000Z', '2026-05-01T09:00:00.000Z'],
      ['2026-05-01T08:00:00.000Z', '2026-05-01T11:58:00.000Z'],
    ]);
  });

  it('a caught-up checkpoint re-reads only the lookback, and one at the signpost reads nothing', () => {
    const now = t('2026-05-01T12:15:00Z');
    const plan = planWindows(t('2026-05-01T11:58:00Z'), now, settings);
    expect(plan.windows.map((w) => [iso(w.startMs), iso(w.endMs)])).toEqual([
      ['2026-05-01T10:58:00.000Z', '2026-05-01T12:13:00.000Z'],
    ]);
    expect(planWindows(plan.signpostMs, now, settings).windows).toEqual([]);
  });

  it('crosses month and year boundaries in UTC (no local-time arithmetic)', () => {
    const plan = planWindows(t('2026-12-31T23:30:00Z'), t('2027-01-01T02:00:00Z'), settings);
    expect(plan.windows.map((w) => [iso(w.startMs), iso(w.endMs)])).toEqual([
      ['2026-12-31T22:30:00.000Z', '2027-01-01T01:58:00.000Z'],
    ]);
  });

  it('the window end does not depend on the process time zone or DST', () => {
    // 2026-03-29 01:00 UTC is when Europe moves its clocks; windows are pure UTC milliseconds.
    const plan = planWindows(t('2026-03-29T00:30:00Z'), t('2026-03-29T04:00:00Z'), settings);
    expect(plan.windows.map((w) => [iso(w.startMs), iso(w.endMs)])).toEqual([
      ['2026-03-28T23:30:00.000Z', '2026-03-29T03:58:00.000Z'],
    ]);
  });

  it('stops at max_windows; the next run resumes where it stopped', () => {
    const now = t('2026-05-10T00:00:00Z');
    const plan = planWindows(t('2026-05-01T00:00:00Z'), now, { ...settings, maxWindows: 3 });
    expect(plan.windows).toHaveLength(3);
    const next = planWindows(plan.windows[2]!.endMs, now, { ...settings, maxWindows: 1 });
    expect(next.windows[0]!.startMs).toBe(plan.windows[2]!.endMs - H);
  });

  it('windows are half-open and adjacent windows share only the lookback', () => {
    const plan = planWindows(t('2026-05-01T00:00:00Z'), t('2026-05-03T00:00:00Z'), settings);
    for (let i = 1; i < plan.windows.length; i++) {
      expect(plan.windows[i - 1]!.endMs - plan.windows[i]!.startMs).toBe(H);
    }
  });

  it('refuses a checkpoint in the future with a clear error', () => {
    expect(() => planWindows(t('2026-05-02T00:00:00Z'), t('2026-05-01T00:00:00Z'), settings)).toThrow(
      /checkpoint 2026-05-02T00:00:00.000Z is in the future/,
    );
  });
});

describe('clock skew between source and loader', () => {
  it('an event stamped after this run’s signpost (source clock ahead) falls in the next window, not nowhere', () => {
    const now1 = t('2026-05-01T12:00:00Z');
    const first = planWindows(t('2026-05-01T11:00:00Z'), now1, settings);
    const event = first.signpostMs + 30_000; // stamped 30 s past what this run may read
    expect(first.windows.every((w) => event >= w.endMs)).toBe(true);
    const second = planWindows(first.windows.at(-1)!.endMs, now1 + 15 * 60_000, settings);
    expect(second.windows.some((w) => event >= w.startMs && event < w.endMs)).toBe(true);
  });
});
