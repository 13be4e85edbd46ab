import { join } from 'node:path';
import { bigqueryDialect, type CheckDialect } from '../../checks/dialect.js';
import { duplicateIdsSql, presentCountSql } from '../../checks/check-sql.js';
import type { ReferenceData } from '../../reference/reference-data.js';
import { DAY_MS } from '../../util/dates.js';
import { failpoint } from '../../util/failpoint.js';
import type {
  CheckResult,
  LakePartition,
  LoadCounts,
  LoadFacts,
  LoadOutcome,
  LoadRequest,
  RunRecord,
  RunStatus,
  StatusReport,
  Warehouse,
} from '../warehouse.js';
import { BigQueryClient, type BigQueryParam, type BigQuerySettings } from './bigquery-client.js';
import { BigQueryDimensions } from './bigquery-dimensions.js';
import {
  batchStatsSql,
  commitScript,
  insertRejectsSql,
  loadScript,
  STAGING_PREFIX,
  stagingTables,
  tableRef,
  type Dataset,
  type StagingTables,
} from './bigquery-sql.js';
import { BigQueryState } from './bigquery-state.js';

/** As in DuckDB: how far a later version's timestamp may move and still meet its first version. */
const CONFLICT_HORIZON_MS = 7 * DAY_MS;
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
const text = (value: string | null): BigQueryParam => ({ type: 'STRING', value });
const int = (value: number | null): BigQueryParam => ({ type: 'INT64', value });
const instant = (ms: number | null): BigQueryParam => ({ type: 'TIMESTAMP', value: ms === null ? null : iso(ms) });

/** Check SQL binds plain values; BigQuery wants each one's type. */
function typed(params: Record<string, string | number | null>): Record<string, BigQueryParam> {
  return Object.fromEntries(
    Object.entries(params).map(([name, value]) => [
      name,
      typeof value === 'number' ? (Number.isInteger(value) ? int(value) : { type: 'FLOAT64', value }) : text(value),
    ]),
  );
}

/**
 * The warehouse on BigQuery (decision: load jobs, never streaming inserts;
 * one MERGE transaction per package; state tables beside the star schema).
 * The Parquet lake is DuckDB's: on BigQuery the tables are the lake, so no
 * partition is ever pending.
 */
export class BigQueryWarehouse implements Warehouse {
  readonly description: string;
  readonly dialect: CheckDialect;
  private readonly ds: Dataset;
  private readonly state: BigQueryState;
  private readonly dims: BigQueryDimensions;

  constructor(private readonly client: BigQueryClient) {
    const { project, dataset } = client.settings;
    this.ds = { project, dataset };
    this.description = `BigQuery ${project}.${dataset}`;
    this.dialect = bigqueryDialect(`${project}.${dataset}`);
    this.state = new BigQueryState(client, this.ds);
    this.dims = new BigQueryDimensions(client, this.ds);
  }

  static open(settings: BigQuerySettings): BigQueryWarehouse {
    return new BigQueryWarehouse(BigQueryClient.create(settings));
  }

  query(sql: string, params: Record<string, string | number | null>): Promise<Record<string, unknown>[]> {
    return this.client.query('running a check', sql, typed(params));
  }

  writeCheckResults(pipeline: string, runId: string, results: CheckResult[], nowMs: number): Promise<void> {
    return this.state.writeCheckResults(pipeline, runId, results, nowMs);
  }

  migrate(): Promise<number> {
    return this.state.migrate();
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

  async syncReference(reference: ReferenceData, _pipeline: string, _runId: string, nowMs: number): Promise<number> {
    return this.dims.syncReference(reference, nowMs);
  }

  async rebuildDimensions(): Promise<number> {
    throw new Error('aetl rebuild-dims is not available on BigQuery yet; it is on DuckDB');
  }

  startRun(run: RunRecord): Promise<void> {
    return this.state.startRun(run);
  }

  /** Also drops staging tables a killed run left (we hold the run lock: no live run owns one). */
  async abandonUnfinishedRuns(pipeline: string, nowMs: number): Promise<void> {
    await this.state.abandonUnfinishedRuns(pipeline, nowMs);
    for (const table of await this.client.tableNames(STAGING_PREFIX)) await this.client.dropTable(table);
  }

  finishRun(runId: string, status: RunStatus, error: string | null, finishedMs: number): Promise<void> {
    return this.state.finishRun(runId, status, error, finishedMs);
  }

  async pendingLakePartitions(): Promise<LakePartition[]> {
    return [];
  }

  async exportLakePartition(): Promise<void> {
    throw new Error('the Parquet lake is written from DuckDB only');
  }

  async clearLakePending(): Promise<void> {}

  async loadPackage(request: LoadRequest): Promise<LoadOutcome> {
    const started = performance.now();
    const staging = stagingTables(request.runId, request.seq);
    const { manifest } = request;
    const base = {
      pipeline: text(request.pipeline),
      run_id: text(request.runId),
      now: instant(request.nowMs),
    };
    try {
      await this.stage(request, staging);
      failpoint('load:after-staging');
      let loaded = { inserted: 0, same: 0, conflicts: 0, policyRows: 0, present: 0 };
      let stats = { rows: 0, distinctIds: 0, conflictingIds: 0 };
      let eventSpan: LoadOutcome['eventSpan'] = null;
      let span = { lo: 0, hi: 0 };
      if (manifest.files.events.length > 0) {
        const [s] = await this.client.query('measuring the batch', batchStatsSql(this.ds, staging.events));
        stats = {
          rows: Number(s!.row_count),
          distinctIds: Number(s!.distinct_ids),
          conflictingIds: Number(s!.conflicting_ids),
        };
        eventSpan = { fromMs: Number(s!.min_ts_ms), toMs: Number(s!.max_ts_ms) + 1 };
        span = { lo: eventSpan.fromMs - CONFLICT_HORIZON_MS, hi: eventSpan.toMs + CONFLICT_HORIZON_MS };
        await this.dims.insertInferredMembers({
          events: staging.events,
          policies: manifest.files.policies.length > 0 ? staging.policies : null,
        });
        await this.dims.insertMissingDates(eventSpan.fromMs, eventSpan.toMs - 1);
        const [l] = await this.client.query(
          'merging the batch',
          loadScript(this.ds, staging, manifest.files.policies.length > 0),
          { ...base, lo_ts: instant(span.lo), hi_ts: instant(span.hi) },
        );
        loaded = {
          inserted: Number(l!.inserted),
          same: Number(l!.same),
          conflicts: Number(l!.conflicts),
          policyRows: Number(l!.policy_rows),
          present: Number(l!.present),
        };
      }
      if (manifest.files.rejects.length > 0) {
        const window = manifest.window;
        await this.client.query('quarantining rejects', insertRejectsSql(this.ds, staging.rejects), {
          ...base,
          read_from: instant(window ? window.startMs : null),
          read_to: instant(window ? window.endMs : null),
        });
      }
      const counts: LoadCounts = {
        read: manifest.counts.read,
        inserted: loaded.inserted,
        alreadyPresent: loaded.same + loaded.conflicts,
        inBatchDuplicates: stats.rows - stats.distinctIds,
        conflicts: stats.conflictingIds + loaded.conflicts,
        rejected: manifest.counts.rejected,
        outOfWindow: manifest.counts.outOfWindow,
        policyRows: loaded.policyRows,
      };
      const duplicateIdsInRange =
        eventSpan === null
          ? 0
          : Number((await this.query(duplicateIdsSql(this.dialect), { from: iso(span.lo), to: iso(span.hi) }))[0]!.n);
      const completeness = await this.completeness(request, counts, loaded.present);
      const checks = request.blockingChecks({ counts, duplicateIdsInRange, completeness });
      await this.state.writeCheckResults(request.pipeline, request.runId, checks, request.nowMs);
      const checksPassed = !checks.some((c) => c.blocking && c.status === 'fail');
      const checkpointMoved = checksPassed && request.checkpointTo !== null;
      await this.commit(request, counts, { checksPassed, checkpointMoved, started });
      return { counts, checks, checksPassed, checkpointMoved, eventSpan };
    } finally {
      // A failed drop must not hide the load's own error; the next run drops leftovers anyway.
      for (const table of Object.values(staging)) await this.client.dropTable(table).catch(() => undefined);
    }
  }

  /** The package's Parquet files, each through a load job into its run-scoped staging table. */
  private async stage(request: LoadRequest, staging: StagingTables): Promise<void> {
    const { files } = request.manifest;
    for (const kind of ['events', 'policies', 'rejects'] as const) {
      for (const file of files[kind]) {
        await this.client.loadParquet(`loading staged ${kind}`, join(request.packageDir, file), staging[kind]);
      }
    }
  }

  /** Window loads: the source's count against present in the window; file loads: distinct records against present. */
  private async completeness(
    request: LoadRequest,
    counts: LoadCounts,
    present: number,
  ): Promise<LoadFacts['completeness']> {
    const { window, sourceCount, sourceFiles } = request.manifest;
    if (window && sourceCount !== null) {
      return {
        expected: sourceCount,
        present: await this.presentCount(request.pipeline, window.startMs, window.endMs),
        scope: `window ${iso(window.startMs)} .. ${iso(window.endMs)}`,
      };
    }
    if (window) return null;
    const expected = counts.read - counts.inBatchDuplicates - counts.outOfWindow;
    const files = sourceFiles.map((f) => f.path).join(', ');
    return { expected, present: present + counts.rejected, scope: `file ${files}` };
  }

  private async commit(
    request: LoadRequest,
    counts: LoadCounts,
    outcome: { checksPassed: boolean; checkpointMoved: boolean; started: number },
  ): Promise<void> {
    const { manifest } = request;
    const files = outcome.checksPassed ? manifest.sourceFiles : [];
    const params: Record<string, BigQueryParam> = {
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
      checkpoint_moved: { type: 'BOOL', value: outcome.checkpointMoved },
      checks_passed: { type: 'BOOL', value: outcome.checksPassed },
      drift: text(JSON.stringify(manifest.drift)),
      extract_ms: int(request.extractMs),
      load_ms: int(Math.round(performance.now() - outcome.started)),
    };
    if (outcome.checkpointMoved) {
      const old = await this.state.getCheckpoint(request.pipeline);
      // The checkpoint never moves backwards (decision 5).
      params.checkpoint = instant(Math.max(old ?? request.checkpointTo!, request.checkpointTo!));
    }
    files.forEach((file, i) => {
      params[`path_${i}`] = text(file.path);
      params[`size_${i}`] = int(file.size);
      params[`sha256_${i}`] = text(file.sha256);
    });
    await this.client.query(
      'committing the load',
      commitScript(this.ds, { checkpoint: outcome.checkpointMoved, files: files.length }),
      params,
    );
  }

  async status(pipeline: string, lastRuns: number): Promise<StatusReport> {
    const checkpointMs = await this.getCheckpoint(pipeline);
    const t = (name: string) => tableRef(this.ds, name);
    const runs = await this.client.query(
      'reading recent runs',
      `SELECT r.run_id, r.command, r.status, CAST(r.started_at AS STRING) AS started_at,
         CAST(r.finished_at AS STRING) AS finished_at, r.error, COUNT(w.seq) AS windows,
         CAST(MIN(w.window_start) AS STRING) AS window_start, CAST(MAX(w.window_end) AS STRING) AS window_end,
         COALESCE(SUM(w.read), 0) AS read, COALESCE(SUM(w.inserted), 0) AS inserted,
         COALESCE(SUM(w.already_present), 0) AS already_present,
         COALESCE(SUM(w.in_batch_duplicates), 0) AS in_batch_duplicates, COALESCE(SUM(w.rejected), 0) AS rejected
       FROM ${t('etl_run')} r LEFT JOIN ${t('etl_run_window')} w ON w.run_id = r.run_id
       WHERE r.pipeline = @pipeline
       GROUP BY r.run_id, r.command, r.status, r.started_at, r.finished_at, r.error
       ORDER BY r.started_at DESC LIMIT @limit`,
      { pipeline: text(pipeline), limit: int(lastRuns) },
    );
    const counts = await this.client.query(
      'counting table rows',
      STAR_TABLES.map((table) => `SELECT '${table}' AS name, COUNT(*) AS n FROM ${t(table)}`).join(' UNION ALL '),
    );
    const checks = await this.client.query(
      'reading the latest checks',
      `SELECT check_name, scope, status, observed, expected, message, CAST(checked_at AS STRING) AS checked_at
       FROM ${t('dq_check_result')}
       WHERE pipeline = @pipeline
         AND run_id = (SELECT run_id FROM ${t('dq_check_result')} WHERE pipeline = @pipeline ORDER BY checked_at DESC LIMIT 1)
       ORDER BY status <> 'fail', check_name`,
      { pipeline: text(pipeline) },
    );
    const [rejects] = await this.client.query(
      'counting rejects',
      `SELECT COUNT(*) AS n FROM ${t('etl_rejected_event')} WHERE pipeline = @pipeline`,
      { pipeline: text(pipeline) },
    );
    const plain = (rows: Record<string, unknown>[]) =>
      rows.map((r) =>
        Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'object' && v !== null ? Number(v) : v])),
      );
    return {
      pipeline,
      checkpoint: checkpointMs === null ? null : iso(checkpointMs),
      runs: plain(runs),
      tables: Object.fromEntries(counts.map((r) => [String(r.name), Number(r.n)])),
      checks: plain(checks),
      rejects: Number(rejects!.n),
    };
  }

  async close(): Promise<void> {}
}
