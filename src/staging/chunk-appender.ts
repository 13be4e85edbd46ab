import { DuckDBDataChunk, type DuckDBAppender, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';

/** DuckDB's vector size: one data chunk holds at most this many rows. */
const CHUNK_ROWS = 2048;

/**
 * Buffers rows column by column and hands DuckDB whole data chunks: measured
 * here, appending value by value cost most of the extract time, a chunk at a
 * time a fraction of it (see BENCHMARKS.md).
 */
export class ChunkAppender {
  private columns: DuckDBValue[][];
  private rows = 0;
  /** The table's own column types, so they are declared once (in its DDL). */
  private readonly types: DuckDBType[];

  constructor(private readonly appender: DuckDBAppender) {
    this.types = Array.from({ length: appender.columnCount }, (_, i) => appender.columnType(i));
    this.columns = this.types.map(() => []);
  }

  push(row: readonly DuckDBValue[]): void {
    for (let i = 0; i < row.length; i++) this.columns[i]!.push(row[i]!);
    if (++this.rows === CHUNK_ROWS) this.flush();
  }

  private flush(): void {
    if (this.rows === 0) return;
    const chunk = DuckDBDataChunk.create(this.types, this.rows);
    chunk.setColumns(this.columns);
    this.appender.appendDataChunk(chunk);
    this.columns = this.types.map(() => []);
    this.rows = 0;
  }

  close(): void {
    this.flush();
    this.appender.closeSync();
  }
}
