import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import { isOutOfMemory } from '../util/errors.js';
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
 * the warehouse engine: no warehouse query), in the lake's row order (unless
 * too wide to sort: `copyPartition`), and
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
      const changes = new Map<string, string[]>();
      for (const { eventDate } of partitions.filter((p) => p.table === table)) {
        const files = partitionFiles(lake, table, eventDate);
        if (files.length < 2) continue;
        const tmp = join(tmpDir(lake), `${randomUUID()}.parquet`);
        const rows = await copyPartition(db.connection, sqlString, table, files, tmp);
        changes.set(eventDate, [tmp]);
        done.push({ table, event_date: eventDate, files: files.length, rows });
      }
      if (changes.size > 0) replacePartitions(lake, table, changes);
    }
  } finally {
    db.close();
  }
  return done;
}

/** Bytes of a merged row group when a partition's rows are too wide to sort (`copyPartition`). */
const WIDE_ROW_GROUP_BYTES = 8 * 1024 ** 2;
/** Rows of this many bytes on average (values of tens of KB) are merged unsorted without trying a sort. */
const WIDE_ROW_BYTES = 16 * 1024;

/**
 * Writes a partition's files as one, in the lake's row order; returns its rows. DuckDB sorts
 * values of tens of KB in one allocation the size of them all, so a day of such records did not
 * fit a 160MB pool (BENCHMARKS.md "Wide records"): those are written unsorted instead (each
 * package's rows were sorted in their own file), in row groups of about 8 MB sized from the
 * files' metadata, which stream.
 */
async function copyPartition(
  connection: DuckDBConnection,
  quote: (text: string) => string,
  table: string,
  files: readonly string[],
  target: string,
): Promise<number> {
  const list = `[${files.map(quote).join(', ')}]`;
  // Not hive-partitioned (the date is the folder's, not a column); by name, so a file
  // written before a column was added still merges (the column is null there).
  const read = `read_parquet(${list}, hive_partitioning = false, union_by_name = true)`;
  const copy = async (query: string, options = '') => {
    const result = await connection.runAndReadAll(
      `COPY (${query}) TO ${quote(target)} (FORMAT parquet, COMPRESSION zstd${options})`,
    );
    return Number(result.getRows()[0]![0]);
  };
  const size = await connection.runAndReadAll(
    `SELECT sum(total_uncompressed_size) / (SELECT sum(row_group_num_rows) FROM
       (SELECT DISTINCT file_name, row_group_id, row_group_num_rows FROM parquet_metadata(${list})))
     FROM parquet_metadata(${list})`,
  );
  const rowBytes = Math.max(1, Number(size.getRows()[0]![0]));
  // Rows this wide are not even tried: the sort spills them slowly before it fails.
  if (rowBytes < WIDE_ROW_BYTES) {
    try {
      return await copy(`SELECT * FROM ${read} ORDER BY ${lakeOrder(table)}`);
    } catch (error) {
      if (!isOutOfMemory(error)) throw error;
    }
  }
  // One reader: each holds a whole column chunk of a package's file (up to staging.package_bytes).
  const threads = Number((await connection.runAndReadAll("SELECT current_setting('threads')")).getRows()[0]![0]);
  await connection.run('SET threads = 1');
  try {
    return await copy(
      `SELECT * FROM ${read}`,
      `, ROW_GROUP_SIZE ${Math.max(1, Math.floor(WIDE_ROW_GROUP_BYTES / rowBytes))}`,
    );
  } finally {
    await connection.run(`SET threads = ${threads}`);
  }
}
