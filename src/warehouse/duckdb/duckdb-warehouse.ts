import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../log/logger.js';
import type { ReferenceData } from '../../reference/reference-data.js';
import { fault, failpoint } from '../../util/failpoint.js';
import { redact, redactNullable } from '../../util/redact.js';
import type {
  CheckResult,
  ErasureOutcome,
  ErasureRequest,
  LakePartition,
  LoadCounts,
  LoadFacts,
  LoadOutcome,
  LoadRequest,
  RejectFilter,
  RejectKey,
  RetentionItem,
  RunRecord,
  RunStatus,
  StatusReport,
  StoredReject,
  Warehouse,
} from '../warehouse.js';
import { plainNumbers } from '../warehouse.js';
import {
  iso,
  openDuckDB,
  SqlRunner,
  sqlString,
  toNumber,
  type DuckDBSettings,
  type OpenDuckDB,
  type Params,
  type Row,
} from './duckdb-driver.js';
import { insertInferredMembers, rekeyFacts, syncReferenceDimensions } from './duckdb-dimensions.js';
import * as sql from './duckdb-sql.js';
import { applyRetention, retentionPlan } from './duckdb-retention.js';
import { listRejects, markReplayed, rejectsToReplay } from './duckdb-rejects.js';
import { eraseUser } from './duckdb-erasure.js';
import { DuckDBTimestampTZValue } from '@duckdb/node-api';
import { type Dialect } from '../dialect.js';
import { duckdbDialect } from './duckdb-dialect.js';
import { presentCountSql, storedIdsSql } from '../../checks/check-sql.js';
import { accountedRecords, fileCompleteness } from '../file-completeness.js';
import { lakeOrder } from '../sql/sql-lake.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../../sql/duckdb/migrations/', import.meta.url));
const migrationVersion = (file: string) => Number(file.split('_')[0]);

/** The migration files, in order. */
export function migrationFiles(): string[] {
  return readdirSync(MIGRATIONS_DIR)
    .filter((name) => /^\d+_.*\.sql$/.test(name))
    .sort();
}

/** The migration files not applied yet, in order; reads only (`aetl doctor` reports them without applying). */
export async function pendingMigrations(runner: SqlRunner): Promise<string[]> {
  const [known] = await runner.rows(
    "SELECT count(*) AS n FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = current_schema() AND table_name = 'etl_schema_version'",
  );
  const applied = new Set(
    toNumber(known?.n) === 0
      ? []
      : (await runner.rows('SELECT version FROM etl_schema_version')).map((r) => toNumber(r.version)),
  );
  return migrationFiles().filter((name) => !applied.has(migrationVersion(name)));
}

const STAR_TABLES = [
  'fact_ai_event',
  'fact_policy_evaluation',
  'dim_user',
  'dim_gateway',
  'dim_model',
  'dim_policy',
  'dim_date',
] as const;

export class DuckDBWarehouse implements Warehouse {
  readonly description: string;
  readonly dialect: Dialect = duckdbDialect;
  private readonly runner: SqlRunner;

  private constructor(
    private readonly db: OpenDuckDB,
    path: string,
    logger?: Logger,
  ) {
    this.description = `DuckDB ${path}`;
    this.runner = new SqlRunner(db.connection, logger);
  }

  static async open(path: string, settings: DuckDBSettings, logger?: Logger): Promise<DuckDBWarehouse> {
    return new DuckDBWarehouse(await openDuckDB(path, settings), path, logger);
  }

  private exec(statement: string, params: Params = {}): Promise<void> {
    return this.runner.exec(statement, params);
  }

  private rows(statement: string, params: Params = {}): Promise<Row[]> {
    return this.runner.rows(statement, params);
  }

  private transaction<T>(work: () => Promise<T>): Promise<T> {
    return this.runner.transaction(work);
  }

  /** Applies the versioned migrations not yet applied (decision 19); returns how many ran. */
  async migrate(): Promise<number> {
    await this.exec(
      'CREATE TABLE IF NOT EXISTS etl_schema_version (version INTEGER NOT NULL, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)',
    );
    const pending = await pendingMigrations(this.runner);
    for (const name of pending) {
      const text = readFileSync(join(MIGRATIONS_DIR, name), 'utf8');
      await this.transaction(async () => {
        const statements = await this.db.connection.extractStatements(text);
        for (let i = 0; i < statements.count; i++) await (await statements.prepare(i)).run();
        await this.exec('INSERT INTO etl_schema_version VALUES ($version, $name, now())', {
          version: migrationVersion(name),
          name,
        });
      });
    }
    return pending.length;
  }

  async getCheckpoint(pipeline: string): Promise<number | null> {
    const rows = await this.rows('SELECT epoch_ms(checkpoint) AS ms FROM etl_state WHERE pipeline = $pipeline', {
      pipeline,
    });
    return rows[0] ? toNumber(rows[0].ms) : null;
  }

  async loadedFiles(pipeline: string): Promise<Map<string, string>> {
    const rows = await this.rows('SELECT path, sha256 FROM etl_file_ledger WHERE pipeline = $pipeline', { pipeline });
    return new Map(rows.map((r) => [String(r.path), String(r.sha256)]));
  }

  async loadedSpan(pipeline: string): Promise<{ fromMs: number; toMs: number } | null> {
    const [row] = await this.rows(
      `SELECT epoch_ms(min(window_start)) AS from_ms, epoch_ms(max(window_end)) AS to_ms
       FROM etl_run_window WHERE pipeline = $pipeline AND checks_passed AND window_start IS NOT NULL`,
      { pipeline },
    );
    return row?.from_ms == null ? null : { fromMs: toNumber(row.from_ms), toMs: toNumber(row.to_ms) };
  }

  async lastWindow(pipeline: string): Promise<{ fromMs: number; toMs: number } | null> {
    const [row] = await this.rows(
      `SELECT epoch_ms(window_start) AS from_ms, epoch_ms(window_end) AS to_ms FROM etl_run_window
       WHERE pipeline = $pipeline AND window_start IS NOT NULL ORDER BY committed_at DESC LIMIT 1`,
      { pipeline },
    );
    return row ? { fromMs: toNumber(row.from_ms), toMs: toNumber(row.to_ms) } : null;
  }

  async completedWindows(pipeline: string, command: string): Promise<Set<string>> {
    const rows = await this.rows(
      `SELECT DISTINCT epoch_ms(w.window_start) AS s, epoch_ms(w.window_end) AS e
       FROM etl_run_window w JOIN etl_run r USING (run_id)
       WHERE w.pipeline = $pipeline AND r.command = $command AND w.checks_passed AND w.window_start IS NOT NULL`,
      { pipeline, command },
    );
    return new Set(rows.map((r) => `${toNumber(r.s)}-${toNumber(r.e)}`));
  }

  async presentCount(pipeline: string, fromMs: number, toMs: number): Promise<number> {
    const [row] = await this.rows(presentCountSql(duckdbDialect), { pipeline, from: iso(fromMs), to: iso(toMs) });
    return toNumber(row!.present);
  }

  async query(statement: string, params: Record<string, string | number | null>): Promise<Row[]> {
    return this.rows(statement, params);
  }

  async writeCheckResults(pipeline: string, runId: string, results: CheckResult[], nowMs: number): Promise<void> {
    if (results.length === 0) return;
    await this.transaction(() => this.insertCheckResults(pipeline, runId, results, nowMs));
  }

  /** SCD2 dimensions from reference data; every dimension's lake file is rewritten after. */
  async syncReference(reference: ReferenceData, pipeline: string, runId: string, nowMs: number): Promise<number> {
    return this.transaction(async () => {
      await this.exec(sql.MARK_DIMENSIONS_PENDING_SQL, { pipeline, run_id: runId });
      return syncReferenceDimensions(this.runner, reference, nowMs);
    });
  }

  /** Re-keys facts to the member versions valid at their event times; marks every touched partition. */
  async rebuildDimensions(pipeline: string, runId: string): Promise<number> {
    return this.transaction(async () => {
      const changed = await rekeyFacts(this.runner);
      await this.exec(sql.MARK_ALL_PARTITIONS_PENDING_SQL, { pipeline, run_id: runId });
      await this.exec(sql.MARK_DIMENSIONS_PENDING_SQL, { pipeline, run_id: runId });
      return changed;
    });
  }

  async loadPackage(request: LoadRequest): Promise<LoadOutcome> {
    const { manifest } = request;
    const files = (names: string[]) => names.map((name) => join(request.packageDir, name));
    const eventFiles = files(manifest.files.events);
    const policyFiles = files(manifest.files.policies);
    const rejectFiles = files(manifest.files.rejects);
    const params: Params = { pipeline: request.pipeline, run_id: request.runId, now: iso(request.nowMs) };
    const loadStarted = performance.now();

    try {
      return await this.transaction(async () => {
        let stats = { rows: 0, distinctIds: 0, conflictingIds: 0 };
        let eventSpan: LoadOutcome['eventSpan'] = null;
        let existing = { same: 0, conflicts: 0 };
        let duplicateIdsInRange = 0;
        let batchPresent = 0;
        let rejected = 0;
        let policyRows = 0;
        let inserted = 0;
        let replaced = 0;
        if (eventFiles.length > 0) {
          await this.exec(sql.stageBatchSql(eventFiles));
          await this.exec(sql.BATCH_WINNERS_SQL);
          const s = (await this.rows(sql.BATCH_STATS_SQL))[0]!;
          stats = {
            rows: toNumber(s.rows),
            distinctIds: toNumber(s.distinct_ids),
            conflictingIds: toNumber(s.conflicting_ids),
          };
          eventSpan = { fromMs: toNumber(s.min_ts_ms), toMs: toNumber(s.max_ts_ms) + 1 };
          const dates = (await this.rows(sql.KNOWN_DATES_SQL)).map((r) => toNumber(r.date_key));
          // AETL_FAULT=load:miss-known: the lookup misses the loaded versions, as a broken anti-join would.
          await this.exec(sql.existingSql(fault('load:miss-known') ? [] : dates), params);
          const e = (
            await this.rows(
              'SELECT count(*) FILTER (WHERE loaded_hash = incoming_hash) AS same, count(*) FILTER (WHERE loaded_hash <> incoming_hash) AS conflicts FROM batch_existing',
            )
          )[0]!;
          existing = { same: toNumber(e.same), conflicts: toNumber(e.conflicts) };
          await this.exec(sql.RECORD_CONFLICTS_SQL, params);
          if (request.forceUpdate) {
            for (const statement of sql.REPLACE_CHANGED_SQL) await this.exec(statement, params);
            replaced = await this.runner.execCount(sql.LET_CHANGED_IN_SQL);
          }
          await this.exec(sql.TO_INSERT_SQL);
          await insertInferredMembers(this.runner, policyFiles);
          await this.exec(sql.INSERT_DATES_SQL);
          await this.exec(sql.KEYED_FACTS_SQL);
          if (fault('load:lose-insert')) await this.exec(sql.LOSE_ONE_INSERT_SQL);
          // Measured, not derived: counts_balance then catches an insert that lost rows.
          inserted = await this.runner.execCount(sql.INSERT_FACTS_SQL, params);
          await this.exec(sql.INDEX_INSERTED_SQL, params);
          await this.exec(sql.INDEX_PRESENT_SQL, params);
          failpoint('load:after-facts');
          await this.recordDrift(request, params);
          if (policyFiles.length > 0)
            policyRows = await this.runner.execCount(sql.insertPolicyFactsSql(policyFiles), params);
          await this.exec(sql.MARK_LAKE_PENDING_SQL, params);
          await this.exec(sql.MARK_DIMENSIONS_PENDING_SQL, params);
          const [stored] = await this.rows(storedIdsSql(duckdbDialect, 'SELECT event_id, date_key FROM batch_winner'));
          duplicateIdsInRange = toNumber(stored!.fact_rows) - toNumber(stored!.present);
          batchPresent = toNumber(stored!.present);
        }
        await markReplayed(this.runner, request.replayedRejects ?? [], params);
        if (rejectFiles.length > 0) {
          const window = manifest.window;
          const read = { read_from: window ? iso(window.startMs) : null, read_to: window ? iso(window.endMs) : null };
          await this.exec(sql.insertRejectsSql(rejectFiles), { ...params, ...read });
          if (fault('load:lose-reject')) await this.exec(sql.LOSE_ONE_REJECT_SQL, params);
          rejected = toNumber((await this.rows(sql.storedRejectsSql(rejectFiles), params))[0]!.n);
        }

        const counts: LoadCounts = {
          read: manifest.counts.read,
          inserted,
          // A later, different version of a loaded event is kept out (first loaded wins) and counted here.
          alreadyPresent: existing.same + existing.conflicts - replaced,
          inBatchDuplicates: stats.rows - stats.distinctIds,
          conflicts: stats.conflictingIds + existing.conflicts,
          rejected,
          outOfWindow: manifest.counts.outOfWindow,
          policyRows,
        };
        const completeness = await this.loadCompleteness(request, counts, batchPresent);
        const checks = request.blockingChecks({ counts, duplicateIdsInRange, completeness });
        await this.insertCheckResults(request.pipeline, request.runId, checks, request.nowMs);
        failpoint('load:before-checkpoint');
        const checksPassed = !checks.some((c) => c.blocking && c.status === 'fail');
        if (checksPassed) await this.advance(request, params);
        const checkpointMoved = checksPassed && request.checkpointTo !== null;
        const loadMs = Math.round(performance.now() - loadStarted);
        await this.recordWindow(request, counts, { checksPassed, checkpointMoved, loadMs });
        const accounted = accountedRecords(counts, batchPresent);
        return { counts, checks, checksPassed, checkpointMoved, eventSpan, replaced, accounted };
      });
    } finally {
      await this.exec(sql.DROP_BATCH_SQL); // a failed load's temp tables must not hold memory either
    }
  }

  /** Window loads: the source's count against present in the window; file loads: see fileCompleteness. */
  private async loadCompleteness(
    request: LoadRequest,
    counts: LoadCounts,
    batchPresent: number,
  ): Promise<LoadFacts['completeness']> {
    const { window, sourceCount } = request.manifest;
    if (window && sourceCount !== null) {
      const present = await this.presentCount(request.pipeline, window.startMs, window.endMs);
      return { expected: sourceCount, present, scope: `window ${iso(window.startMs)} .. ${iso(window.endMs)}` };
    }
    return fileCompleteness(request, counts, batchPresent);
  }

  private async advance(request: LoadRequest, params: Params): Promise<void> {
    if (request.checkpointTo !== null) {
      const old = await this.getCheckpoint(request.pipeline);
      const to = iso(Math.max(old ?? request.checkpointTo, request.checkpointTo));
      await this.exec(sql.DELETE_CHECKPOINT_SQL, params);
      await this.exec(sql.INSERT_CHECKPOINT_SQL, { ...params, to });
    }
    for (const file of request.manifest.sourceFiles) {
      await this.exec('DELETE FROM etl_file_ledger WHERE pipeline = $pipeline AND path = $path', {
        ...params,
        path: file.path,
      });
      await this.exec(
        'INSERT INTO etl_file_ledger VALUES ($pipeline, $path, $size, $sha256, $run_id, $now::TIMESTAMPTZ)',
        {
          ...params,
          path: file.path,
          size: file.size,
          sha256: file.sha256,
        },
      );
    }
  }

  /**
   * Unknown fields of the events this load inserted: counted from the inserted rows, so a window read
   * again (the lookback, a re-run after a crash) counts nothing twice. The type is the manifest's.
   */
  private async recordDrift(request: LoadRequest, params: Params): Promise<void> {
    if (Object.keys(request.manifest.drift).length === 0) return;
    for (const row of await this.rows(sql.insertedDriftSql(request.forceUpdate ?? false))) {
      const field = String(row.field);
      const type = request.manifest.drift[field]?.type ?? 'unknown';
      await this.exec(sql.RECORD_DRIFT_SQL, { ...params, field, count: toNumber(row.n), type });
    }
  }

  /** Appends results through the appender: an anomaly pass can write thousands of rows. */
  private async insertCheckResults(
    pipeline: string,
    runId: string,
    results: CheckResult[],
    nowMs: number,
  ): Promise<void> {
    const appender = await this.db.connection.createAppender('dq_check_result');
    const checkedAt = new DuckDBTimestampTZValue(BigInt(nowMs) * 1000n);
    for (const check of results) {
      appender.appendVarchar(runId);
      appender.appendVarchar(pipeline);
      appender.appendVarchar(check.name);
      appender.appendVarchar(check.scope);
      appender.appendVarchar(check.status);
      appender.appendBoolean(check.blocking);
      if (check.observed === null || !Number.isFinite(check.observed)) appender.appendNull();
      else appender.appendDouble(check.observed);
      if (check.expected === null) appender.appendNull();
      else appender.appendVarchar(check.expected);
      appender.appendVarchar(redact(check.message));
      appender.appendTimestampTZ(checkedAt);
      if (check.bucket === undefined || check.bucket === null) appender.appendNull();
      else appender.appendTimestampTZ(new DuckDBTimestampTZValue(BigInt(check.bucket) * 1000n));
      appender.endRow();
    }
    appender.closeSync();
  }

  private async recordWindow(
    request: LoadRequest,
    counts: LoadCounts,
    outcome: { checksPassed: boolean; checkpointMoved: boolean; loadMs: number },
  ): Promise<void> {
    const window = request.manifest.window;
    await this.exec(
      `INSERT INTO etl_run_window VALUES ($run_id, $pipeline, $seq, $start::TIMESTAMPTZ, $end::TIMESTAMPTZ, $source_count,
        $read, $inserted, $already_present, $in_batch_duplicates, $conflicts, $rejected, $out_of_window, $policy_rows,
        $moved, $drift::JSON, $extract_ms, $load_ms, now(), $passed)`,
      {
        run_id: request.runId,
        pipeline: request.pipeline,
        seq: request.seq,
        start: window ? iso(window.startMs) : null,
        end: window ? iso(window.endMs) : null,
        source_count: request.manifest.sourceCount,
        read: counts.read,
        inserted: counts.inserted,
        already_present: counts.alreadyPresent,
        in_batch_duplicates: counts.inBatchDuplicates,
        conflicts: counts.conflicts,
        rejected: counts.rejected,
        out_of_window: counts.outOfWindow,
        policy_rows: counts.policyRows,
        moved: outcome.checkpointMoved,
        passed: outcome.checksPassed,
        drift: JSON.stringify(request.manifest.drift),
        extract_ms: request.extractMs,
        load_ms: outcome.loadMs,
      },
    );
  }

  async startRun(run: RunRecord): Promise<void> {
    await this.exec(
      `INSERT INTO etl_run VALUES ($run_id, $pipeline, $command, 'running', $started::TIMESTAMPTZ, NULL, NULL)`,
      {
        run_id: run.runId,
        pipeline: run.pipeline,
        command: run.command,
        started: iso(run.startedMs),
      },
    );
  }

  async abandonUnfinishedRuns(pipeline: string, nowMs: number): Promise<void> {
    await this.exec(
      `UPDATE etl_run SET status = 'abandoned', finished_at = $now::TIMESTAMPTZ,
         error = 'the process ended before the run finished (crash, kill or power loss); later runs redo its work'
       WHERE pipeline = $pipeline AND status = 'running'`,
      { pipeline, now: iso(nowMs) },
    );
  }

  async finishRun(runId: string, status: RunStatus, error: string | null, finishedMs: number): Promise<void> {
    await this.exec(
      `UPDATE etl_run SET status = $status, error = $error, finished_at = $finished::TIMESTAMPTZ WHERE run_id = $run_id`,
      {
        run_id: runId,
        status,
        error: redactNullable(error),
        finished: iso(finishedMs),
      },
    );
  }

  async setState(
    pipeline: string,
    runId: string,
    checkpointMs: number | null,
    clearFileLedger: boolean,
    nowMs: number,
  ): Promise<void> {
    await this.transaction(async () => {
      const params = { pipeline, run_id: runId, now: iso(nowMs) };
      await this.exec(sql.DELETE_CHECKPOINT_SQL, params);
      if (checkpointMs !== null) await this.exec(sql.INSERT_CHECKPOINT_SQL, { ...params, to: iso(checkpointMs) });
      if (clearFileLedger) await this.exec('DELETE FROM etl_file_ledger WHERE pipeline = $pipeline', params);
    });
  }

  listRejects(pipeline: string, filter: RejectFilter): Promise<Record<string, unknown>[]> {
    return listRejects(this.runner, pipeline, filter);
  }

  rejectsToReplay(
    pipeline: string,
    runId: string | null,
    after: RejectKey | null,
    limit: number,
  ): Promise<StoredReject[]> {
    return rejectsToReplay(this.runner, pipeline, runId, after, limit);
  }

  retentionPlan(pipeline: string, cutoffMs: number): Promise<RetentionItem[]> {
    return retentionPlan(this.runner, pipeline, cutoffMs);
  }

  async applyRetention(
    pipeline: string,
    runId: string,
    cutoffMs: number,
    archiveDir: string | null,
    nowMs: number,
  ): Promise<RetentionItem[]> {
    const plan = await retentionPlan(this.runner, pipeline, cutoffMs);
    return applyRetention(this.runner, plan, { pipeline, runId, cutoffMs, archiveDir, nowMs });
  }

  eraseUser(request: ErasureRequest): Promise<ErasureOutcome> {
    return eraseUser(this.runner, request);
  }

  async erasedSubjects(): Promise<string[]> {
    // A read-only open (dry run) may predate the migration that made the table.
    const [table] = await this.rows("SELECT count(*) AS n FROM duckdb_tables() WHERE table_name = 'etl_erasure'");
    if (toNumber(table!.n) === 0) return [];
    return (await this.rows('SELECT DISTINCT subject_hash FROM etl_erasure')).map((r) => String(r.subject_hash));
  }

  async pendingLakePartitions(pipeline: string): Promise<LakePartition[]> {
    const rows = await this.rows(
      `SELECT DISTINCT table_name, strftime(event_date, '%Y-%m-%d') AS event_date FROM etl_lake_pending
       WHERE pipeline = $pipeline ORDER BY 1, 2`,
      { pipeline },
    );
    return rows.map((r) => ({ table: String(r.table_name), eventDate: (r.event_date as string | null) ?? null }));
  }

  async exportLakePartition(partition: LakePartition, file: string): Promise<void> {
    if (!(STAR_TABLES as readonly string[]).includes(partition.table))
      throw new Error(`not a star table: ${partition.table}`);
    const where =
      partition.eventDate === null ? '' : `WHERE date_key = ${Number(partition.eventDate.replaceAll('-', ''))}`;
    await this.exec(
      `COPY (SELECT * FROM ${partition.table} ${where} ORDER BY ${lakeOrder(partition.table)}) TO ${sqlString(file)} (FORMAT parquet, COMPRESSION zstd)`,
    );
  }

  async clearLakePending(pipeline: string, partitions: LakePartition[]): Promise<void> {
    for (const partition of partitions) {
      await this.exec(
        `DELETE FROM etl_lake_pending WHERE pipeline = $pipeline AND table_name = $table
         AND event_date IS NOT DISTINCT FROM $date::DATE`,
        { pipeline, table: partition.table, date: partition.eventDate },
      );
    }
  }

  async status(pipeline: string, lastRuns: number): Promise<StatusReport> {
    const checkpointMs = await this.getCheckpoint(pipeline);
    const runs = await this.rows(
      `SELECT r.run_id, r.command, r.status, r.started_at::VARCHAR AS started_at, r.finished_at::VARCHAR AS finished_at,
              round(epoch(r.finished_at) - epoch(r.started_at), 1) AS duration_s, r.error,
              count(w.seq)::INTEGER AS windows, min(w.window_start)::VARCHAR AS window_start, max(w.window_end)::VARCHAR AS window_end,
              coalesce(sum(w.read), 0)::BIGINT AS read, coalesce(sum(w.inserted), 0)::BIGINT AS inserted,
              coalesce(sum(w.already_present), 0)::BIGINT AS already_present,
              coalesce(sum(w.in_batch_duplicates), 0)::BIGINT AS in_batch_duplicates,
              coalesce(sum(w.rejected), 0)::BIGINT AS rejected
       FROM etl_run r LEFT JOIN etl_run_window w USING (run_id)
       WHERE r.pipeline = $pipeline
       GROUP BY r.run_id, r.command, r.status, r.started_at, r.finished_at, r.error
       ORDER BY r.started_at DESC LIMIT $limit`,
      { pipeline, limit: lastRuns },
    );
    const tables: Record<string, number> = {};
    for (const table of STAR_TABLES) {
      tables[table] = toNumber((await this.rows(`SELECT count(*) AS n FROM ${table}`))[0]!.n);
    }
    const checks = await this.rows(
      `SELECT check_name, scope, status, observed, expected, message, checked_at::VARCHAR AS checked_at FROM dq_check_result
       WHERE pipeline = $pipeline AND run_id = (SELECT run_id FROM dq_check_result WHERE pipeline = $pipeline ORDER BY checked_at DESC LIMIT 1)
       ORDER BY status <> 'fail', check_name`,
      { pipeline },
    );
    const rejects = toNumber(
      (
        await this.rows(
          'SELECT count(*) AS n FROM etl_rejected_event WHERE pipeline = $pipeline AND replayed_at IS NULL',
          {
            pipeline,
          },
        )
      )[0]!.n,
    );
    const listed = new Set(runs.map((r) => String(r.run_id)));
    const drift = await this.rows(
      `SELECT field_path, first_seen::VARCHAR AS first_seen, last_seen::VARCHAR AS last_seen, seen_count, example_type, first_run_id
       FROM etl_schema_drift WHERE pipeline = $pipeline ORDER BY first_seen DESC, field_path LIMIT 20`,
      { pipeline },
    );
    return {
      pipeline,
      checkpoint: checkpointMs === null ? null : iso(checkpointMs),
      runs: runs.map(plainNumbers),
      tables,
      checks: checks.map(plainNumbers),
      rejects,
      drift: drift.map((r) => ({
        field: String(r.field_path),
        first_seen: String(r.first_seen),
        last_seen: String(r.last_seen),
        count: toNumber(r.seen_count),
        example_type: String(r.example_type),
        new: listed.has(String(r.first_run_id)),
      })),
    };
  }

  async newDriftFields(pipeline: string, runId: string): Promise<{ field: string; count: number; type: string }[]> {
    const rows = await this.rows(
      `SELECT field_path, seen_count, example_type FROM etl_schema_drift
       WHERE pipeline = $pipeline AND first_run_id = $run_id ORDER BY field_path`,
      { pipeline, run_id: runId },
    );
    return rows.map((r) => ({
      field: String(r.field_path),
      count: toNumber(r.seen_count),
      type: String(r.example_type),
    }));
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
