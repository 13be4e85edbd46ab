import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { COMPLETENESS_CHECK, REJECT_RATE_CHECK } from '../checks/blocking.js';
import { privacyRules, type Config } from '../config/schema.js';
import { finishLake, publishPendingLake } from '../lake/publish.js';
import type { Logger } from '../log/logger.js';
import { loadReferenceData, pseudonymizedReference } from '../reference/reference-data.js';
import { LockHeldError, type HeldLock } from '../state/lock.js';
import { ProgressFile, progressPath } from '../state/run-progress.js';
import { ConfigError, EXIT, UsageError, type ExitCode } from '../util/errors.js';
import { writeMetricsTextfile } from '../report/metrics-textfile.js';
import { failpoint } from '../util/failpoint.js';
import { StopSignal } from '../util/stop.js';
import type { AcceptedLoss, CheckResult, LoadCounts, RunStatus, Warehouse } from '../warehouse/warehouse.js';
import { sendAlert } from '../checks/alert.js';
import { StageTimings } from './stage-timings.js';
import { openSource, type OpenedSource } from './open-source.js';
import { lakeSettings, openWarehouse } from './open-warehouse.js';
import { acquireRunLock } from './run-lock.js';
import type { WindowResult } from './package-steps.js';
import { nextStepFor, nextStepForOutcome, type OutcomeFailure } from './next-step.js';
import type { TimeWindow } from '../state/window.js';
import { isoInstant } from '../util/dates.js';

export type Command =
  | 'run'
  | 'backfill'
  | 'reconcile'
  | 'rebuild-dims'
  | 'compact'
  | 'check'
  | 'retention'
  | 'state'
  | 'replay'
  | 'rejects-replay'
  | 'forget'
  | 'accept-loss';

/**
 * Everything one command's work needs while it holds the lock; `W`: the
 * warehouse roles that work uses (the session itself holds every one).
 */
export interface Session<W = Warehouse> {
  config: Config;
  logger: Logger;
  warehouse: W;
  source: OpenedSource;
  runId: string;
  command: Command;
  nowMs: number;
  stagingRoot: string;
  stop: StopSignal;
  lock: HeldLock;
  results: WindowResult[];
  /** Results of the checks run after the loads (checks/run-checks.ts). */
  checks: CheckResult[];
  /** Users `aetl forget` erased: should the source send their events again, they load without them. */
  erasedSubjects: string[];
  /** Losses accepted with `aetl accept-loss`: completeness over them warns instead of blocking. */
  acceptedLosses: AcceptedLoss[];
  /** Busy time per stage, recorded with the run's end. */
  timings: StageTimings;
  /** DuckDB: the file `aetl status` reads the run's progress from while the run holds the database. */
  runProgress?: ProgressFile;
  nextSeq(): number;
  /** Progress of long work, for a terminal; undefined when nobody watches. */
  progress?: (progress: Progress) => void;
}

export interface Progress {
  done: number;
  total: number;
  label: string;
  /** Records read by the step that just finished. */
  events: number;
}

export interface SessionOptions {
  command: Command;
  /** How long to wait for another run's lock before giving up. */
  waitMs: number;
  /** Exit 0 without doing anything when another run holds the lock. */
  skipIfLocked: boolean;
  onProgress?: (progress: Progress) => void;
  /** Who asks the run to stop; by default SIGTERM/SIGINT (the scheduler passes its own). */
  stop?: StopSignal;
}

export interface RunSummary {
  runId: string;
  command: Command;
  pipeline: string;
  status: RunStatus | 'skipped';
  exitCode: ExitCode;
  error: string | null;
  /** What to run next after a failure (pipeline/next-step.ts); null when nothing failed. */
  nextStep: string | null;
  windows: WindowResult[];
  /** Post-load (or on-demand) check results; blocking ones are with their windows. */
  checks: CheckResult[];
  totals: LoadCounts;
  checkpoint: string | null;
  tables: Record<string, number>;
  warehouse: string;
  lake: string;
  durationMs: number;
  /** Command-specific detail (e.g. reconcile's per-day table). */
  detail?: unknown;
}

const ZERO: LoadCounts = {
  read: 0,
  inserted: 0,
  alreadyPresent: 0,
  inBatchDuplicates: 0,
  conflicts: 0,
  rejected: 0,
  outOfWindow: 0,
  policyRows: 0,
};

export function sumCounts(results: WindowResult[]): LoadCounts {
  const totals = { ...ZERO };
  for (const r of results) for (const key of Object.keys(totals) as (keyof LoadCounts)[]) totals[key] += r.counts[key];
  return totals;
}

export function newRunId(nowMs: number): string {
  const stamp = new Date(nowMs)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

/** Where the warehouse is, as summaries name it. */
function warehouseLocation(config: Config): string {
  const w = config.warehouse;
  if (w.kind === 'duckdb') return w.path;
  return w.kind === 'bigquery' ? `${w.project}.${w.dataset}` : `${w.account}/${w.database}.${w.schema}`;
}

interface Outcome {
  status: RunStatus;
  exitCode: ExitCode;
  error: string | null;
  nextStep: string | null;
}

/** The windows a failing blocking completeness check held back. */
function blockedWindows(results: WindowResult[]): TimeWindow[] {
  return results.flatMap((r) =>
    r.window !== null && r.checks.some((c) => c.name === COMPLETENESS_CHECK && c.blocking && c.status === 'fail')
      ? [r.window]
      : [],
  );
}

function outcomeOf(results: WindowResult[], checks: CheckResult[], runId: string): Outcome {
  const failedWith = (status: RunStatus, exitCode: ExitCode, error: string, failure: OutcomeFailure): Outcome => ({
    status,
    exitCode,
    error,
    nextStep: nextStepForOutcome(failure, runId),
  });
  const all = [...results.flatMap((r) => r.checks), ...checks];
  const failed = all.filter((c) => c.status === 'fail');
  const rejectBreach = failed.find((c) => c.name === REJECT_RATE_CHECK);
  const broken = all.filter((c) => c.status === 'error');
  // A check that could not run is a failed run (DESIGN.md decision 14), not a verdict on the data.
  if (broken.length > 0) {
    const error = broken.map((c) => `${c.name}: ${c.message}`).join('; ');
    return failedWith('failed', EXIT.runFailed, error, { kind: 'check_error' });
  }
  if (rejectBreach) {
    const error = `reject rate too high: ${rejectBreach.message}`;
    return failedWith('failed', EXIT.runFailed, error, { kind: 'reject_rate' });
  }
  if (failed.length > 0) {
    const error = failed.map((c) => `${c.name}: ${c.message}`).join('; ');
    const [blocked, ...more] = blockedWindows(results);
    const failure: OutcomeFailure = blocked
      ? { kind: 'completeness', window: blocked, more: more.length }
      : { kind: 'checks_failed' };
    return failedWith('checks_failed', EXIT.checksFailed, error, failure);
  }
  return { status: 'succeeded', exitCode: EXIT.ok, error: null, nextStep: null };
}

/**
 * Writes the run to `metrics.textfile` when configured, still under the run
 * lock (so commands of one warehouse never write the file at once). A run that
 * failed outright reports its exit code; its counters are unknown.
 */
function reportMetrics(
  config: Config,
  logger: Logger,
  command: Command,
  durationMs: number,
  summary: RunSummary | undefined,
  failure: unknown,
): void {
  const path = config.metrics.textfile;
  if (!path) return;
  const usage = failure instanceof ConfigError || failure instanceof UsageError;
  const run = summary
    ? { ...summary, checks: [...summary.windows.flatMap((w) => w.checks), ...summary.checks] }
    : {
        status: 'failed',
        exitCode: usage ? EXIT.usage : EXIT.runFailed,
        totals: { ...ZERO },
        checks: [],
        checkpoint: undefined,
      };
  try {
    writeMetricsTextfile(path, { ...run, pipeline: config.pipeline.name, command, durationMs, finishedMs: Date.now() });
  } catch (error) {
    logger.warn({ file: path, err: (error as Error).message }, 'metrics textfile not written');
  }
}

/**
 * Runs one command's work under the run lock, with the steps every command
 * shares: migrations, finishing a crashed run's lake publishes, the run
 * ledger, the source, reference data, and the summary; then reports it to
 * `metrics.textfile` when configured.
 */
export async function runSession(
  config: Config,
  logger: Logger,
  nowMs: number,
  options: SessionOptions,
  work: (session: Session) => Promise<unknown>,
): Promise<RunSummary> {
  const started = performance.now();
  const pipeline = config.pipeline.name;
  const runId = newRunId(nowMs);
  const base = {
    runId,
    command: options.command,
    pipeline,
    warehouse: warehouseLocation(config),
    lake: config.lake.path,
  };
  let lock: HeldLock;
  try {
    lock = await acquireRunLock(config, logger, runId, options.command, options.waitMs);
  } catch (error) {
    if (!(error instanceof LockHeldError) || !options.skipIfLocked) throw error;
    logger.info({ lock: error.path }, 'another run holds the lock; skipping');
    return {
      ...base,
      status: 'skipped',
      exitCode: EXIT.ok,
      error: error.message,
      nextStep: null,
      windows: [],
      checks: [],
      totals: { ...ZERO },
      checkpoint: null,
      tables: {},
      durationMs: Math.round(performance.now() - started),
    };
  }
  const stop = options.stop ?? new StopSignal();
  const w = config.warehouse;
  const runProgress =
    w.kind === 'duckdb' ? ProgressFile.start(progressPath(w.path), runId, options.command) : undefined;
  let finished: RunSummary | undefined;
  let failure: unknown;
  try {
    const reference = loadReferenceData(config.reference);
    let summary: RunSummary;
    const warehouse = await openWarehouse(config, logger, lock.fence);
    try {
      const stagingRoot = join(config.staging.path, pipeline);
      // Packages of a crashed run were never committed: the checkpoint did not move, so they are redone.
      rmSync(stagingRoot, { recursive: true, force: true });
      const timings = new StageTimings();
      await timings.time('lake', () => publishPendingLake(warehouse, pipeline, lakeSettings(config), logger));
      await warehouse.abandonUnfinishedRuns(pipeline, Date.now());
      await warehouse.adoptLake(pipeline, runId);
      await warehouse.startRun({ runId, pipeline, command: options.command, startedMs: Date.now() });
      let seq = 0;
      const session: Omit<Session, 'source'> = {
        config,
        logger,
        warehouse,
        runId,
        command: options.command,
        nowMs,
        stagingRoot,
        stop,
        lock,
        results: [],
        checks: [],
        erasedSubjects: [],
        acceptedLosses: [],
        timings,
        runProgress,
        nextSeq: () => ++seq,
        progress: options.onProgress,
      };
      let detail: unknown;
      let outcome: Outcome;
      const alert = config.checks.alert;
      try {
        session.erasedSubjects = await warehouse.erasedSubjects();
        session.acceptedLosses = await warehouse.acceptedLosses(pipeline);
        const source = await openSource(config, reference, logger, () => nowMs);
        try {
          // The source (the simulator) serves raw ids; the warehouse only ever sees pseudonyms.
          await warehouse.syncReference(
            pseudonymizedReference(reference, privacyRules(config)),
            pipeline,
            runId,
            nowMs,
          );
          detail = await work({ ...session, source });
        } finally {
          await source.close();
        }
        outcome = outcomeOf(session.results, session.checks, runId);
        runProgress?.stage('finishing');
        await timings.time('lake', () => finishLake(warehouse, pipeline, lakeSettings(config), logger));
        rmSync(join(stagingRoot, runId), { recursive: true, force: true });
        failpoint('run:before-finish');
        await warehouse.finishRun({
          runId,
          status: outcome.status,
          error: outcome.error,
          nextStep: outcome.nextStep,
          finishedMs: Date.now(),
          timings: timings.totals,
        });
      } catch (error) {
        const message = (error as Error).message;
        await warehouse
          .finishRun({
            runId,
            status: 'failed',
            error: message,
            nextStep: nextStepFor(error),
            finishedMs: Date.now(),
            timings: timings.totals,
          })
          .catch(() => undefined);
        // A run that failed outright pages too: as one `error` result.
        const failure = {
          name: 'run',
          scope: 'run',
          status: 'error' as const,
          blocking: false,
          observed: null,
          expected: null,
          message,
        };
        if (alert)
          await sendAlert(
            alert,
            { runId, pipeline, command: options.command, status: 'failed', error: message },
            [failure],
            logger,
          );
        throw error;
      }
      // The summary shows the checkpoint and the tables' sizes, not the rest of `status` (recent runs, checks, drift).
      const checkpointMs = await warehouse.getCheckpoint(pipeline);
      const tables = await warehouse.tableCounts();
      const allChecks = [...session.results.flatMap((r) => r.checks), ...session.checks];
      if (alert) await sendAlert(alert, { runId, pipeline, command: options.command, ...outcome }, allChecks, logger);
      summary = {
        ...base,
        ...outcome,
        windows: session.results,
        checks: session.checks,
        totals: sumCounts(session.results),
        checkpoint: isoInstant(checkpointMs),
        tables,
        durationMs: Math.round(performance.now() - started),
        detail,
      };
    } finally {
      await warehouse.close();
    }
    finished = summary;
    return summary;
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    reportMetrics(config, logger, options.command, Math.round(performance.now() - started), finished, failure);
    stop.dispose();
    runProgress?.remove();
    await lock.release();
  }
}
