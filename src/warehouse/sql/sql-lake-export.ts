import { text, type Driver } from '../driver.js';
import { markLakePendingSql } from './sql-load.js';
import type { LakePartition, WarehouseLake } from '../warehouse.js';
import { exportInSlices } from './sql-sliced-export.js';
import {
  clearPendingSql,
  lakePartitionRows,
  pendingPartitions,
  pendingPartitionsSql,
  selectionSql,
} from './sql-lake.js';

/** The lake role on every engine: the partitions loads marked, each written out through the driver, then cleared. */
export class SqlLakeExport implements WarehouseLake {
  constructor(private readonly driver: Driver) {}

  /**
   * A pipeline new to this warehouse starts its lake with what the warehouse
   * already holds: every fact partition and dimension is marked for a whole
   * write (later packages add their own files). Nothing for a known pipeline.
   */
  async adoptLake(pipeline: string, runId: string): Promise<void> {
    const d = this.driver.dialect;
    const params = { pipeline: text(pipeline), run_id: text(runId) };
    const [known] = await this.driver.run(
      'looking for the pipeline in the run ledger',
      `SELECT count(*) AS n FROM ${d.table('etl_run')} WHERE pipeline = ${d.param('pipeline')}`,
      params,
    );
    if (Number(known!.n) > 0) return;
    const dates = `SELECT date_key FROM ${d.table('fact_ai_event')}`;
    await this.driver.run('marking the lake a new pipeline adopts', markLakePendingSql(d, dates, 'self'), params);
    await this.driver.run('marking the dimensions a new pipeline adopts', markLakePendingSql(d, null, 'self'), params);
  }

  async pendingLakePartitions(pipeline: string): Promise<LakePartition[]> {
    const rows = await this.driver.run(
      'reading the pending lake partitions',
      pendingPartitionsSql(this.driver.dialect),
      { pipeline: text(pipeline) },
    );
    return pendingPartitions(rows);
  }

  async exportLakePartition(pipeline: string, partition: LakePartition, nextFile: () => string): Promise<string[]> {
    const rows = lakePartitionRows(this.driver.dialect, pipeline, partition);
    const purpose = `exporting ${partition.table} ${partition.eventDate ?? ''} to the lake`;
    // A package's rows were bounded when it loaded; a whole day may be too large to write at once.
    if (partition.eventDate !== null && partition.packageSeq === null) {
      return exportInSlices(this.driver, purpose, rows, nextFile);
    }
    const file = nextFile();
    await this.driver.exportParquet(purpose, selectionSql(this.driver.dialect, rows), rows.params, rows.table, file);
    return [file];
  }

  async clearLakePending(pipeline: string, partitions: LakePartition[]): Promise<void> {
    if (partitions.length === 0) return;
    const { sql, params } = clearPendingSql(this.driver.dialect, pipeline, partitions);
    await this.driver.run('clearing the published lake partitions', sql, params);
  }
}
