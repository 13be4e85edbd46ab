import { listSourceFiles, readSourceFile, UnreadableFileError } from '../source/files.js';
import { RunFailedError } from '../util/errors.js';
import type { WindowedSource } from '../source/source.js';
import { planWindows } from '../state/window.js';
import { DAY_MS } from '../util/dates.js';
import { extractAndLoad, timeWindowSource } from './package-steps.js';
import { checkAfterLoads } from './post-load.js';
import type { Session } from './session.js';

/** `aetl run` on a time-windowed source: consecutive windows from the checkpoint to the signpost. */
async function loadWindows(session: Session, source: WindowedSource): Promise<void> {
  const w = session.config.window;
  const checkpoint = await session.warehouse.getCheckpoint(session.config.pipeline.name);
  const plan = planWindows(checkpoint, session.nowMs, {
    lookbackMs: w.lookback,
    settleDelayMs: w.settle_delay,
    maxWindowMs: w.max_window,
    maxWindows: w.max_windows,
    initialStartMs: w.initial_start?.getTime() ?? session.nowMs - DAY_MS,
  });
  if (plan.windows.length === 0) session.logger.info('nothing to load: the checkpoint is at the signpost');
  for (const [i, window] of plan.windows.entries()) {
    session.stop.throwIfRequested();
    const result = await extractAndLoad(session, await timeWindowSource(source, window), window.endMs);
    session.progress?.({ done: i + 1, total: plan.windows.length, label: 'windows', events: result.counts.read });
    if (!result.checkpointMoved) break;
  }
}

/**
 * `aetl run` on files: every file whose (path, sha256) is not in the ledger
 * yet, one package each. A file that fails its checks or cannot be read stays
 * out of the ledger (so a fixed file is retried) without holding up the
 * others; an unreadable one fails the run at the end, naming it.
 */
async function loadFiles(session: Session, pattern: string): Promise<void> {
  const ledger = await session.warehouse.loadedFiles(session.config.pipeline.name);
  const files = await listSourceFiles(pattern, session.config.source.min_file_age, session.nowMs);
  const fresh = files.filter((file) => ledger.get(file.path) !== file.sha256);
  session.logger.info({ found: files.length, new: fresh.length }, 'source files listed');
  const unreadable: string[] = [];
  for (const [i, file] of fresh.entries()) {
    session.stop.throwIfRequested();
    const input = {
      window: null,
      records: readSourceFile(file.path, session.config.source.max_record_bytes),
      sourceCount: null,
      sourceFiles: [file],
    };
    try {
      const result = await extractAndLoad(session, input, null);
      session.progress?.({ done: i + 1, total: fresh.length, label: 'files', events: result.counts.read });
    } catch (error) {
      if (!(error instanceof UnreadableFileError)) throw error;
      // Packages read before the break are loaded; the file stays out of the ledger and is retried whole.
      session.logger.error(
        { file: file.path, err: error.message },
        'file not recorded as loaded: it cannot be read to its end',
      );
      unreadable.push(error.message);
    }
  }
  if (unreadable.length > 0)
    throw new RunFailedError(`${unreadable.length} file(s) could not be read: ${unreadable.join('; ')}`);
}

export async function runIncremental(session: Session): Promise<void> {
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
