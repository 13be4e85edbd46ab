import { text, type Driver } from '../driver.js';
import type { LakePartition, WarehouseLake } from '../warehouse.js';
import { clearPendingSql, lakePartitionQuery, pendingPartitions, pendingPartitionsSql } from './sql-lake.js';

/** The lake role on every engine: the partitions loads marked, each written out through the driver, then cleared. */
export class SqlLakeExport implements WarehouseLake {
  constructor(private readonly driver: Driver) {}

  async pendingLakePartitions(pipeline: string): Promise<LakePartition[]> {
    const rows = await this.driver.run(
      'reading the pending lake partitions',
      pendingPartitionsSql(this.driver.dialect),
      { pipeline: text(pipeline) },
    );
    return pendingPartitions(rows);
  }

  async exportLakePartition(pipeline: string, partition: LakePartition, file: string): Promise<void> {
    const { sql, params } = lakePartitionQuery(this.driver.dialect, pipeline, partition);
    const purpose = `exporting ${partition.table} ${partition.eventDate ?? ''} to the lake`;
    await this.driver.exportParquet(purpose, sql, params, partition.table, file);
  }

  async clearLakePending(pipeline: string, partitions: LakePartition[]): Promise<void> {
    if (partitions.length === 0) return;
    const { sql, params } = clearPendingSql(this.driver.dialect, pipeline, partitions);
    await this.driver.run('clearing the published lake partitions', sql, params);
  }
}
