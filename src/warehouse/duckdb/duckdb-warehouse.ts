import type { Logger } from '../../log/logger.js';
import type { ErasureOutcome, ErasureRequest, RetentionItem } from '../warehouse.js';
import { SqlWarehouse } from '../sql/sql-warehouse.js';
import { DuckDBDriver, toNumber, type DuckDBSettings, type Params, type Row } from './duckdb-driver.js';
import { applyRetention, retentionPlan } from './duckdb-retention.js';
import { eraseUser } from './duckdb-erasure.js';

/**
 * The embedded warehouse: the one warehouse logic (sql/) over the DuckDB
 * driver. Retention, erasure and the lake below still run DuckDB's own SQL
 * until they are written once for every engine.
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

  override retentionPlan(pipeline: string, cutoffMs: number): Promise<RetentionItem[]> {
    return retentionPlan(this.runner, pipeline, cutoffMs);
  }

  override async applyRetention(
    pipeline: string,
    runId: string,
    cutoffMs: number,
    archiveDir: string | null,
    nowMs: number,
  ): Promise<RetentionItem[]> {
    const plan = await retentionPlan(this.runner, pipeline, cutoffMs);
    return applyRetention(this.runner, plan, { pipeline, runId, cutoffMs, archiveDir, nowMs });
  }

  override eraseUser(request: ErasureRequest): Promise<ErasureOutcome> {
    return eraseUser(this.runner, request);
  }

  override async erasedSubjects(): Promise<string[]> {
    // A read-only open (dry run) may predate the migration that made the table.
    const [table] = await this.rows("SELECT count(*) AS n FROM duckdb_tables() WHERE table_name = 'etl_erasure'");
    if (toNumber(table!.n) === 0) return [];
    return (await this.rows('SELECT DISTINCT subject_hash FROM etl_erasure')).map((r) => String(r.subject_hash));
  }
}
