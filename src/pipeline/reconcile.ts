import type { WindowedSource } from '../source/source.js';
import { ConfigError } from '../util/errors.js';
import { DAY_MS, isoDay, startOfUtcDay } from '../util/dates.js';
import { extractAndLoad, timeWindowSource, type PackageWarehouse } from './package-steps.js';
import { checkAfterLoads } from './post-load.js';
import type { Session } from './session.js';
import type { WarehouseChecks, WarehouseState } from '../warehouse/warehouse.js';

export interface ReconcileDay {
  day: string;
  fromMs: number;
  toMs: number;
  source: number;
  before: number;
  after: number;
  loaded: number;
  status: 'ok' | 'repaired' | 'short';
}

/**
 * Late events beyond the lookback are caught here (DESIGN.md, "One run"):
 * per UTC day of the range runs have loaded, within the horizon, the source's count (`count=true`) is
 * compared with what the warehouse holds (loaded ∪ quarantined); a day that
 * is short is pulled again through the ordinary load path. The checkpoint
 * does not move. A day still short afterwards is reported as `short`,
 * never hidden.
 */
export function reconcile(
  days: number,
): (
  session: Session<PackageWarehouse & WarehouseChecks & Pick<WarehouseState, 'loadedSpan'>>,
) => Promise<ReconcileDay[]> {
  return async (session) => {
    const { source } = session;
    if (source.kind !== 'windowed') {
      throw new ConfigError('reconcile needs a time-windowed source (source.kind events_api or simulator)');
    }
    const pipeline = session.config.pipeline.name;
    const span = await session.warehouse.loadedSpan(pipeline);
    if (span === null) {
      session.logger.info('nothing to reconcile: no window has been loaded yet');
      return [];
    }
    // Only what runs have covered (a range nobody loaded is a backfill's job), back `days` from now.
    const toMs = Math.min(span.toMs, session.nowMs - session.config.window.settle_delay);
    const fromMs = Math.max(span.fromMs, session.nowMs - days * DAY_MS);
    const result: ReconcileDay[] = [];
    const total = Math.ceil((toMs - startOfUtcDay(fromMs)) / DAY_MS);
    for (let dayStart = startOfUtcDay(fromMs); dayStart < toMs; dayStart += DAY_MS) {
      session.stop.throwIfRequested();
      const window = { startMs: Math.max(fromMs, dayStart), endMs: Math.min(toMs, dayStart + DAY_MS) };
      const day = await reconcileDay(session, source.source, window);
      result.push(day);
      session.progress?.({ done: result.length, total, label: 'days', events: day.loaded });
    }
    await checkAfterLoads(session, 'history');
    return result;
  };
}

function presentIn(
  session: Session<Pick<WarehouseChecks, 'presentCount'>>,
  window: { startMs: number; endMs: number },
): Promise<number> {
  return session.warehouse.presentCount(session.config.pipeline.name, window.startMs, window.endMs);
}

async function reconcileDay(
  session: Session<PackageWarehouse & Pick<WarehouseChecks, 'presentCount'>>,
  source: WindowedSource,
  window: { startMs: number; endMs: number },
): Promise<ReconcileDay> {
  const sourceCount = await source.count(window.startMs, window.endMs);
  const before = await presentIn(session, window);
  const day = { day: isoDay(window.startMs), fromMs: window.startMs, toMs: window.endMs, source: sourceCount, before };
  if (sourceCount <= before) return { ...day, after: before, loaded: 0, status: 'ok' };
  // In packages of at most staging.package_records; the last is checked against the count taken above.
  const { totals } = await extractAndLoad(session, await timeWindowSource(source, window, sourceCount), null);
  const after = await presentIn(session, window);
  const loaded = totals.inserted;
  session.logger.info({ day: day.day, source: sourceCount, before, after, loaded }, 'day reconciled');
  return { ...day, after, loaded, status: after < sourceCount ? 'short' : loaded > 0 ? 'repaired' : 'ok' };
}
