import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../log/logger.js';
import { renameDurably } from '../util/durable-write.js';
import { failpoint } from '../util/failpoint.js';
import { pathInside } from '../util/safe-path.js';
import type { DuckDBSettings } from '../warehouse/duckdb/duckdb-driver.js';
import type { LakePartition, WarehouseLake } from '../warehouse/warehouse.js';
import { compactPartitions, type PartitionRef } from './compact.js';
import { clearDue, duePartitions, markDue } from './due.js';
import {
  addFile,
  DIMENSION_TABLES,
  packageFileName,
  partitionFiles,
  removeStaleVersions,
  replacePartitions,
  tmpDir,
} from './layout.js';

export interface LakeSettings {
  path: string;
  /** A partition holding more files than this at the end of a command is compacted (`lake.compact_after_files`). */
  compactAfterFiles: number;
  /** The in-memory DuckDB compaction merges files with. */
  scratch: DuckDBSettings;
}

/**
 * Within one command a partition may grow to this many times
 * `compactAfterFiles` before it is compacted there and then: a long run
 * (100M events: ~490 packages a day) is not left with hundreds of files, and
 * one of ordinary size rewrites each day once, at its end (finishLake).
 */
const MID_RUN_FACTOR = 4;

/**
 * Publishes every mark the warehouse holds for this pipeline's lake (DESIGN.md
 * decision 2), whatever the engine. Each file is written under `<lake>/.tmp`
 * and synced before it is moved in:
 * - a package's mark adds that package's own file to its partition, named by
 *   its batch (`<run id>-<seq>.parquet`): publishing it again after a crash
 *   replaces the same name, so no row is ever there twice;
 * - a partition marked whole (a command that changed history) is rewritten
 *   with every row but those of packages still pending (added next as their
 *   own files), swapped in with the table's other partitions unchanged
 *   (layout.ts); a dimension is one file renamed over, also when its file is
 *   missing unmarked (a new lake folder, or one removed by hand).
 * The marks are cleared once, after the last move, so a crash before that
 * only means the same files are written again. A partition it touched that
 * now holds more than `MID_RUN_FACTOR × compactAfterFiles` files is compacted;
 * the others wait for the command's end (finishLake).
 */
export async function publishPendingLake(
  warehouse: WarehouseLake,
  pipeline: string,
  lake: LakeSettings,
  logger: Logger,
): Promise<number> {
  // Leftovers of a crashed publish or compaction are files nobody reads: start clean.
  rmSync(tmpDir(lake.path), { recursive: true, force: true });
  removeStaleVersions(lake.path);
  const pending = await warehouse.pendingLakePartitions(pipeline);
  const missing = DIMENSION_TABLES.filter((table) => !existsSync(pathInside(lake.path, table, 'data.parquet'))).map(
    (table): LakePartition => ({ table, eventDate: null, runId: '', packageSeq: null }),
  );
  if (pending.length === 0 && missing.length === 0) return 0;
  mkdirSync(tmpDir(lake.path), { recursive: true });
  const exported = async (partition: LakePartition) => {
    const files = await warehouse.exportLakePartition(pipeline, partition, () =>
      join(tmpDir(lake.path), `${randomUUID()}.parquet`),
    );
    failpoint('lake:after-export');
    return files;
  };
  /** The one file of a dimension's or a package's mark. */
  const exportedOne = async (partition: LakePartition) => {
    const [file] = await exported(partition);
    return file!;
  };
  const whole = unique([...pending.filter((p) => p.packageSeq === null), ...missing]);
  for (const dimension of whole.filter((p) => p.eventDate === null)) {
    renameDurably(await exportedOne(dimension), pathInside(lake.path, dimension.table, 'data.parquet'));
    failpoint('lake:after-rename');
  }
  for (const table of new Set(whole.filter((p) => p.eventDate !== null).map((p) => p.table))) {
    const changes = new Map<string, string[]>();
    for (const partition of whole.filter((p) => p.table === table)) {
      const files = await exported(partition);
      // A day written in several files (too large to write at once) counts toward compaction as packages do.
      if (files.length > 1) markDue(lake.path, { table, eventDate: partition.eventDate! });
      changes.set(partition.eventDate!, files);
    }
    replacePartitions(lake.path, table, changes);
    failpoint('lake:after-rename');
  }
  const packages = pending.filter((p) => p.packageSeq !== null);
  for (const partition of packages) {
    markDue(lake.path, { table: partition.table, eventDate: partition.eventDate! });
    const tmp = await exportedOne(partition);
    addFile(
      lake.path,
      partition.table,
      partition.eventDate!,
      tmp,
      packageFileName(partition.runId, partition.packageSeq!),
    );
    failpoint('lake:after-rename');
  }
  await warehouse.clearLakePending(pipeline, pending);
  logger.debug({ marks: pending.length, packages: packages.length, whole: whole.length }, 'lake published');
  const touched = unique(packages).map((p): PartitionRef => ({ table: p.table, eventDate: p.eventDate! }));
  await compactCrowded(lake, touched, MID_RUN_FACTOR * lake.compactAfterFiles, logger);
  return pending.length;
}

/**
 * A command's last lake step: publishes what is still pending, then compacts
 * each partition a file was added to since the last such step (this
 * command's, or one killed before its end: due.ts) that holds more than
 * `compactAfterFiles` files, once.
 */
export async function finishLake(
  warehouse: WarehouseLake,
  pipeline: string,
  lake: LakeSettings,
  logger: Logger,
): Promise<void> {
  await publishPendingLake(warehouse, pipeline, lake, logger);
  const due = duePartitions(lake.path);
  try {
    await compactCrowded(lake, due, lake.compactAfterFiles, logger);
  } catch (error) {
    // The lake is whole either way (a compaction swaps versions atomically): the command's outcome
    // stands, and the marks stay, so the next command's end tries again.
    logger.warn(
      { err: (error as Error).message, next: 'aetl compact' },
      'lake compaction failed; the partitions stay as they are and are retried at the next command',
    );
    return;
  }
  clearDue(lake.path, due);
}

/** Compacts those of `partitions` holding more than `moreThan` files. */
async function compactCrowded(
  lake: LakeSettings,
  partitions: PartitionRef[],
  moreThan: number,
  logger: Logger,
): Promise<void> {
  const crowded = partitions.filter((p) => partitionFiles(lake.path, p.table, p.eventDate).length > moreThan);
  if (crowded.length === 0) return;
  const compacted = await compactPartitions(lake.path, lake.scratch, crowded);
  logger.debug({ partitions: compacted.length }, 'lake partitions compacted');
}

/** One mark per partition (table and date). */
function unique(partitions: LakePartition[]): LakePartition[] {
  const seen = new Map(partitions.map((p) => [`${p.table}/${p.eventDate ?? ''}`, p]));
  return [...seen.values()];
}
