import type { DuckDBAppender, DuckDBType, DuckDBValue } from '@duckdb/node-api';
import { DuckDBDataChunk } from '../warehouse/duckdb/duckdb-api.js';

/** DuckDB's vector size: one data chunk holds at most this many rows. */
const CHUNK_ROWS = 2048;
/** Text per chunk at most: 2048 rows of large payloads would otherwise be hundreds of MB at once. */
const CHUNK_CHARS = 1024 ** 2;

/**
 * Buffers rows column by column and hands DuckDB whole data chunks: measured
 * here, appending value by value cost most of the extract time, a chunk at a
 * time a fraction of it (see BENCHMARKS.md).
 */
export class ChunkAppender {
  /** Reused from chunk to chunk (the chunk copies them): arrays grown afresh per chunk were a tenth of what extraction allocated. */
  private readonly columns: DuckDBValue[][];
  private rows = 0;
  private chars = 0;
  /** The table's own column types, so they are declared once (in its DDL). */
  private readonly types: DuckDBType[];

  constructor(private readonly appender: DuckDBAppender) {
    this.types = Array.from({ length: appender.columnCount }, (_, i) => appender.columnType(i));
    this.columns = this.types.map(() => new Array<DuckDBValue>(CHUNK_ROWS).fill(null));
  }

  /** Buffers one row; returns the characters of text it holds. */
  push(row: readonly DuckDBValue[]): number {
    let chars = 0;
    for (let i = 0; i < row.length; i++) {
      const value = row[i]!;
      if (typeof value === 'string') chars += value.length;
      this.columns[i]![this.rows] = value;
    }
    this.chars += chars;
    if (++this.rows === CHUNK_ROWS || this.chars >= CHUNK_CHARS) this.flush();
    return chars;
  }

  private flush(): void {
    if (this.rows === 0) return;
    const chunk = DuckDBDataChunk.create(this.types, this.rows);
    chunk.setColumns(this.rows === CHUNK_ROWS ? this.columns : this.columns.map((c) => c.slice(0, this.rows)));
    this.appender.appendDataChunk(chunk);
    this.rows = 0;
    this.chars = 0;
  }

  close(): void {
    this.flush();
    this.appender.closeSync();
  }
}
