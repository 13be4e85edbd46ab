import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { blockingChecks, REJECT_RATE_CHECK } from '../checks/blocking.js';
import type { Config } from '../config/schema.js';
import { publishPendingLake } from '../lake/publish.js';
import type { Logger } from '../log/logger.js';
import { loadReferenceData } from '../reference/reference-data.js';
import { listSourceFiles, readSourceFile, type SourceFile } from '../source/files.js';
import type { RawRecord, WindowedSource } from '../source/source.js';
import { planWindows, type TimeWindow } from '../state/window.js';
import { EXIT, type ExitCode } from '../util/errors.js';
import type { CheckResult, LoadCounts, RunStatus, Warehouse } from '../warehouse/warehouse.js';
import { PackageBuilder } from './extract.js';
import { openSource } from './open-source.js';
import { openWarehouse } from './open-warehouse.js';

export interface WindowResult {
  seq: number;
  window: TimeWindow | null;
  files: string[];
  counts: LoadCounts;
  checks: CheckResult[];
  checkpointMoved: boolean;
}

export interface RunSummary {
  runId: string;
  pipeline: string;
  status: RunStatus;
  exitCode: ExitCode;
  error: string | null;
  windows: WindowResult[];
  totals: LoadCounts;
  checkpoint: string | null;
  tables: Record<string, number>;
  warehouse: string;
  lake: string;
  durationMs: number;
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

function sum(results: WindowResult[]): LoadCounts {
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

interface RunContext {
  config: Config;
  logger: Logger;
  warehouse: Warehouse;
  runId: string;
  nowMs: number;
  stagingRoot: string;
  results: WindowResult[];
}

/** Extracts one package, loads it, publishes the lake partitions it touched and removes the package. */
async function loadOnePackage(
  ctx: RunContext,
  window: TimeWindow | null,
  records: AsyncIterable<RawRecord[]>,
  sourceCount: number | null,
  sourceFiles: SourceFile[],
  checkpointTo: number | null,
): Promise<WindowResult> {
  const seq = ctx.results.length + 1;
  const dir = join(ctx.stagingRoot, ctx.runId, String(seq).padStart(4, '0'));
  const started = performance.now();
  const builder = await PackageBuilder.create(dir, window, ctx.config.warehouse.memory_limit);
  let manifest;
  try {
    for await (const batch of records) await builder.add(batch);
    manifest = await builder.finish(ctx.runId, sourceCount, sourceFiles);
  } catch (error) {
    builder.abort();
    throw error;
  }
  const extractMs = Math.round(performance.now() - started);
  const outcome = await ctx.warehouse.loadPackage({
    pipeline: ctx.config.pipeline.name,
    runId: ctx.runId,
    seq,
    packageDir: dir,
    manifest,
    checkpointTo,
    extractMs,
    nowMs: ctx.nowMs,
    blockingChecks: blockingChecks(ctx.config.checks.max_reject_rate),
  });
  await publishPendingLake(ctx.warehouse, ctx.config.pipeline.name, ctx.config.lake.path, ctx.logger);
  rmSync(dir, { recursive: true, force: true });
  const result: WindowResult = { seq, window, files: sourceFiles.map((f) => f.path), ...outcome };
  ctx.logger.info(
    {
      seq,
      window: window && { start: new Date(window.startMs).toISOString(), end: new Date(window.endMs).toISOString() },
      ...outcome.counts,
      checkpointMoved: outcome.checkpointMoved,
      extractMs,
    },
    'package loaded',
  );
  ctx.results.push(result);
  return result;
}

async function loadWindows(ctx: RunContext, source: WindowedSource): Promise<void> {
  const w = ctx.config.window;
  const checkpoint = await ctx.warehouse.getCheckpoint(ctx.config.pipeline.name);
  const plan = planWindows(checkpoint, ctx.nowMs, {
    lookbackMs: w.lookback,
    settleDelayMs: w.settle_delay,
    maxWindowMs: w.max_window,
    maxWindows: w.max_windows,
    initialStartMs: w.initial_start?.getTime() ?? ctx.nowMs - 24 * 3_600_000,
  });
  if (plan.windows.length === 0) ctx.logger.info('nothing to load: the checkpoint is at the signpost');
  for (const window of plan.windows) {
    // Counted before extraction, so events arriving meanwhile cannot make the load look complete.
    const sourceCount = await source.count(window.startMs, window.endMs);
    const result = await loadOnePackage(
      ctx,
      window,
      source.pages(window.startMs, window.endMs),
      sourceCount,
      [],
      window.endMs,
    );
    if (!result.checkpointMoved) break;
  }
}

async function loadFiles(ctx: RunContext, pattern: string): Promise<void> {
  const ledger = await ctx.warehouse.loadedFiles(ctx.config.pipeline.name);
  const files = await listSourceFiles(pattern);
  const fresh = files.filter((file) => ledger.get(file.path) !== file.sha256);
  ctx.logger.info({ found: files.length, new: fresh.length }, 'source files listed');
  for (const file of fresh) {
    const result = await loadOnePackage(ctx, null, readSourceFile(file.path), null, [file], null);
    if (!result.checkpointMoved) break;
  }
}

function outcomeOf(results: WindowResult[]): { status: RunStatus; exitCode: ExitCode; error: string | null } {
  const failed = results.flatMap((r) => r.checks.filter((c) => c.status === 'fail'));
  const rejectBreach = failed.find((c) => c.name === REJECT_RATE_CHECK);
  if (rejectBreach)
    return { status: 'failed', exitCode: EXIT.runFailed, error: `reject rate too high: ${rejectBreach.message}` };
  if (failed.length > 0) {
    return {
      status: 'checks_failed',
      exitCode: EXIT.checksFailed,
      error: failed.map((c) => `${c.name}: ${c.message}`).join('; '),
    };
  }
  return { status: 'succeeded', exitCode: EXIT.ok, error: null };
}

/** One `aetl run`: every window up to the signpost (or every new file), each committed on its own. */
export async function runPipeline(config: Config, logger: Logger, nowMs: number): Promise<RunSummary> {
  const started = performance.now();
  const reference = loadReferenceData(config.reference);
  const warehouse = await openWarehouse(config, logger);
  const pipeline = config.pipeline.name;
  const runId = newRunId(nowMs);
  const ctx: RunContext = {
    config,
    logger,
    warehouse,
    runId,
    nowMs,
    stagingRoot: join(config.staging.path, pipeline),
    results: [],
  };
  try {
    // Packages left by a crashed run are incomplete or unloaded: the checkpoint did not move, so they are redone.
    rmSync(ctx.stagingRoot, { recursive: true, force: true });
    await publishPendingLake(warehouse, pipeline, config.lake.path, logger);
    await warehouse.startRun({ runId, pipeline, command: 'run', startedMs: nowMs });
    let outcome: ReturnType<typeof outcomeOf>;
    const source = await openSource(config, reference, logger, () => nowMs);
    try {
      await warehouse.syncReference(reference, pipeline, runId);
      if (source.kind === 'files') await loadFiles(ctx, source.pattern);
      else await loadWindows(ctx, source.source);
      outcome = outcomeOf(ctx.results);
    } catch (error) {
      await warehouse.finishRun(runId, 'failed', (error as Error).message, Date.now()).catch(() => undefined);
      throw error;
    } finally {
      await source.close();
    }
    await publishPendingLake(warehouse, pipeline, config.lake.path, logger);
    rmSync(join(ctx.stagingRoot, runId), { recursive: true, force: true });
    await warehouse.finishRun(runId, outcome.status, outcome.error, Date.now());
    const status = await warehouse.status(pipeline, 1);
    return {
      runId,
      pipeline,
      ...outcome,
      windows: ctx.results,
      totals: sum(ctx.results),
      checkpoint: status.checkpoint,
      tables: status.tables,
      warehouse: config.warehouse.path,
      lake: config.lake.path,
      durationMs: Math.round(performance.now() - started),
    };
  } finally {
    await warehouse.close();
  }
}
