import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { loadReferenceData } from '../reference/reference-data.js';
import { UnreadableFileError } from '../source/files.js';
import { clipToSignpost, splitRange, type TimeWindow } from '../state/window.js';
import { isoDayOfKey, isoInstant } from '../util/dates.js';
import { StopSignal } from '../util/stop.js';
import { UsageError } from '../util/errors.js';
import { openDuckDB, sqlString, toNumber } from '../warehouse/duckdb/duckdb-driver.js';
import type { Warehouse, WarehouseQuery } from '../warehouse/warehouse.js';
import type { ExplicitRange } from './explicit.js';
import { fileSource, freshFiles, windowsFrom } from './incremental.js';
import { openSource } from './open-source.js';
import { openWarehouseToRead } from './open-warehouse.js';
import { extractPackage, timeWindowSource, type ExtractContext, type ExtractedPackage } from './package-steps.js';
import { newRunId } from './session.js';
import { acquireRunLock } from './run-lock.js';

export interface DryRunInput {
  window: { from: string; to: string } | null;
  file: string | null;
  source_count: number | null;
  read: number;
  valid: number;
  rejected: number;
  out_of_window: number;
}

export interface DryRunDay {
  day: string;
  /** Distinct valid events of the day (fact_ai_event rows at most). */
  events: number;
  /** Of those, the ones the warehouse does not hold yet (DuckDB; null elsewhere). */
  new_events: number | null;
  policy_rows: number;
  rejects: number;
}

export interface DryRunReport {
  pipeline: string;
  checkpoint: string | null;
  inputs: DryRunInput[];
  days: DryRunDay[];
  rejects_by_reason: { field: string; reason: string; records: number }[];
  unreadable: string[];
}

/** Reads a package's staged Parquet: on the DuckDB warehouse (read-only) to tell new events, else in memory. */
interface Summarizer {
  query(sql: string): Promise<Record<string, unknown>[]>;
  knowsFacts: boolean;
  close(): Promise<void>;
}

async function summarizer(warehouse: WarehouseQuery | null, config: Config): Promise<Summarizer> {
  if (warehouse?.dialect.name === 'duckdb') {
    return { query: (sql) => warehouse.query(sql, {}), knowsFacts: true, close: async () => undefined };
  }
  const memory = await openDuckDB(':memory:', {
    memoryLimit: '256MB',
    tempDirectory: join(config.staging.path, '.duckdb-spill'),
  });
  return {
    query: async (sql) => (await memory.connection.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[],
    knowsFacts: false,
    close: async () => memory.close(),
  };
}

const parquet = (dir: string, files: string[]) =>
  `read_parquet([${files.map((f) => sqlString(join(dir, f))).join(', ')}])`;

/** Adds one package's staged rows, per day and per reason, to the report. */
async function summarize(
  db: Summarizer,
  pkg: ExtractedPackage,
  days: Map<string, DryRunDay>,
  reasons: Map<string, DryRunReport['rejects_by_reason'][number]>,
): Promise<void> {
  const { files } = pkg.manifest;
  const day = (name: string) => {
    let entry = days.get(name);
    if (!entry)
      days.set(
        name,
        (entry = { day: name, events: 0, new_events: db.knowsFacts ? 0 : null, policy_rows: 0, rejects: 0 }),
      );
    return entry;
  };
  if (files.events.length > 0) {
    const fresh = db.knowsFacts
      ? 'count(DISTINCT event_id) FILTER (WHERE NOT EXISTS (SELECT 1 FROM fact_ai_event f WHERE f.event_id = b.event_id))'
      : 'NULL';
    for (const r of await db.query(
      `SELECT date_key, count(DISTINCT event_id) AS events, ${fresh} AS new_events FROM ${parquet(pkg.dir, files.events)} b GROUP BY 1`,
    )) {
      const entry = day(isoDayOfKey(r.date_key));
      entry.events += toNumber(r.events);
      if (entry.new_events !== null) entry.new_events += toNumber(r.new_events);
    }
  }
  if (files.policies.length > 0) {
    for (const r of await db.query(
      `SELECT e.date_key, count(DISTINCT (p.event_id, p.ordinal)) AS n FROM ${parquet(pkg.dir, files.policies)} p
       JOIN (SELECT DISTINCT event_id, date_key FROM ${parquet(pkg.dir, files.events)}) e USING (event_id) GROUP BY 1`,
    )) {
      day(isoDayOfKey(r.date_key)).policy_rows += toNumber(r.n);
    }
  }
  if (files.rejects.length > 0) {
    const rejects = parquet(pkg.dir, files.rejects);
    for (const r of await db.query(
      `SELECT coalesce(strftime(event_ts, '%Y-%m-%d'), '(no event time)') AS day, count(*) AS n FROM ${rejects} GROUP BY 1`,
    )) {
      day(String(r.day)).rejects += toNumber(r.n);
    }
    for (const r of await db.query(
      `SELECT reasons::JSON->>'$[0].path' AS field, reasons::JSON->>'$[0].message' AS reason, count(*) AS n FROM ${rejects} GROUP BY 1, 2`,
    )) {
      const key = `${String(r.field)}\u0000${String(r.reason)}`;
      const entry = reasons.get(key) ?? { field: String(r.field), reason: String(r.reason), records: 0 };
      entry.records += toNumber(r.n);
      reasons.set(key, entry);
    }
  }
}

function inputOf(pkg: ExtractedPackage, window: TimeWindow | null, file: string | null): DryRunInput {
  const c = pkg.manifest.counts;
  return {
    window: window && { from: new Date(window.startMs).toISOString(), to: new Date(window.endMs).toISOString() },
    file,
    source_count: pkg.manifest.sourceCount,
    read: c.read,
    valid: c.valid,
    rejected: c.rejected,
    out_of_window: c.outOfWindow,
  };
}

/**
 * `aetl run --dry-run`: extracts and validates what `run` would load next (or
 * an explicit range) and reports it per day and per reject reason, writing
 * nothing: the warehouse is opened read-only (no migration, no run ledger),
 * packages go to a private staging folder that is removed, and the lake is
 * not touched. It holds the run lock, so no load changes the state it reads.
 */
export async function dryRun(
  config: Config,
  logger: Logger,
  nowMs: number,
  range: ExplicitRange | null,
  waitMs: number,
): Promise<DryRunReport> {
  const runId = newRunId(nowMs);
  const pipeline = config.pipeline.name;
  const lock = await acquireRunLock(config, logger, runId, 'dry-run', waitMs);
  const stop = new StopSignal();
  const stagingRoot = join(config.staging.path, `${pipeline}-dry-run`);
  let warehouse: Warehouse | null = null;
  let db: Summarizer | undefined;
  const days = new Map<string, DryRunDay>();
  const reasons = new Map<string, DryRunReport['rejects_by_reason'][number]>();
  const report: DryRunReport = {
    pipeline,
    checkpoint: null,
    inputs: [],
    days: [],
    rejects_by_reason: [],
    unreadable: [],
  };
  try {
    warehouse = await openWarehouseToRead(config, logger);
    const summary = (db = await summarizer(warehouse, config));
    let seq = 0;
    const erasedSubjects = (await warehouse?.erasedSubjects()) ?? [];
    const context: ExtractContext = { config, runId, stagingRoot, stop, nextSeq: () => ++seq, erasedSubjects, nowMs };
    const take = async (pkg: ExtractedPackage, window: TimeWindow | null, file: string | null) => {
      await summarize(summary, pkg, days, reasons);
      rmSync(pkg.dir, { recursive: true, force: true });
      report.inputs.push(inputOf(pkg, window, file));
    };
    const checkpoint = (await warehouse?.getCheckpoint(pipeline)) ?? null;
    report.checkpoint = isoInstant(checkpoint);
    const source = await openSource(config, loadReferenceData(config.reference), logger, () => nowMs);
    try {
      if (source.kind === 'files') {
        if (range) throw new UsageError('run --dry-run --from/--to needs a time-windowed source');
        const ledger = (await warehouse?.loadedFiles(pipeline)) ?? new Map<string, string>();
        for (const file of (await freshFiles(config, source.pattern, ledger, nowMs)).fresh) {
          stop.throwIfRequested();
          try {
            await take(await extractPackage(context, fileSource(config, file)), null, file.path);
          } catch (error) {
            if (!(error instanceof UnreadableFileError)) throw error;
            report.unreadable.push(error.message);
          }
        }
      } else {
        const windows = range
          ? splitRange(
              range.fromMs,
              clipToSignpost(range.toMs, nowMs, config.window.settle_delay).toMs,
              config.window.max_window,
            )
          : windowsFrom(config, checkpoint, nowMs).windows;
        for (const window of windows) {
          stop.throwIfRequested();
          await take(await extractPackage(context, await timeWindowSource(source.source, window)), window, null);
        }
      }
    } finally {
      await source.close();
    }
  } finally {
    rmSync(stagingRoot, { recursive: true, force: true });
    await db?.close();
    await warehouse?.close();
    stop.dispose();
    await lock.release();
  }
  report.days = [...days.values()].sort((a, b) => a.day.localeCompare(b.day));
  report.rejects_by_reason = [...reasons.values()].sort(
    (a, b) => b.records - a.records || a.field.localeCompare(b.field),
  );
  logger.info({ inputs: report.inputs.length, days: report.days.length }, 'dry run: nothing was written');
  return report;
}
