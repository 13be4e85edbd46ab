import { runChecks, type CheckRequest } from '../checks/run-checks.js';
import type { WindowedSource } from '../source/source.js';
import type { WarehouseChecks, WarehouseState } from '../warehouse/warehouse.js';
import { sumCounts, type Session } from './session.js';
import { DAY_MS } from '../util/dates.js';
import { UsageError } from '../util/errors.js';

/** The span the session's loads covered: their windows, or for files the events' own times. */
function loadedRange(session: Pick<Session, 'results'>): { fromMs: number; toMs: number } | null {
  const spans = session.results.map((r) => r.window ?? r.eventSpan).filter((s) => s !== null);
  if (spans.length === 0) return null;
  const starts = spans.map((s) => ('startMs' in s ? s.startMs : s.fromMs));
  const ends = spans.map((s) => ('endMs' in s ? s.endMs : s.toMs));
  return { fromMs: Math.min(...starts), toMs: Math.max(...ends) };
}

/** Runs the post-load checks over what this session loaded; their results decide exit 3. */
export async function checkAfterLoads(
  session: Session<WarehouseChecks>,
  kind: CheckRequest['kind'],
  scheduleIntervalMs?: number,
): Promise<void> {
  const range = loadedRange(session);
  if (!range) return;
  await checkInSession(session, { ...range, kind, scheduleIntervalMs, counts: sumCounts(session.results) });
}

/** Runs the checks with the session's warehouse, config and clock; their results decide the exit code. */
async function checkInSession(
  session: Session<WarehouseChecks>,
  request: Pick<CheckRequest, 'fromMs' | 'toMs' | 'kind' | 'counts' | 'source' | 'scheduleIntervalMs' | 'full'>,
): Promise<void> {
  const { warehouse, config, logger, runId, nowMs } = session;
  const files = session.source.kind === 'files';
  session.runProgress?.stage('checks');
  const results = await session.timings.time('checks', () =>
    runChecks({ warehouse, config, logger, runId, nowMs, files, ...request }),
  );
  session.checks.push(...results);
}

/**
 * `aetl check [--from --to]`: every check over a range (default: the 24
 * hours before now − settle_delay), with per-day completeness when the source
 * can count. The range is clipped to what runs have loaded: events past the
 * checkpoint are not missing, just not due yet.
 */
export function checkRange(requested: {
  fromMs?: number;
  toMs?: number;
  /** Judge the window the pipeline loaded last instead. */
  lastWindow?: boolean;
  /** Read every hour again (`--full`). */
  full?: boolean;
}): (session: Session<WarehouseChecks & Pick<WarehouseState, 'lastWindow' | 'loadedSpan'>>) => Promise<void> {
  return async (session) => {
    const source: WindowedSource | undefined = session.source.kind === 'windowed' ? session.source.source : undefined;
    const last = requested.lastWindow ? await session.warehouse.lastWindow(session.config.pipeline.name) : null;
    if (requested.lastWindow && !last) throw new UsageError('--window: this pipeline has not loaded a window yet');
    const toMs = last?.toMs ?? requested.toMs ?? session.nowMs - session.config.window.settle_delay;
    const fromMs = last?.fromMs ?? requested.fromMs ?? toMs - DAY_MS;
    const span = await session.warehouse.loadedSpan(session.config.pipeline.name);
    const range = span ? { fromMs: Math.max(fromMs, span.fromMs), toMs: Math.min(toMs, span.toMs) } : { fromMs, toMs };
    if (range.fromMs >= range.toMs) {
      session.logger.warn('nothing loaded in the requested range: no check to run');
      return;
    }
    await checkInSession(session, { ...range, kind: 'on_demand', source, full: requested.full });
  };
}
