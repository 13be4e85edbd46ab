import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fault } from '../util/failpoint.js';
import { openDuckDB, sqlString, type OpenDuckDB } from '../warehouse/duckdb/duckdb-driver.js';
import { ChunkAppender } from './chunk-appender.js';
import { STAGING_TABLES, type StagingFiles, type StagingTable } from './package.js';
import type { ValidatedBatch } from './validate-batch.js';

/** Rows buffered in memory before they are written out as one Parquet part. */
const ROWS_PER_PART = 100_000;
/** A writer holds one part at a time; operators past this spill to its package's .spill folder. */
const STAGING_MEMORY_LIMIT = '64MB';
/** Text buffered before a part is written out: an in-memory table cannot spill, so large payloads must not fill the pool. */
const CHARS_PER_PART = 4 * 1024 ** 2;

/**
 * Writes a window's validated events, their policy evaluations and its
 * rejects as snappy Parquet parts (every warehouse reads snappy). Rows are
 * buffered in an in-memory DuckDB and written out every ROWS_PER_PART rows,
 * so memory does not grow with the window.
 */
export class StagingWriter {
  private appenders!: Record<StagingTable, ChunkAppender>;
  private pending = 0;
  private pendingChars = 0;
  /** Text appended to this package so far: the package closes at `staging.package_bytes` of it. */
  stagedChars = 0;
  private part = 0;
  private nextRow = 0;
  /**
   * The part being written out: DuckDB writes it on its own thread while the main thread
   * validates the next batch, whose rows wait for it (the part's tables are re-created after).
   */
  private writing: Promise<void> = Promise.resolve();
  readonly files: StagingFiles = { events: [], policies: [], rejects: [] };

  private constructor(
    private readonly db: OpenDuckDB,
    private readonly dir: string,
  ) {}

  static async create(dir: string): Promise<StagingWriter> {
    mkdirSync(dir, { recursive: true });
    // An instance of its own, even on DuckDB: sharing the warehouse's pool, a 1M-event run at memory_limit
    // 128MB failed when the load of one package pinned the blocks the next one's appends needed. One
    // thread: writing a part is a small share of extraction, and the warehouse may be loading meanwhile.
    const db = await openDuckDB(':memory:', {
      memoryLimit: STAGING_MEMORY_LIMIT,
      tempDirectory: join(dir, '.spill'),
      threads: 1,
      preserveInsertionOrder: false, // rows are numbered (staged_row); lets ROW_GROUP_SIZE_BYTES bound a part's row groups
    });
    for (const table of Object.values(STAGING_TABLES)) await db.connection.run(table.ddl);
    const writer = new StagingWriter(db, dir);
    await writer.openAppenders();
    return writer;
  }

  private async openAppenders(): Promise<void> {
    const c = this.db.connection;
    const open = async (table: StagingTable) => new ChunkAppender(await c.createAppender(table));
    this.appenders = { events: await open('events'), policies: await open('policies'), rejects: await open('rejects') };
  }

  /** Appends a validated batch, numbering its events (staged_row) and pointing its policy rows at them. */
  async append(batch: ValidatedBatch): Promise<void> {
    await this.writing;
    const first = this.nextRow;
    const charsBefore = this.pendingChars;
    this.nextRow += batch.events.length;
    batch.events.forEach((row, i) => {
      row[0] = BigInt(first + i);
      this.pendingChars += this.appenders.events.push(row);
    });
    for (const row of batch.policies) {
      row[0] = BigInt(first + Number(row[0]));
      this.pendingChars += this.appenders.policies.push(row);
    }
    for (const row of batch.rejects) this.pendingChars += this.appenders.rejects.push(row);
    this.stagedChars += this.pendingChars - charsBefore;
    this.pending += batch.events.length + batch.rejects.length;
    if (this.pending >= ROWS_PER_PART || this.pendingChars >= CHARS_PER_PART) {
      this.writing = this.flush();
      // A failed write is thrown by the next append or by finish; it is not left unhandled meanwhile.
      this.writing.catch(() => undefined);
    }
  }

  /** Writes what is buffered as one Parquet part per table and empties the buffer. */
  private async flush(): Promise<void> {
    for (const appender of Object.values(this.appenders)) appender.close();
    this.part++;
    const c = this.db.connection;
    for (const table of Object.keys(STAGING_TABLES) as StagingTable[]) {
      const count = await c.runAndReadAll(`SELECT count(*) FROM ${table}`);
      if (Number(count.getRows()[0]![0]) === 0) continue;
      const name = `${table}-${String(this.part).padStart(5, '0')}.parquet`;
      const path = join(this.dir, name);
      const select = STAGING_TABLES[table].exported;
      try {
        // A part written partway (the disk filled up after the events' part) fails the package.
        if (table === 'policies' && fault('staging:part-write'))
          throw new Error('No space left on device (AETL_FAULT)');
        await c.run(
          `COPY (${select}) TO ${sqlString(path)} (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE_BYTES '4MB')`,
        );
      } catch (error) {
        throw new Error(`writing the staging part ${path}: ${error instanceof Error ? error.message : String(error)}`, {
          cause: error,
        });
      }
      this.files[table].push(name);
    }
    // Emptied only once all are written (the policies' export reads the events); dropped and
    // re-created rather than deleted from, so an in-memory database gives the memory back.
    for (const [table, { ddl }] of Object.entries(STAGING_TABLES)) {
      await c.run(`DROP TABLE ${table}`);
      await c.run(ddl);
    }
    this.pending = 0;
    this.pendingChars = 0;
    await this.openAppenders();
  }

  /** Flushes the rest and closes the buffer; returns the Parquet files written, per table. */
  async finish(): Promise<StagingFiles> {
    await this.writing;
    await this.flush();
    for (const appender of Object.values(this.appenders)) appender.close();
    this.db.close();
    return this.files;
  }

  /** Closes the buffer once a part being written is out (closing under a running COPY is not safe). */
  async abort(): Promise<void> {
    await this.writing.catch(() => undefined);
    try {
      this.db.close();
    } catch {
      // already closed: nothing to release
    }
  }
}
