import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../log/logger.js';
import { renameDurably } from '../util/durable-write.js';
import { failpoint } from '../util/failpoint.js';
import { pathInside } from '../util/safe-path.js';
import type { LakePartition, WarehouseLake } from '../warehouse/warehouse.js';

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** `<lake>/<table>/event_date=YYYY-MM-DD/data.parquet`, or `<lake>/<table>/data.parquet` for a dimension. */
export function partitionFile(lakePath: string, partition: LakePartition): string {
  if (partition.eventDate !== null && !DATE.test(partition.eventDate)) {
    throw new Error(`refusing lake partition ${partition.table}/${partition.eventDate}: not a date`);
  }
  return partition.eventDate === null
    ? pathInside(lakePath, partition.table, 'data.parquet')
    : pathInside(lakePath, partition.table, `event_date=${partition.eventDate}`, 'data.parquet');
}

/**
 * Rewrites every partition the warehouse marked as pending (DESIGN.md
 * decision 2), whatever the engine: the whole partition, already deduplicated
 * in the warehouse, is written under `<lake>/.tmp` and renamed over the old
 * file, so a reader sees the old or the new partition, never half of one;
 * synced to disk before the marks are cleared (once, after the last rename),
 * so a power loss cannot leave an empty file marked done. Idempotent: a crash
 * before clearing the marks only means the same files are written again.
 */
export async function publishPendingLake(
  warehouse: WarehouseLake,
  pipeline: string,
  lakePath: string,
  logger: Logger,
): Promise<number> {
  const tmpDir = join(lakePath, '.tmp');
  // Leftovers of a crashed publish are partial files nobody reads: start clean.
  rmSync(tmpDir, { recursive: true, force: true });
  const pending = await warehouse.pendingLakePartitions(pipeline);
  if (pending.length === 0) return 0;
  mkdirSync(tmpDir, { recursive: true });
  for (const partition of pending) {
    const target = partitionFile(lakePath, partition);
    const tmp = join(tmpDir, `${randomUUID()}.parquet`);
    await warehouse.exportLakePartition(partition, tmp);
    failpoint('lake:after-export');
    renameDurably(tmp, target);
    failpoint('lake:after-rename');
  }
  await warehouse.clearLakePending(pipeline, pending);
  logger.debug({ partitions: pending.length }, 'lake partitions published');
  return pending.length;
}
