import { listSourceFiles, readSourceFile, UnreadableFileError, type SourceFile } from '../source/files.js';
import type { Config } from '../config/schema.js';
import { UnreadableFilesError } from '../util/errors.js';
import type { WindowedSource } from '../source/source.js';
import { planWindows } from '../state/window.js';
import { DAY_MS } from '../util/dates.js';
import { extractAndLoad, timeWindowSource, type PackageSource, type PackageWarehouse } from './package-steps.js';
import { checkAfterLoads } from './post-load.js';
import type { Session } from './session.js';
import type { WarehouseChecks, WarehouseState } from '../warehouse/warehouse.js';

/** The windows `aetl run` loads next, from the checkpoint (or window.initial_start) to the signpost. */
export function windowsFrom(config: Config, checkpoint: number | null, nowMs: number): ReturnType<typeof planWindows> {
  const w = config.window;
  return planWindows(checkpoint, nowMs, {
    lookbackMs: w.lookback,
    settleDelayMs: w.settle_delay,
    maxWindowMs: w.max_window,
    maxWindows: w.max_windows,
    initialStartMs: w.initial_start?.getTime() ?? nowMs - DAY_MS,
  });
}

/** The files `aetl run` loads next: every one whose (path, sha256) is not in the ledger. */
export async function freshFiles(
  config: Config,
  pattern: string,
  ledger: Map<string, string>,
  nowMs: number,
): Promise<{ found: number; fresh: SourceFile[] }> {
  const files = await listSourceFiles(pattern, config.source.min_file_age, nowMs);
  return { found: files.length, fresh: files.filter((file) => ledger.get(file.path) !== file.sha256) };
}

/** One source file as a package source: no window, no count (completeness counts the records its reader found). */
export function fileSource(config: Config, file: SourceFile): PackageSource {
  const found = { records: 0 };
  return {
    window: null,
    records: readSourceFile(file.path, config.source.max_record_bytes, found),
    sourceCount: null,
    sourceFiles: [file],
    found,
  };
}

/** `aetl run` on a time-windowed source: consecutive windows from the checkpoint to the signpost. */
async function loadWindows(
  session: Session<PackageWarehouse & Pick<WarehouseState, 'getCheckpoint'>>,
  source: WindowedSource,
): Promise<void> {
  const checkpoint = await session.warehouse.getCheckpoint(session.config.pipeline.name);
  const plan = windowsFrom(session.config, checkpoint, session.nowMs);
  if (plan.windows.length === 0) session.logger.info('nothing to load: the checkpoint is at the signpost');
  for (const [i, window] of plan.windows.entries()) {
    session.stop.throwIfRequested();
    const result = await extractAndLoad(session, await timeWindowSource(source, window), window.endMs);
    session.progress?.({ done: i + 1, total: plan.windows.length, label: 'windows', events: result.totals.read });
    if (!result.checkpointMoved) break;
  }
}

/**
 * `aetl run` on files: every file whose (path, sha256) is not in the ledger
 * yet, one package each. A file that fails its checks or cannot be read stays
 * out of the ledger (so a fixed file is retried) without holding up the
 * others; an unreadable one fails the run at the end, naming it.
 */
async function loadFiles(
  session: Session<PackageWarehouse & Pick<WarehouseState, 'loadedFiles'>>,
  pattern: string,
): Promise<void> {
  const ledger = await session.warehouse.loadedFiles(session.config.pipeline.name);
  const { found, fresh } = await freshFiles(session.config, pattern, ledger, session.nowMs);
  session.logger.info({ found, new: fresh.length }, 'source files listed');
  const unreadable: UnreadableFileError[] = [];
  for (const [i, file] of fresh.entries()) {
    session.stop.throwIfRequested();
    try {
      const result = await extractAndLoad(session, fileSource(session.config, file), null);
      session.progress?.({ done: i + 1, total: fresh.length, label: 'files', events: result.totals.read });
    } catch (error) {
      if (!(error instanceof UnreadableFileError)) throw error;
      // Packages read before the break are loaded; the file stays out of the ledger and is retried whole.
      session.logger.error(
        { file: file.path, err: error.message },
        'file not recorded as loaded: it cannot be read to its end',
      );
      unreadable.push(error);
    }
  }
  if (unreadable.length > 0)
    throw new UnreadableFilesError(
      unreadable.map((e) => e.message),
      unreadable.map((e) => e.path),
    );
}

export async function runIncremental(
  session: Session<PackageWarehouse & WarehouseChecks & Pick<WarehouseState, 'getCheckpoint' | 'loadedFiles'>>,
): Promise<void> {
  const { source } = session;
  try {
    if (source.kind === 'files') await loadFiles(session, source.pattern);
    else await loadWindows(session, source.source);
  } finally {
    // What did load is checked even when a later file or window failed.
    // Files have no schedule to be fresh against: they get the history checks.
    await checkAfterLoads(session, source.kind === 'files' ? 'history' : 'incremental');
  }
}
