import { describe, expect, it } from 'vitest';
import { clipToSignpost, planWindows, splitRange } from '../../src/state/window.js';

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
      /checkpoint 2026-05-02T00:00:00.000Z is in the future .*check the clock of this machine/,
    );
  });

  it('a checkpoint exactly at now is not in the future: nothing to read yet', () => {
    const now = t('2026-05-01T12:00:00Z');
    expect(planWindows(now, now, settings).windows).toEqual([]);
  });

  it('a first run whose initial_start is at the signpost plans no (empty) window', () => {
    const now = t('2026-05-01T12:00:00Z');
    const signpost = now - settings.settleDelayMs;
    expect(planWindows(null, now, { ...settings, initialStartMs: signpost }).windows).toEqual([]);
    expect(planWindows(null, now, { ...settings, initialStartMs: signpost - 1 }).windows).toEqual([
      { startMs: signpost - 1, endMs: signpost },
    ]);
  });
});

describe('splitRange', () => {
  const spans = (windows: { startMs: number; endMs: number }[]) => windows.map((w) => [iso(w.startMs), iso(w.endMs)]);

  it('cuts a range into consecutive steps, the last one short', () => {
    expect(spans(splitRange(t('2026-05-01T00:00:00Z'), t('2026-05-01T05:00:00Z'), 2 * H))).toEqual([
      ['2026-05-01T00:00:00.000Z', '2026-05-01T02:00:00.000Z'],
      ['2026-05-01T02:00:00.000Z', '2026-05-01T04:00:00.000Z'],
      ['2026-05-01T04:00:00.000Z', '2026-05-01T05:00:00.000Z'],
    ]);
  });

  it('with alignDays, cuts fall on UTC midnights whatever the step', () => {
    expect(spans(splitRange(t('2026-05-01T18:00:00Z'), t('2026-05-03T06:00:00Z'), H, true))).toEqual([
      ['2026-05-01T18:00:00.000Z', '2026-05-02T00:00:00.000Z'],
      ['2026-05-02T00:00:00.000Z', '2026-05-03T00:00:00.000Z'],
      ['2026-05-03T00:00:00.000Z', '2026-05-03T06:00:00.000Z'],
    ]);
  });

  it('an empty range has no window', () => {
    expect(splitRange(t('2026-05-01T00:00:00Z'), t('2026-05-01T00:00:00Z'), H)).toEqual([]);
  });
});

describe('clipToSignpost', () => {
  const now = t('2026-05-01T12:00:00Z');
  const signpost = now - 120_000;

  it('clips a --to beyond the signpost to it, and says so', () => {
    expect(clipToSignpost(signpost + 1, now, 120_000)).toEqual({ toMs: signpost, clipped: true });
  });

  it('leaves a --to at or before the signpost alone', () => {
    expect(clipToSignpost(signpost, now, 120_000)).toEqual({ toMs: signpost, clipped: false });
    expect(clipToSignpost(signpost - H, now, 120_000)).toEqual({ toMs: signpost - H, clipped: false });
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
