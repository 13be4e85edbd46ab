import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CanonicalEvent, RecordLocation, RejectReason } from '../contract/event.js';
import { dateKeyOf } from '../util/dates.js';
import { openDuckDB, sqlString, type OpenDuckDB } from '../warehouse/duckdb/duckdb-connection.js';
import { ChunkAppender } from './chunk-appender.js';
import { STAGING_TABLES, type StagingFiles, type StagingTable } from './package.js';

/** How one of several writers staging into the same package keeps its parts and rows apart. */
export interface StagingParts {
  partPrefix: string;
  firstRow: number;
}

const SOLE_WRITER: StagingParts = { partPrefix: '', firstRow: 0 };

/** Rows buffered in memory before they are written out as one Parquet part. */
const ROWS_PER_PART = 100_000;

/**
 * Writes a window's validated events, their policy evaluations and its
 * rejects as snappy Parquet parts (every warehouse reads snappy). Rows are
 * buffered in an in-memory DuckDB and written out every ROWS_PER_PART rows,
 * so memory does not grow with the window.
 */
export class StagingWriter {
  private appenders!: Record<StagingTable, ChunkAppender>;
  private pending = 0;
  private part = 0;
  private nextRow: number;
  readonly files: StagingFiles = { events: [], policies: [], rejects: [] };

  private constructor(
    private readonly db: OpenDuckDB,
    private readonly dir: string,
    private readonly parts: StagingParts,
  ) {
    this.nextRow = parts.firstRow;
  }

  static async create(dir: string, memoryLimit: string, parts: StagingParts = SOLE_WRITER): Promise<StagingWriter> {
    mkdirSync(dir, { recursive: true });
    const db = await openDuckDB(':memory:', { memoryLimit, tempDirectory: join(dir, '.spill') });
    for (const table of Object.values(STAGING_TABLES)) await db.connection.run(table.ddl);
    const writer = new StagingWriter(db, dir, parts);
    await writer.openAppenders();
    return writer;
  }

  private async openAppenders(): Promise<void> {
    const c = this.db.connection;
    const open = async (table: StagingTable) => new ChunkAppender(await c.createAppender(table));
    this.appenders = { events: await open('events'), policies: await open('policies'), rejects: await open('rejects') };
  }

  async addEvent(event: CanonicalEvent, hash: string): Promise<void> {
    const row = BigInt(this.nextRow++);
    this.appenders.events.push([
      row,
      event.event_id,
      hash,
      BigInt(event.event_ts_us),
      dateKeyOf(event.event_ts_us),
      event.user_id,
      event.gateway_id,
      event.model,
      event.provider,
      event.decision,
      event.latency_ms,
      BigInt(event.input_tokens),
      BigInt(event.output_tokens),
      event.cost_micros,
      event.policies.length,
      event.policies.filter((p) => p.triggered).length,
      event.team_id,
      event.batch_id,
      event.request_source,
      JSON.stringify(event.metadata),
    ]);
    event.policies.forEach((policy, ordinal) => {
      this.appenders.policies.push([
        row,
        ordinal,
        policy.name,
        policy.result,
        policy.latency_ms,
        policy.entities_found,
        policy.triggered,
      ]);
    });
    await this.rowAdded();
  }

  async addReject(
    location: RecordLocation,
    payloadHash: string,
    payload: string,
    reasons: RejectReason[],
    eventId: string | null,
    eventTsUs: number | null,
  ): Promise<void> {
    this.appenders.rejects.push([
      location.source,
      location.ref,
      payloadHash,
      payload,
      JSON.stringify(reasons),
      eventId,
      eventTsUs === null ? null : BigInt(eventTsUs),
    ]);
    await this.rowAdded();
  }

  private async rowAdded(): Promise<void> {
    if (++this.pending >= ROWS_PER_PART) await this.flush();
  }

  /** Writes what is buffered as one Parquet part per table and empties the buffer. */
  private async flush(): Promise<void> {
    for (const appender of Object.values(this.appenders)) appender.close();
    this.part++;
    const c = this.db.connection;
    for (const table of Object.keys(STAGING_TABLES) as StagingTable[]) {
      const count = await c.runAndReadAll(`SELECT count(*) FROM ${table}`);
      if (Number(count.getRows()[0]![0]) === 0) continue;
      const name = `${table}-${this.parts.partPrefix}${String(this.part).padStart(5, '0')}.parquet`;
      const select = STAGING_TABLES[table].exported;
      await c.run(`COPY (${select}) TO ${sqlString(join(this.dir, name))} (FORMAT parquet, COMPRESSION snappy)`);
      this.files[table].push(name);
    }
    // Emptied only once all are written: the policies' export reads the events.
    for (const table of Object.keys(STAGING_TABLES)) await c.run(`DELETE FROM ${table}`);
    this.pending = 0;
    await this.openAppenders();
  }

  /** Flushes the rest and closes the buffer; returns the Parquet files written, per table. */
  async finish(): Promise<StagingFiles> {
    await this.flush();
    for (const appender of Object.values(this.appenders)) appender.close();
    this.db.close();
    return this.files;
  }

  abort(): void {
    try {
      this.db.close();
    } catch {
      // already closed: nothing to release
    }
  }
}
