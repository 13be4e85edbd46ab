import type { Logger } from '../../log/logger.js';
import type { LakePartition } from '../warehouse.js';
import { SqlWarehouse } from '../sql/sql-warehouse.js';
import { DuckDBDriver, sqlString, type DuckDBSettings, type Params, type Row } from './duckdb-driver.js';

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
 * driver. The lake below still runs DuckDB's own SQL until it is written
 * once for every engine.
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
}
