import type { DuckDBConnection } from '@duckdb/node-api';
import { checkedTable } from './dialect.js';
import type { JsonValue, SqlRow } from './driver.js';
import type { DuckDBSettings, OpenDuckDB } from './duckdb/duckdb-driver.js';
import { migrationFiles, migrationText } from './sql/migrations.js';

/**
 * A client's value in the JSON contract's exact form (each remote driver's jsonValue):
 * integers beyond 2^53 and decimals as exact text, instants as ISO text to the
 * microsecond. Its text casts exactly into the lake column's type (the
 * appender casts VARCHAR to the column type); null is NULL.
 */
export type ExactValue = (value: unknown) => JsonValue;

/** Rows per page a driver reads a result in and hands the writer: one page at a time is held in JS. */
export const EXPORT_PAGE_ROWS = 5_000;

/**
 * Writes the lake's Parquet for the engines that are not DuckDB: rows paged
 * out of the warehouse are appended to an in-memory DuckDB whose tables are
 * made by sql/duckdb/migrations, the DuckDB warehouse's own DDL, so the
 * files carry exactly its column names and types (DECIMAL(18,6), TIMESTAMPTZ,
 * JSON) whatever the engine, and cannot drift from it. DuckDB then writes the
 * file (zstd) as it writes the DuckDB warehouse's lake. One writer serves a
 * driver's exports one at a time; its table holds one partition at a time,
 * spilling to `tempDirectory` beyond `memoryLimit`.
 */
export class LakeParquetWriter {
  private db: Promise<OpenDuckDB> | undefined;

  constructor(private readonly settings: DuckDBSettings) {}

  /** Opened (and DuckDB loaded) on the first export: most commands of a remote engine write no lake file. */
  private async connection(): Promise<DuckDBConnection> {
    this.db ??= openLakeSchema(this.settings);
    return (await this.db).connection;
  }

  private async columnsOf(connection: DuckDBConnection, table: string): Promise<string[]> {
    const reader = await connection.runAndReadAll(
      `SELECT column_name FROM duckdb_columns() WHERE schema_name = 'main' AND table_name = $table ORDER BY column_index`,
      { table },
    );
    const columns = reader.getRows().map(([name]) => String(name));
    if (columns.length === 0) throw new Error(`no lake table ${table}`);
    return columns;
  }

  /**
   * Appends every page of rows (column names in lower case; extra columns are
   * ignored, a missing one is an error) in the order given, then writes them to
   * `file`. Only one page is held in JS at a time; the appender casts each text
   * to its column's type.
   */
  async write(table: string, file: string, pages: AsyncIterable<SqlRow[]>, exact: ExactValue): Promise<void> {
    const name = checkedTable(table);
    const connection = await this.connection();
    const { sqlString } = await import('./duckdb/duckdb-driver.js');
    const columns = await this.columnsOf(connection, name);
    // Empty before (the migrations seed the unknown members) and after (memory) each export.
    await connection.run(`TRUNCATE ${name}`);
    try {
      const appender = await connection.createAppender(name);
      try {
        for await (const page of pages) {
          const missing = page.length > 0 ? columns.find((column) => !(column in page[0]!)) : undefined;
          if (missing !== undefined) throw new Error(`the warehouse returned no ${missing} column for ${name}`);
          for (const row of page) {
            for (const column of columns) {
              const value = exact(row[column]);
              if (value === null) appender.appendNull();
              else appender.appendVarchar(String(value));
            }
            appender.endRow();
          }
        }
        appender.closeSync();
      } catch (error) {
        try {
          appender.closeSync();
        } catch {
          // the rows are truncated below; the first error is the one to report
        }
        throw error;
      }
      await connection.run(`COPY (SELECT * FROM ${name}) TO ${sqlString(file)} (FORMAT parquet, COMPRESSION zstd)`);
    } finally {
      await connection.run(`TRUNCATE ${name}`);
    }
  }

  async close(): Promise<void> {
    const db = await this.db?.catch(() => undefined);
    db?.close();
  }
}

/** An in-memory DuckDB holding our DuckDB schema, applied from the migration files. */
async function openLakeSchema(settings: DuckDBSettings): Promise<OpenDuckDB> {
  const { openDuckDB } = await import('./duckdb/duckdb-driver.js');
  const db = await openDuckDB(':memory:', { ...settings, preserveInsertionOrder: true });
  try {
    for (const file of migrationFiles('duckdb')) {
      const statements = await db.connection.extractStatements(migrationText('duckdb', file));
      for (let i = 0; i < statements.count; i++) await (await statements.prepare(i)).run();
    }
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}
