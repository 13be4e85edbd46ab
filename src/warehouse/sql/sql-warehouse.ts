import { qualifiedTables, type Dialect } from '../dialect.js';
import { presentCountSql, storedIdsSql } from '../../checks/check-sql.js';
import type { ReferenceData } from '../../reference/reference-data.js';
import { fault, failpoint } from '../../util/failpoint.js';
import type {
  CheckResult,
  ErasureOutcome,
  ErasureRequest,
  RejectKey,
  LakePartition,
  LoadCounts,
  LoadFacts,
  LoadOutcome,
  LoadRequest,
  RetentionItem,
  RejectFilter,
  StoredReject,
  RunRecord,
  RunStatus,
  StatusReport,
  Warehouse,
} from '../warehouse.js';
import { plainNumbers } from '../warehouse.js';
import { SqlDimensions } from './sql-dimensions.js';
import {
  bool,
  instant,
  int,
  text,
  typedParams,
  type Driver,
  type Fence,
  type JsonValue,
  type SqlParams,
} from '../driver.js';
import {
  batchStatsSql,
  commitStatements,
  insertRejectsSql,
  loseOneRejectSql,
  markLakePendingSql,
  markReplayedSql,
  rejectKeyText,
  mergeQueries,
  storedRejectsSql,
  stagingTables,
  type StagingTables,
} from './sql-load.js';
import { SqlState } from './sql-state.js';
import { eraseUser } from './sql-erasure.js';
import { applyRetention, retentionPlan } from './sql-retention.js';
import { SqlRejects } from './sql-rejects.js';
import { SqlDrift } from './sql-drift.js';
import { clearPendingSql, lakePartitionQuery, pendingPartitions, pendingPartitionsSql } from './sql-lake.js';
import { accountedRecords, fileCompleteness } from '../file-completeness.js';

const STAR_TABLES = [
  'fact_ai_event',
  'fact_policy_evaluation',
  'dim_user',
  'dim_gateway',
  'dim_model',
  'dim_policy',
  'dim_date',
] as const;

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The one warehouse logic, written once against a driver (its dialect, typed
 * parameters, staging and transactions): the load's order of work, state,
 * dimensions, checks and status are the same for every engine.
 */
export class SqlWarehouse implements Warehouse {
  readonly description: string;
  readonly dialect: Dialect;
  protected readonly state: SqlState;
  protected readonly dims: SqlDimensions;
  /** An erasure committed: the engine's storage is reclaimed once closed. */
  private erased = false;
  private readonly rejects: SqlRejects;
  private readonly drift: SqlDrift;

  /** `fence`: the run lock's check (its lease), run inside every transaction that changes state. */
  constructor(
    protected readonly driver: Driver,
    private readonly fence?: Fence,
  ) {
    this.description = driver.description;
    this.dialect = driver.dialect;
    this.state = new SqlState(driver);
    this.dims = new SqlDimensions(driver);
    this.rejects = new SqlRejects(driver);
    this.drift = new SqlDrift(driver);
  }

  migrate(): Promise<number> {
    return this.driver.migrate();
  }

  async close(): Promise<void> {
    await this.driver.close();
    if (this.erased) await this.driver.reclaimErasedSpace?.();
  }

  query(sql: string, params: Record<string, string | number | null>): Promise<Record<string, unknown>[]> {
    return this.driver.run('running a check', sql, typedParams(params));
  }

  /** `aetl query`: an analyst query in this engine's dialect, its values bound; rows as `--json` prints them. */
  async analystQuery(sql: string, params: SqlParams): Promise<Record<string, JsonValue>[]> {
    const rows = await this.driver.run('running an analyst query', qualifiedTables(sql, this.dialect), params);
    return rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, this.driver.jsonValue(v)])));
  }

  writeCheckResults(pipeline: string, runId: string, results: CheckResult[], nowMs: number): Promise<void> {
    return this.state.writeCheckResults(pipeline, runId, results, nowMs);
  }

  getCheckpoint(pipeline: string): Promise<number | null> {
    return this.state.getCheckpoint(pipeline);
  }

  loadedFiles(pipeline: string): Promise<Map<string, string>> {
    return this.state.loadedFiles(pipeline);
  }

  loadedSpan(pipeline: string): Promise<{ fromMs: number; toMs: number } | null> {
    return this.state.loadedSpan(pipeline);
  }

  lastWindow(pipeline: string): Promise<{ fromMs: number; toMs: number } | null> {
    return this.state.lastWindow(pipeline);
  }

  completedWindows(pipeline: string, command: string): Promise<Set<string>> {
    return this.state.completedWindows(pipeline, command);
  }

  async presentCount(pipeline: string, fromMs: number, toMs: number): Promise<number> {
    const [row] = await this.query(presentCountSql(this.dialect), { pipeline, from: iso(fromMs), to: iso(toMs) });
    return Number(row!.present);
  }

  /** SCD2 dimensions from reference data; every dimension's lake file is rewritten after. */
  syncReference(reference: ReferenceData, pipeline: string, runId: string, nowMs: number): Promise<number> {
    return this.driver.transaction(async () => {
      await this.driver.run('marking the dimensions for the lake', markLakePendingSql(this.dialect, null), {
        pipeline: text(pipeline),
        run_id: text(runId),
      });
      return this.dims.syncReference(reference, nowMs);
    });
  }

  /** Re-keys facts to the member versions valid at their event times; marks the partitions it touches. */
  rebuildDimensions(pipeline: string, runId: string): Promise<number> {
    const rekey = this.dims.rekeyQueries();
    return this.driver.transaction(async () => {
      const [row] = await this.driver.run('counting facts to re-key', rekey.count);
      await this.driver.runTogether('re-keying facts', rekey.statements, {
        pipeline: text(pipeline),
        run_id: text(runId),
      });
      return Number(row!.n);
    });
  }

  startRun(run: RunRecord): Promise<void> {
    return this.state.startRun(run);
  }

  async abandonUnfinishedRuns(pipeline: string, nowMs: number): Promise<void> {
    await this.state.abandonUnfinishedRuns(pipeline, nowMs);
    await this.driver.dropLeftovers(pipeline);
  }

  finishRun(runId: string, status: RunStatus, error: string | null, finishedMs: number): Promise<void> {
    return this.state.finishRun(runId, status, error, finishedMs);
  }

  async setState(
    pipeline: string,
    runId: string,
    checkpointMs: number | null,
    clearFileLedger: boolean,
    nowMs: number,
  ): Promise<void> {
    const statements = this.state.setStateStatements(checkpointMs !== null, clearFileLedger);
    await this.driver.transaction(() =>
      this.driver.runTogether(
        'setting the pipeline state',
        statements,
        {
          pipeline: text(pipeline),
          run_id: text(runId),
          now: instant(nowMs),
          ...(checkpointMs === null ? {} : { checkpoint: instant(checkpointMs) }),
        },
        this.fence,
      ),
    );
  }

  listRejects(pipeline: string, filter: RejectFilter): Promise<Record<string, unknown>[]> {
    return this.rejects.list(pipeline, filter);
  }

  rejectsToReplay(
    pipeline: string,
    runId: string | null,
    after: RejectKey | null,
    limit: number,
  ): Promise<StoredReject[]> {
    return this.rejects.toReplay(pipeline, runId, after, limit);
  }

  retentionPlan(pipeline: string, cutoffMs: number): Promise<RetentionItem[]> {
    return retentionPlan(this.driver, pipeline, cutoffMs);
  }

  async applyRetention(
    pipeline: string,
    runId: string,
    cutoffMs: number,
    archiveDir: string | null,
    nowMs: number,
  ): Promise<RetentionItem[]> {
    const plan = await retentionPlan(this.driver, pipeline, cutoffMs);
    return applyRetention(this.driver, plan, { pipeline, runId, cutoffMs, archiveDir, nowMs }, this.fence);
  }

  async eraseUser(request: ErasureRequest): Promise<ErasureOutcome> {
    const outcome = await eraseUser(this.driver, request, this.fence);
    // What killed runs of any pipeline left staged may hold the user too (we hold the run lock).
    for (const pipeline of outcome.pipelines) await this.driver.dropLeftovers(pipeline);
    this.erased = true;
    return outcome;
  }

  async erasedSubjects(): Promise<string[]> {
    // A read-only open (dry run) may predate the migration that made the table.
    if (!(await this.driver.tableExists('etl_erasure'))) return [];
    const rows = await this.driver.run(
      'reading erased users',
      `SELECT DISTINCT subject_hash FROM ${this.dialect.table('etl_erasure')}`,
    );
    return rows.map((r) => String(r.subject_hash));
  }

  async pendingLakePartitions(pipeline: string): Promise<LakePartition[]> {
    const rows = await this.driver.run('reading the pending lake partitions', pendingPartitionsSql(this.dialect), {
      pipeline: text(pipeline),
    });
    return pendingPartitions(rows);
  }

  async exportLakePartition(pipeline: string, partition: LakePartition, file: string): Promise<void> {
    const { sql, params } = lakePartitionQuery(this.dialect, pipeline, partition);
    const purpose = `exporting ${partition.table} ${partition.eventDate ?? ''} to the lake`;
    await this.driver.exportParquet(purpose, sql, params, partition.table, file);
  }

  async clearLakePending(pipeline: string, partitions: LakePartition[]): Promise<void> {
    if (partitions.length === 0) return;
    const { sql, params } = clearPendingSql(this.dialect, pipeline, partitions);
    await this.driver.run('clearing the published lake partitions', sql, params);
  }

  async loadPackage(request: LoadRequest): Promise<LoadOutcome> {
    const started = performance.now();
    const staging = stagingTables(request.pipeline, request.runId, request.seq);
    const { files } = request.manifest;
    const base = { pipeline: text(request.pipeline), run_id: text(request.runId), now: instant(request.nowMs) };
    try {
      await this.driver.stage(request, staging);
      failpoint('load:after-staging');
      let stats = { rows: 0, distinctIds: 0, conflictingIds: 0 };
      let eventSpan: LoadOutcome['eventSpan'] = null;
      const hasPolicies = files.policies.length > 0;
      const merge = mergeQueries(this.dialect, staging, {
        hasPolicies,
        forceUpdate: request.forceUpdate ?? false,
        // AETL_FAULT: the lookup misses the loaded versions, as a broken anti-join would; an insert goes missing.
        missKnown: fault('load:miss-known'),
        loseInsert: fault('load:lose-insert'),
      });
      let mergeParams: SqlParams = base;
      if (files.events.length > 0) {
        const [s] = await this.driver.run('measuring the batch', batchStatsSql(this.dialect, staging.events));
        stats = {
          rows: Number(s!.row_count),
          distinctIds: Number(s!.distinct_ids),
          conflictingIds: Number(s!.conflicting_ids),
        };
        eventSpan = { fromMs: Number(s!.min_ts_ms), toMs: Number(s!.max_ts_ms) + 1 };
        await this.dims.insertInferredMembers({
          events: staging.events,
          policies: hasPolicies ? staging.policies : null,
        });
        await this.dims.insertMissingDates(eventSpan.fromMs, eventSpan.toMs - 1);
        mergeParams = {
          ...base,
          seq: int(request.seq),
          lo_ts: instant(eventSpan.fromMs),
          hi_ts: instant(eventSpan.toMs),
        };
        for (const sql of merge.prepare) await this.driver.run('preparing the merge', sql);
      }
      return await this.driver.transaction(async () => {
        let loaded = { inserted: 0, same: 0, conflicts: 0, replaced: 0, policyRows: 0 };
        let stored = { factRows: 0, present: 0 };
        let drift: { field: string; count: number }[] = [];
        if (files.events.length > 0) {
          await this.driver.runTogether('merging the batch', merge.statements, mergeParams, this.fence);
          failpoint('load:after-facts');
          const [row] = await this.driver.run('counting the merge', merge.counts, mergeParams);
          loaded = {
            inserted: Number(row!.inserted),
            same: Number(row!.same),
            conflicts: Number(row!.conflicts),
            replaced: Number(row!.replaced),
            policyRows: Number(row!.policy_rows),
          };
          const ids = `SELECT event_id, date_key FROM ${this.dialect.table(staging.winner)}`;
          const [s] = await this.query(storedIdsSql(this.dialect, ids), {});
          stored = { factRows: Number(s!.fact_rows), present: Number(s!.present) };
          if (Object.keys(request.manifest.drift).length > 0) {
            const fields = await this.driver.run('counting unknown fields', merge.drift);
            drift = fields.map((f) => ({ field: String(f.field), count: Number(f.n) }));
          }
        }
        const rejected = await this.quarantine(request, staging, base);
        const counts: LoadCounts = {
          read: request.manifest.counts.read,
          inserted: loaded.inserted,
          // A later, different version of a loaded event is kept out (first loaded wins) and counted here.
          alreadyPresent: loaded.same + loaded.conflicts,
          inBatchDuplicates: stats.rows - stats.distinctIds,
          conflicts: stats.conflictingIds + loaded.conflicts + loaded.replaced,
          rejected,
          outOfWindow: request.manifest.counts.outOfWindow,
          policyRows: loaded.policyRows,
        };
        const duplicateIdsInRange = stored.factRows - stored.present;
        const completeness = await this.completeness(request, counts, stored.present);
        const checks = request.blockingChecks({ counts, duplicateIdsInRange, completeness });
        await this.state.writeCheckResults(request.pipeline, request.runId, checks, request.nowMs);
        failpoint('load:before-checkpoint');
        const checksPassed = !checks.some((c) => c.blocking && c.status === 'fail');
        const checkpointMoved = checksPassed && request.checkpointTo !== null;
        await this.commit(request, counts, drift, { checksPassed, checkpointMoved, started });
        const accounted = accountedRecords(counts, stored.present);
        return { counts, checks, checksPassed, checkpointMoved, eventSpan, replaced: loaded.replaced, accounted };
      });
    } finally {
      await this.driver.dropStaging(request, staging);
    }
  }

  /**
   * Marks the rejects a replay loaded again (never deleting them: the quarantine is the record of what
   * arrived), then adds this package's rejects; returns how many of them are stored, measured.
   */
  private async quarantine(request: LoadRequest, staging: StagingTables, base: SqlParams): Promise<number> {
    const replayed = request.replayedRejects ?? [];
    if (replayed.length > 0) {
      await this.driver.run('marking replayed rejects', markReplayedSql(this.dialect), {
        ...base,
        keys: text(JSON.stringify(replayed.map((k) => rejectKeyText(k)))),
      });
    }
    if (request.manifest.files.rejects.length === 0) return 0;
    const window = request.manifest.window;
    await this.driver.run('quarantining rejects', insertRejectsSql(this.dialect, staging.rejects), {
      ...base,
      read_from: instant(window ? window.startMs : null),
      read_to: instant(window ? window.endMs : null),
    });
    if (fault('load:lose-reject')) await this.driver.run('losing a reject', loseOneRejectSql(this.dialect), base);
    const [n] = await this.driver.run(
      'counting the quarantined',
      storedRejectsSql(this.dialect, staging.rejects),
      base,
    );
    return Number(n!.n);
  }

  /** Window loads: the source's count against present in the window; file loads: see fileCompleteness. */
  private async completeness(
    request: LoadRequest,
    counts: LoadCounts,
    batchPresent: number,
  ): Promise<LoadFacts['completeness']> {
    const { window, sourceCount } = request.manifest;
    if (window && sourceCount !== null) {
      return {
        expected: sourceCount,
        present: await this.presentCount(request.pipeline, window.startMs, window.endMs),
        scope: `window ${iso(window.startMs)} .. ${iso(window.endMs)}`,
      };
    }
    return fileCompleteness(request, counts, batchPresent);
  }

  private async commit(
    request: LoadRequest,
    counts: LoadCounts,
    drift: { field: string; count: number }[],
    outcome: { checksPassed: boolean; checkpointMoved: boolean; started: number },
  ): Promise<void> {
    const { manifest } = request;
    const files = outcome.checksPassed ? manifest.sourceFiles : [];
    const params: SqlParams = {
      pipeline: text(request.pipeline),
      run_id: text(request.runId),
      now: instant(request.nowMs),
      seq: int(request.seq),
      window_start: instant(manifest.window?.startMs ?? null),
      window_end: instant(manifest.window?.endMs ?? null),
      source_count: int(manifest.sourceCount),
      read: int(counts.read),
      inserted: int(counts.inserted),
      already_present: int(counts.alreadyPresent),
      in_batch_duplicates: int(counts.inBatchDuplicates),
      conflicts: int(counts.conflicts),
      rejected: int(counts.rejected),
      out_of_window: int(counts.outOfWindow),
      policy_rows: int(counts.policyRows),
      checkpoint_moved: bool(outcome.checkpointMoved),
      checks_passed: bool(outcome.checksPassed),
      drift: text(JSON.stringify(manifest.drift)),
      extract_ms: int(request.extractMs),
      load_ms: int(Math.round(performance.now() - outcome.started)),
    };
    if (outcome.checkpointMoved) {
      const old = await this.state.getCheckpoint(request.pipeline);
      // The checkpoint never moves backwards (decision 5).
      params.checkpoint = instant(Math.max(old ?? request.checkpointTo!, request.checkpointTo!));
    }
    drift.forEach((field, i) => {
      params[`drift_field_${i}`] = text(field.field);
      params[`drift_count_${i}`] = int(field.count);
      params[`drift_type_${i}`] = text(manifest.drift[field.field]?.type ?? 'unknown');
    });
    files.forEach((file, i) => {
      params[`path_${i}`] = text(file.path);
      params[`size_${i}`] = int(file.size);
      params[`sha256_${i}`] = text(file.sha256);
    });
    await this.driver.runTogether(
      'committing the load',
      commitStatements(this.dialect, {
        checkpoint: outcome.checkpointMoved,
        files: files.length,
        driftFields: drift.length,
      }),
      params,
      this.fence,
    );
  }

  async status(pipeline: string, lastRuns: number): Promise<StatusReport> {
    const checkpointMs = await this.getCheckpoint(pipeline);
    const t = (name: string) => this.dialect.table(name);
    const p = (name: string) => this.dialect.param(name);
    const runs = await this.driver.run(
      'reading recent runs',
      `SELECT r.run_id, r.command, r.status, CAST(r.started_at AS STRING) AS started_at,
         CAST(r.finished_at AS STRING) AS finished_at,
         ROUND((${this.dialect.epochMs('r.finished_at')} - ${this.dialect.epochMs('r.started_at')}) / 1000, 1) AS duration_s,
         r.error, COUNT(w.seq) AS windows,
         CAST(MIN(w.window_start) AS STRING) AS window_start, CAST(MAX(w.window_end) AS STRING) AS window_end,
         COALESCE(SUM(w.read), 0) AS read, COALESCE(SUM(w.inserted), 0) AS inserted,
         COALESCE(SUM(w.already_present), 0) AS already_present,
         COALESCE(SUM(w.in_batch_duplicates), 0) AS in_batch_duplicates, COALESCE(SUM(w.rejected), 0) AS rejected
       FROM ${t('etl_run')} r LEFT JOIN ${t('etl_run_window')} w ON w.run_id = r.run_id
       WHERE r.pipeline = ${p('pipeline')}
       GROUP BY r.run_id, r.command, r.status, r.started_at, r.finished_at, r.error
       ORDER BY r.started_at DESC LIMIT ${Math.max(1, Math.trunc(lastRuns))}`,
      { pipeline: text(pipeline) },
    );
    const counts = await this.driver.run(
      'counting table rows',
      STAR_TABLES.map((table) => `SELECT '${table}' AS name, COUNT(*) AS n FROM ${t(table)}`).join(' UNION ALL '),
    );
    const checks = await this.driver.run(
      'reading the latest checks',
      `SELECT check_name, scope, status, observed, expected, message, CAST(checked_at AS STRING) AS checked_at
       FROM ${t('dq_check_result')}
       WHERE pipeline = ${p('pipeline')}
         AND run_id = (SELECT run_id FROM ${t('dq_check_result')} WHERE pipeline = ${p('pipeline')} ORDER BY checked_at DESC LIMIT 1)
       ORDER BY status <> 'fail', check_name`,
      { pipeline: text(pipeline) },
    );
    const [rejects] = await this.driver.run(
      'counting rejects',
      `SELECT COUNT(*) AS n FROM ${t('etl_rejected_event')} WHERE pipeline = ${p('pipeline')} AND replayed_at IS NULL`,
      { pipeline: text(pipeline) },
    );
    return {
      pipeline,
      checkpoint: checkpointMs === null ? null : iso(checkpointMs),
      runs: runs.map(plainNumbers),
      tables: Object.fromEntries(counts.map((r) => [String(r.name), Number(r.n)])),
      checks: checks.map(plainNumbers),
      rejects: Number(rejects!.n),
      drift: await this.drift.fields(pipeline, new Set(runs.map((r) => String(r.run_id)))),
    };
  }

  newDriftFields(pipeline: string, runId: string): Promise<{ field: string; count: number; type: string }[]> {
    return this.drift.firstSeenBy(pipeline, runId);
  }
}
