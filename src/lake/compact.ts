import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { DuckDBSettings } from '../warehouse/duckdb/duckdb-driver.js';
import { lakeOrder } from '../warehouse/sql/sql-lake.js';
import { FACT_TABLES, partitionDates, partitionFiles, replacePartitions, tmpDir } from './layout.js';

export interface PartitionRef {
  table: string;
  eventDate: string;
}

/** One compacted partition, as `aetl compact --json` lists it. */
export interface CompactedPartition {
  table: string;
  event_date: string;
  /** The files merged into one. */
  files: number;
  rows: number;
}

/** Every fact partition of the lake holding more than `moreThan` files. */
export function crowdedPartitions(lake: string, moreThan: number): PartitionRef[] {
  return FACT_TABLES.flatMap((table) =>
    partitionDates(lake, table)
      .filter((eventDate) => partitionFiles(lake, table, eventDate).length > moreThan)
      .map((eventDate) => ({ table, eventDate })),
  );
}

/**
 * Merges each partition's files into one, read from the lake itself (whatever
 * the warehouse engine: no warehouse query), in the lake's row order, and
 * swaps the merged partitions of a table in at once (layout.ts): a reader
 * counts the same rows before, during and after. A crash at any point leaves
 * the old version current (the merge is simply done again) or the new one.
 */
export async function compactPartitions(
  lake: string,
  scratch: DuckDBSettings,
  partitions: readonly PartitionRef[],
): Promise<CompactedPartition[]> {
  const done: CompactedPartition[] = [];
  // Loaded here: a remote engine's commands reach this module but need DuckDB only to compact.
  const { openDuckDB, sqlString } = await import('../warehouse/duckdb/duckdb-driver.js');
  const db = await openDuckDB(':memory:', scratch);
  try {
    mkdirSync(tmpDir(lake), { recursive: true });
    for (const table of FACT_TABLES) {
      const changes = new Map<string, string>();
      for (const { eventDate } of partitions.filter((p) => p.table === table)) {
        const files = partitionFiles(lake, table, eventDate);
        if (files.length < 2) continue;
        const tmp = join(tmpDir(lake), `${randomUUID()}.parquet`);
        // Not hive-partitioned (the date is the folder's, not a column); by name, so a file
        // written before a column was added still merges (the column is null there).
        const read = `read_parquet([${files.map(sqlString).join(', ')}], hive_partitioning = false, union_by_name = true)`;
        const copied = await db.connection.runAndReadAll(
          `COPY (SELECT * FROM ${read} ORDER BY ${lakeOrder(table)}) TO ${sqlString(tmp)} (FORMAT parquet, COMPRESSION zstd)`,
        );
        changes.set(eventDate, tmp);
        done.push({ table, event_date: eventDate, files: files.length, rows: Number(copied.getRows()[0]![0]) });
      }
      if (changes.size > 0) replacePartitions(lake, table, changes);
    }
  } finally {
    db.close();
  }
  return done;
}
