import type { ReferenceData } from '../reference/reference-data.js';
import type { PackageManifest } from '../staging/package.js';
import type { Dialect } from './dialect.js';
import type { JsonPage, SqlParams } from './driver.js';

/**
 * The roles the pipeline needs of a warehouse (after Kysely's split of a
 * dialect into its parts): each consumer depends on the role(s) it uses, and
 * `Warehouse`, every role at once, is what opening an engine returns. Each
 * engine lives in its own folder with its SQL generation apart from its
 * client; the one implementation is sql/sql-warehouse.ts.
 */

// --- State: where the pipeline is, and the run ledger ---

export interface RunRecord {
  runId: string;
  pipeline: string;
  command: string;
  startedMs: number;
}

/** The stages of a run whose busy time the run ledger records (`etl_run.<stage>_ms`, `aetl runs show`). */
export const RUN_STAGES = ['extract', 'stage', 'load', 'checks', 'lake'] as const;
export type RunStage = (typeof RUN_STAGES)[number];
export type RunTimings = Record<RunStage, number>;

export type RunStatus = 'succeeded' | 'failed' | 'checks_failed' | 'abandoned';

/** `aetl accept-loss`: the source lost the events of `[fromMs, toMs)` for good, said by whom and why. */
export interface AcceptedLoss {
  pipeline: string;
  fromMs: number;
  toMs: number;
  reason: string;
  acceptedBy: string;
  runId: string;
  acceptedMs: number;
}

export interface WarehouseState {
  getCheckpoint(pipeline: string): Promise<number | null>;
  loadedFiles(pipeline: string): Promise<Map<string, string>>;
  /** The span of the windows this pipeline has committed, or null before any. */
  loadedSpan(pipeline: string): Promise<{ fromMs: number; toMs: number } | null>;
  /** The window this pipeline committed last, or null before any. */
  lastWindow(pipeline: string): Promise<{ fromMs: number; toMs: number } | null>;
  /** Windows (`startMs-endMs`) that earlier runs of `command` completed, checks passed. */
  completedWindows(pipeline: string, command: string): Promise<Set<string>>;
  /**
   * Sets the checkpoint by hand (null removes it; with `clearFileLedger` the
   * file ledger goes too, so every file is read again): `aetl state`.
   */
  setState(
    pipeline: string,
    runId: string,
    checkpointMs: number | null,
    clearFileLedger: boolean,
    nowMs: number,
  ): Promise<void>;
  /** Records an accepted loss (under the run lock, in the ledger as its run). */
  acceptLoss(loss: AcceptedLoss): Promise<void>;
  /** This pipeline's accepted losses, oldest first: completeness over them warns instead of blocking. */
  acceptedLosses(pipeline: string): Promise<AcceptedLoss[]>;
  startRun(run: RunRecord): Promise<void>;
  /** Runs left `running` by a crashed process; called while holding the lock, so none is really running. */
  abandonUnfinishedRuns(pipeline: string, nowMs: number): Promise<void>;
  /** Ends the run's ledger row, with what to run next after a failure and its busy time per stage when it got that far. */
  finishRun(end: RunEnd): Promise<void>;
}

/** How a run ended, for its ledger row. */
export interface RunEnd {
  runId: string;
  status: RunStatus;
  error: string | null;
  /** What to run next after a failure. */
  nextStep: string | null;
  finishedMs: number;
  /** Busy time per stage, when the run got that far. */
  timings?: RunTimings;
}

// --- Load: packages and reference data into the star schema ---

/** What one load did; read = inserted + alreadyPresent + inBatchDuplicates + rejected + outOfWindow. */
export interface LoadCounts {
  read: number;
  inserted: number;
  alreadyPresent: number;
  inBatchDuplicates: number;
  /** Same id, different content (in the batch or against what was loaded); a subset of the duplicates. */
  conflicts: number;
  rejected: number;
  outOfWindow: number;
  policyRows: number;
}

/** Facts the blocking checks judge, gathered inside the load's transaction. */
export interface LoadFacts {
  counts: LoadCounts;
  duplicateIdsInRange: number;
  /**
   * Completeness of this load: what the source said there is (its count taken
   * before extraction; for a file, the records its reader found) against what
   * the warehouse now holds of it for this pipeline, loaded or quarantined.
   */
  completeness: { expected: number; present: number; scope: string } | null;
}

/** A quarantined record's key (DESIGN.md decision 3). */
export interface RejectKey {
  sourceLocation: string;
  payloadHash: string;
}

export interface LoadRequest {
  pipeline: string;
  runId: string;
  seq: number;
  packageDir: string;
  manifest: PackageManifest;
  /** Where the checkpoint moves if the blocking checks pass; null for sources without one (files). */
  checkpointTo: number | null;
  extractMs: number;
  nowMs: number;
  blockingChecks(facts: LoadFacts): CheckResult[];
  /** `aetl rejects replay`: the quarantined records this package holds again, marked replayed in its transaction. */
  replayedRejects?: RejectKey[];
  /** `aetl replay --force-update`: a loaded event whose content changed is replaced, not kept out. */
  forceUpdate?: boolean;
  /** Records the earlier packages of the same file accounted for (file completeness sums every package). */
  accountedBefore?: number;
}

export interface LoadOutcome {
  counts: LoadCounts;
  checks: CheckResult[];
  /** No blocking check failed: the window (or file) is done. */
  checksPassed: boolean;
  /** The incremental checkpoint moved (only for loads that carry one). */
  checkpointMoved: boolean;
  /** `[first, last]` event time of the loaded batch, or null when it held no event. */
  eventSpan: { fromMs: number; toMs: number } | null;
  /** With `forceUpdate`: loaded events replaced by their changed version (counted in `inserted`). */
  replaced: number;
  /** This package's records accounted for, measured: distinct events stored + in-batch duplicates + quarantined + out of window. */
  accounted: number;
  /** Of the load's time, how long staging the package in the warehouse took (views, load jobs, PUT + COPY). */
  stageMs: number;
}

export interface WarehouseLoad {
  loadPackage(request: LoadRequest): Promise<LoadOutcome>;
  /** Applies reference data to the SCD2 dimensions as of `nowMs`; returns how many versions changed. */
  syncReference(reference: ReferenceData, pipeline: string, runId: string, nowMs: number): Promise<number>;
  /** Subject hashes of every user `aetl forget` erased from this warehouse (their reloaded events go without them). */
  erasedSubjects(): Promise<string[]>;
}

// --- Lake: the partitions loads marked, for the publish (lake/publish.ts) ---

/** A pending lake mark (DESIGN.md decision 2): one package's file to add, or a partition to rewrite whole. */
export interface LakePartition {
  table: string;
  /** `YYYY-MM-DD`, or null for a whole (unpartitioned) dimension. */
  eventDate: string | null;
  /** The run that made the mark. */
  runId: string;
  /** The package of that run whose own rows the file holds, or null: the partition is rewritten whole. */
  packageSeq: number | null;
}

export interface WarehouseLake {
  /** Before a pipeline's first run: its lake starts with everything the warehouse already holds. */
  adoptLake(pipeline: string, runId: string): Promise<void>;
  pendingLakePartitions(pipeline: string): Promise<LakePartition[]>;
  /**
   * Writes one mark's Parquet (zstd) for `pipeline`'s lake with the lake's schema, whatever the engine,
   * to files named by `nextFile`: one, or for a whole day too large to write at once one per package
   * that loaded it. Returns them.
   */
  exportLakePartition(pipeline: string, partition: LakePartition, nextFile: () => string): Promise<string[]>;
  /** Clears exactly the marks a publish wrote, in one statement. */
  clearLakePending(pipeline: string, partitions: LakePartition[]): Promise<void>;
}

// --- Checks: what they read, and their results ---

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'error' | 'skipped' | 'insufficient_history';

export interface CheckResult {
  name: string;
  scope: string;
  status: CheckStatus;
  /** A failing blocking check keeps the checkpoint where it is. */
  blocking: boolean;
  observed: number | null;
  expected: string | null;
  message: string;
  /** The hour an anomaly result judged (epoch ms), or null. */
  bucket?: number | null;
}

/** Read-only SQL written in the engine's dialect: check SQL, reports, run details. */
export interface WarehouseQuery {
  /** How check SQL is written for this engine (checks/check-sql.ts). */
  readonly dialect: Dialect;
  /** Runs a read-only query (check SQL) with named parameters. */
  query(sql: string, params: Record<string, string | number | null>): Promise<Record<string, unknown>[]>;
}

export interface WarehouseChecks extends WarehouseQuery {
  /** Distinct events in `[fromMs, toMs)` this pipeline loaded (or found loaded) or quarantined (DESIGN.md decision 9). */
  presentCount(pipeline: string, fromMs: number, toMs: number): Promise<number>;
  /** Unknown source fields this run saw first. */
  newDriftFields(pipeline: string, runId: string): Promise<{ field: string; count: number; type: string }[]>;
  /** Appends check results (history is never overwritten). */
  writeCheckResults(pipeline: string, runId: string, results: CheckResult[], nowMs: number): Promise<void>;
  /** What each hour of a span holds before its checks run (check-sql.ts `hourPrintsSql`). */
  hourPrints(span: { fromMs: number; toMs: number }): Promise<HourPrint[]>;
  /** The dimension versions' print alone (check-sql.ts `dimensionsPrintSql`), as `hourPrints` gives it per hour. */
  dimensionsPrint(): Promise<bigint>;
  /**
   * Drops every record of the hours the span meets; where the checks passed (`passed`), records the
   * hours of `prints` whose facts all lie in the span, with what they held before the checks.
   */
  markVerifiedHours(
    span: { fromMs: number; toMs: number },
    passed: boolean,
    prints: readonly HourPrint[],
    runId: string,
    nowMs: number,
  ): Promise<void>;
  /** The records of a span whose rows no check read (only the orphan probes): their dimensions renewed alone. */
  renewVerifiedDimensions(span: { fromMs: number; toMs: number }, dimensions: bigint): Promise<void>;
}

/** An hour's fingerprint (verified hours, check-sql.ts) and the span of its facts. */
export interface HourPrint {
  hourMs: number;
  facts: bigint;
  loadedSum: bigint;
  loadedMaxMs: number;
  firstMs: number;
  lastMs: number;
  dimensions: bigint;
}

// --- Operations: the day-2 commands ---

export interface DriftField {
  field: string;
  first_seen: string;
  last_seen: string;
  count: number;
  example_type: string;
  /** First seen by one of the runs the report lists. */
  new: boolean;
}

export interface StatusReport {
  pipeline: string;
  checkpoint: string | null;
  runs: Record<string, unknown>[];
  tables: Record<string, number>;
  checks: Record<string, unknown>[];
  rejects: number;
  /** Unknown source fields, newest first. */
  drift: DriftField[];
}

export interface RejectFilter {
  /** Only the rejects this run quarantined. */
  runId: string | null;
  /** Only those whose reasons contain this text (case-insensitive). */
  reason: string | null;
  /** Include the ones already replayed. */
  replayed: boolean;
  limit: number;
}

/** A quarantined record as stored, for replay. */
export interface StoredReject extends RejectKey {
  sourceRef: string;
  payload: string;
  /** The fields its reasons named. */
  reasonPaths: string[];
  /** The payload is only the record's start (it was over 64 KiB): never replayed. */
  truncated: boolean;
}

/** What retention removes: a fact partition (its UTC date) or a ledger table's old rows (eventDate null). */
export interface RetentionItem {
  table: string;
  eventDate: string | null;
  rows: number;
  /** The Parquet file it was archived to, once applied with an archive. */
  archivedTo?: string | null;
}

/** `aetl forget`: one user's rows, in whichever forms the warehouse may hold the id. */
export interface ErasureRequest {
  pipeline: string;
  runId: string;
  /** The raw id, and its pseudonym when a privacy key is configured. */
  userIds: string[];
  /** What the audit row names the user by (contract/privacy.ts, subjectHash). */
  subjectHash: string;
  requestedBy: string;
  nowMs: number;
}

export interface ErasureOutcome {
  /** Rows removed, per table. */
  rows: Record<string, number>;
  /** The UTC dates of the fact partitions that held the user's rows (rewritten in the lake). */
  eventDates: string[];
  /** Every pipeline of the warehouse: their staging leftovers may hold the user too. */
  pipelines: string[];
}

export interface WarehouseOperations {
  status(pipeline: string, lastRuns: number): Promise<StatusReport>;
  /** The star schema's row counts, by table (a run's summary: `status` without its ledger reads). */
  tableCounts(): Promise<Record<string, number>>;
  /** Quarantined records, newest first (`aetl rejects list`). */
  listRejects(pipeline: string, filter: RejectFilter): Promise<Record<string, unknown>[]>;
  /** The next `limit` quarantined records not replayed yet (of one run, or all) after `after`, in key order. */
  rejectsToReplay(
    pipeline: string,
    runId: string | null,
    after: RejectKey | null,
    limit: number,
  ): Promise<StoredReject[]>;
  /** Fact partitions before `cutoffMs` (a UTC midnight), and this pipeline's ledger rows older than it. */
  retentionPlan(pipeline: string, cutoffMs: number): Promise<RetentionItem[]>;
  /** Archives (with `archiveDir`) then deletes the plan in one transaction, recorded in etl_retention. */
  applyRetention(
    pipeline: string,
    runId: string,
    cutoffMs: number,
    archiveDir: string | null,
    nowMs: number,
  ): Promise<RetentionItem[]>;
  /** Deletes one user's facts, policy rows, dimension rows and rejects in one transaction, recorded in etl_erasure. */
  eraseUser(request: ErasureRequest): Promise<ErasureOutcome>;
  /** Points facts at the member versions valid at their event times; returns the rows re-keyed. */
  rebuildDimensions(pipeline: string, runId: string): Promise<number>;
  /**
   * `aetl query`: an analyst query in this engine's dialect, its values bound; its result
   * read page by page (`pageRows` rows), values as `--json` prints them.
   */
  analystQuery(sql: string, params: SqlParams, pageRows: number): AsyncIterable<JsonPage>;
}

/** Every role, as opening an engine returns it, with its lifecycle. */
export interface Warehouse extends WarehouseState, WarehouseLoad, WarehouseLake, WarehouseChecks, WarehouseOperations {
  readonly description: string;
  migrate(): Promise<number>;
  close(): Promise<void>;
  /** DuckDB: lets go of the file if other processes wait to read it (Driver.letReadersIn). */
  readonly letReadersIn?: () => Promise<void>;
}
