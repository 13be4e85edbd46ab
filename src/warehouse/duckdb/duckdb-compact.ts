import { chmodSync, rmSync, statSync } from 'node:fs';
import { renameDurably } from '../../util/durable-write.js';
import { openDuckDB, sqlString, SqlRunner, type DuckDBSettings } from './duckdb-driver.js';

/**
 * Rewrites a DuckDB file with only its live data. A DELETE (and the checkpoint
 * after it) leaves the old values in free blocks of the file, readable by
 * anyone with the file; a copy into a fresh database holds none of them. The
 * copy is built beside the file and renamed over it, so a crash leaves the old
 * file whole. The caller holds the run lock and has closed every connection.
 */
export async function compactDuckDBFile(path: string, settings: DuckDBSettings): Promise<void> {
  const fresh = `${path}.compact`;
  // Leftovers of a crashed compaction.
  for (const file of [fresh, `${fresh}.wal`]) rmSync(file, { force: true });
  const db = await openDuckDB(path, settings);
  try {
    const runner = new SqlRunner(db.connection);
    const [row] = await runner.rows('SELECT current_database() AS name');
    const source = `"${String(row!.name).replaceAll('"', '""')}"`;
    await runner.exec(`ATTACH ${sqlString(fresh)} AS compacted`);
    await runner.exec(`COPY FROM DATABASE ${source} TO compacted`);
    await runner.exec('DETACH compacted'); // checkpoints the copy: no WAL of its own is left
  } finally {
    db.close();
  }
  // A WAL of the old file must never be replayed onto the new one (a clean close leaves none).
  rmSync(`${path}.wal`, { force: true });
  chmodSync(fresh, statSync(path).mode); // whoever could not read the old file cannot read the new one
  renameDurably(fresh, path);
}
