import { freshnessLimitMs } from '../checks/run-checks.js';
import { clipToSignpost, planWindows, splitRange } from '../state/window.js';
import { ConfigError } from '../util/errors.js';
import {
  extractAndLoad,
  loadStream,
  packageStream,
  timeWindowSource,
  type PackageStream,
  type PackageWarehouse,
} from './package-steps.js';
import { checkAfterLoads } from './post-load.js';
import type { Session } from './session.js';
import type { WarehouseChecks, WarehouseState } from '../warehouse/warehouse.js';

export interface ExplicitRange {
  fromMs: number;
  toMs: number;
}

/** The windowed source and the range clipped to the signpost, or a usage error. */
function prepare(session: Session<unknown>, range: ExplicitRange, command: string) {
  const { source } = session;
  if (source.kind !== 'windowed') {
    throw new ConfigError(`${command} --from/--to needs a time-windowed source (source.kind events_api or simulator)`);
  }
  const clip = clipToSignpost(range.toMs, session.nowMs, session.config.window.settle_delay);
  if (clip.clipped) {
    session.logger.warn(
      { requested: new Date(range.toMs).toISOString(), clippedTo: new Date(clip.toMs).toISOString() },
      '--to is past now − settle_delay: clipped, events there may not have arrived yet',
    );
  }
  return { source: source.source, fromMs: range.fromMs, toMs: clip.toMs };
}

/**
 * `aetl run --from --to`: an explicit interval (e.g. Airflow's data
 * interval), read from `from − lookback` like `run` so late events are
 * caught. It moves the incremental checkpoint only when it is the next
 * window (from ≤ checkpoint < to) or the first one (DESIGN.md decision 18).
 */
export function runExplicit(
  range: ExplicitRange,
): (session: Session<PackageWarehouse & WarehouseChecks & Pick<WarehouseState, 'getCheckpoint'>>) => Promise<void> {
  return async (session) => {
    const { source, fromMs, toMs } = prepare(session, range, 'run');
    const w = session.config.window;
    const checkpoint = await session.warehouse.getCheckpoint(session.config.pipeline.name);
    const movesCheckpoint = checkpoint === null || (fromMs <= checkpoint && checkpoint < toMs);
    // The windows `run` would plan from a checkpoint at `from` with its signpost at `to`.
    const { windows } = planWindows(fromMs, toMs + w.settle_delay, {
      lookbackMs: w.lookback,
      settleDelayMs: w.settle_delay,
      maxWindowMs: w.max_window,
      maxWindows: Infinity,
      initialStartMs: fromMs,
    });
    for (const window of windows) {
      session.stop.throwIfRequested();
      // In packages of at most staging.package_records, as `run` loads a window: memory stays bounded.
      const input = await timeWindowSource(source, window);
      const result = await extractAndLoad(session, input, movesCheckpoint ? window.endMs : null);
      if (!result.checksPassed) break;
    }
    // The orchestrator's interval is its schedule: freshness is judged against it for the next interval, or
    // one that ends recently enough to be fresh; an older one (a clear, a re-run) is history.
    const intervalMs = toMs - fromMs;
    const current = movesCheckpoint || toMs >= session.nowMs - freshnessLimitMs(session.config, intervalMs);
    await checkAfterLoads(session, current ? 'incremental' : 'history', intervalMs);
  };
}

export interface BackfillDetail {
  days: number;
  alreadyDone: number;
  loaded: number;
}

/**
 * `aetl backfill --from --to [--parallel N]`: half-open UTC day windows
 * through the same path as every load, never moving the checkpoint. Days an
 * earlier backfill completed are skipped, so an interrupted backfill resumes.
 * Each day loads in packages of at most `staging.package_records` and is
 * recorded done with its last one. Up to N days are extracted at once, each at
 * most one package ahead of the one writer that loads them in order: memory
 * holds N + 1 packages, never a day.
 */
export function backfill(
  range: ExplicitRange,
  parallel: number,
): (
  session: Session<PackageWarehouse & WarehouseChecks & Pick<WarehouseState, 'completedWindows'>>,
) => Promise<BackfillDetail> {
  return async (session) => {
    const { source, fromMs, toMs } = prepare(session, range, 'backfill');
    const days = splitRange(fromMs, toMs, 0, true);
    const done = await session.warehouse.completedWindows(session.config.pipeline.name, 'backfill');
    const todo = days.filter((w) => !done.has(`${w.startMs}-${w.endMs}`));
    session.logger.info({ days: days.length, alreadyDone: days.length - todo.length }, 'backfill planned');

    const streams: PackageStream[] = [];
    const extracted = new Set<number>(); // days whose extraction is over: last package taken, or the day stopped
    const startDays = () => {
      while (streams.length < todo.length && streams.length - extracted.size < parallel) {
        const day = streams.length;
        const finish = () => {
          extracted.add(day);
          startDays();
        };
        streams.push(packageStream(session, timeWindowSource(source, todo[day]!), finish));
      }
    };
    startDays();
    try {
      for (let i = 0; i < todo.length; i++) {
        const result = await loadStream(session, streams[i]!, null);
        extracted.add(i);
        startDays();
        session.progress?.({ done: i + 1, total: todo.length, label: 'days', events: result.totals.read });
      }
    } finally {
      await Promise.all(streams.map((s) => s.idle()));
    }
    await checkAfterLoads(session, 'history');
    return { days: days.length, alreadyDone: days.length - todo.length, loaded: todo.length };
  };
}

export interface ReplayDetail {
  windows: number;
  inserted: number;
  /** With --force-update: loaded events replaced by a changed version (old and new hash in etl_conflict). */
  replaced: number;
}

/**
 * `aetl replay --from --to [--force-update]`: pulls a range from the source
 * again (say after the vendor fixed data) through the ordinary load, never
 * moving the checkpoint. Insert-only as always, so what was loaded stays;
 * with --force-update an event whose content changed replaces the loaded one.
 */
export function replayRange(
  range: ExplicitRange,
  forceUpdate: boolean,
): (session: Session<PackageWarehouse & WarehouseChecks>) => Promise<ReplayDetail> {
  return async (session) => {
    const { source, fromMs, toMs } = prepare(session, range, 'replay');
    const windows = splitRange(fromMs, toMs, session.config.window.max_window);
    const detail: ReplayDetail = { windows: windows.length, inserted: 0, replaced: 0 };
    for (const [i, window] of windows.entries()) {
      session.stop.throwIfRequested();
      const { totals } = await extractAndLoad(session, await timeWindowSource(source, window), null, { forceUpdate });
      detail.inserted += totals.inserted - totals.replaced;
      detail.replaced += totals.replaced;
      session.progress?.({ done: i + 1, total: windows.length, label: 'windows', events: totals.read });
    }
    await checkAfterLoads(session, 'history');
    return detail;
  };
}
