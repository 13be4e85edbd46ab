import type { Logger } from '../../log/logger.js';
import type { LakePartition, RejectFilter, RejectKey, StatusReport, StoredReject } from '../warehouse.js';
import { plainNumbers } from '../warehouse.js';
import { SqlWarehouse } from '../sql/sql-warehouse.js';
import { DuckDBDriver, iso, sqlString, toNumber, type DuckDBSettings, type Params, type Row } from './duckdb-driver.js';
import { rekeyFacts } from './duckdb-dimensions.js';
import { markLakePendingSql } from '../sql/sql-load.js';
import { duckdbDialect } from './duckdb-dialect.js';
import { listRejects, rejectsToReplay } from './duckdb-rejects.js';

const STAR_TABLES = [
  'fact_ai_event',
  'fact_policy_evaluation',
  'dim_user',
  'dim_gateway',
  'dim_model',
  'dim_policy',
  'dim_date',
] as const;

/**
 * The embedded warehouse: the one warehouse logic (sql/) over the DuckDB
 * driver. The day-2 commands below still run DuckDB's own SQL until they are
 * written once for every engine.
 */
export class DuckDBWarehouse extends SqlWarehouse {
  private readonly runner;

  private constructor(driver: DuckDBDriver) {
    super(driver);
    this.runner = driver.runner;
  }

  static async open(path: string, settings: DuckDBSettings, logger?: Logger): Promise<DuckDBWarehouse> {
    return new DuckDBWarehouse(await DuckDBDriver.open(path, settings, logger));
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

  override listRejects(pipeline: string, filter: RejectFilter): Promise<Record<string, unknown>[]> {
    return listRejects(this.runner, pipeline, filter);
  }

  override rejectsToReplay(
    pipeline: string,
    runId: string | null,
    after: RejectKey | null,
    limit: number,
  ): Promise<StoredReject[]> {
    return rejectsToReplay(this.runner, pipeline, runId, after, limit);
  }

  override async pendingLakePartitions(pipeline: string): Promise<LakePartition[]> {
    const rows = await this.rows(
      `SELECT DISTINCT table_name, strftime(event_date, '%Y-%m-%d') AS event_date FROM etl_lake_pending
       WHERE pipeline = $pipeline ORDER BY 1, 2`,
      { pipeline },
    );
    return rows.map((r) => ({ table: String(r.table_name), eventDate: (r.event_date as string | null) ?? null }));
  }

  override async exportLakePartition(partition: LakePartition, file: string): Promise<void> {
    if (!(STAR_TABLES as readonly string[]).includes(partition.table))
      throw new Error(`not a star table: ${partition.table}`);
    const where =
      partition.eventDate === null ? '' : `WHERE date_key = ${Number(partition.eventDate.replaceAll('-', ''))}`;
    const order = partition.table.startsWith('fact_') ? 'ORDER BY event_ts, event_id' : '';
    await this.exec(
      `COPY (SELECT * FROM ${partition.table} ${where} ${order}) TO ${sqlString(file)} (FORMAT parquet, COMPRESSION zstd)`,
    );
  }

  override async clearLakePending(pipeline: string, partition: LakePartition): Promise<void> {
    await this.exec(
      `DELETE FROM etl_lake_pending WHERE pipeline = $pipeline AND table_name = $table
       AND event_date IS NOT DISTINCT FROM $date::DATE`,
      { pipeline, table: partition.table, date: partition.eventDate },
    );
  }

  override async status(pipeline: string, lastRuns: number): Promise<StatusReport> {
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

  override async newDriftFields(
    pipeline: string,
    runId: string,
  ): Promise<{ field: string; count: number; type: string }[]> {
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

  /** Re-keys facts to the member versions valid at their event times; marks every touched partition. */
  override async rebuildDimensions(pipeline: string, runId: string): Promise<number> {
    return this.transaction(async () => {
      const changed = await rekeyFacts(this.runner);
      await this.exec(markLakePendingSql(duckdbDialect, 'SELECT DISTINCT date_key FROM fact_ai_event'), {
        pipeline,
        run_id: runId,
      });
      await this.exec(markLakePendingSql(duckdbDialect, null), { pipeline, run_id: runId });
      return changed;
    });
  }
}
