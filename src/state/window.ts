import { RunFailedError } from '../util/errors.js';

/** A half-open extraction window `[startMs, endMs)`. */
export interface TimeWindow {
  startMs: number;
  endMs: number;
}

export interface WindowSettings {
  lookbackMs: number;
  settleDelayMs: number;
  maxWindowMs: number;
  maxWindows: number;
  /** Where the first run starts when there is no checkpoint yet. */
  initialStartMs: number;
}

export interface WindowPlan {
  /** now − settle_delay, fixed when the run starts: never "the newest timestamp seen". */
  signpostMs: number;
  windows: TimeWindow[];
}

/**
 * The consecutive windows one run processes (DESIGN.md, "One run = one
 * window" and decision 5): each starts `lookback` before the checkpoint the
 * previous one leaves, ends at most `max_window` later and never after the
 * signpost. The checkpoint after a window is max(old, end).
 */
export function planWindows(checkpointMs: number | null, nowMs: number, settings: WindowSettings): WindowPlan {
  if (checkpointMs !== null && checkpointMs > nowMs) {
    throw new RunFailedError(
      `the checkpoint ${new Date(checkpointMs).toISOString()} is in the future (now is ${new Date(nowMs).toISOString()}); ` +
        'check the clock of this machine, or repair the state if the checkpoint is wrong',
    );
  }
  const signpostMs = nowMs - settings.settleDelayMs;
  const windows: TimeWindow[] = [];
  let checkpoint = checkpointMs;
  while (windows.length < settings.maxWindows) {
    const startMs = checkpoint === null ? settings.initialStartMs : checkpoint - settings.lookbackMs;
    const endMs = Math.min(signpostMs, startMs + settings.maxWindowMs);
    if (endMs <= startMs || (checkpoint !== null && checkpoint >= signpostMs)) break;
    windows.push({ startMs, endMs });
    checkpoint = Math.max(checkpoint ?? endMs, endMs);
  }
  return { signpostMs, windows };
}

/**
 * `[fromMs, toMs)` cut into windows of at most `stepMs`; with `alignDays`
 * the cuts fall on UTC midnights (backfill and reconcile work in days).
 */
export function splitRange(fromMs: number, toMs: number, stepMs: number, alignDays = false): TimeWindow[] {
  const windows: TimeWindow[] = [];
  for (let startMs = fromMs; startMs < toMs;) {
    const naturalEnd = alignDays ? (Math.floor(startMs / 86_400_000) + 1) * 86_400_000 : startMs + stepMs;
    const endMs = Math.min(toMs, naturalEnd);
    windows.push({ startMs, endMs });
    startMs = endMs;
  }
  return windows;
}

/** DESIGN.md decision 18: an explicit `--to` beyond the signpost is clipped to it, not refused. */
export function clipToSignpost(toMs: number, nowMs: number, settleDelayMs: number): { toMs: number; clipped: boolean } {
  const signpostMs = nowMs - settleDelayMs;
  return toMs > signpostMs ? { toMs: signpostMs, clipped: true } : { toMs, clipped: false };
}
