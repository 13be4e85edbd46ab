import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBDecimalValue, DuckDBTimestampTZValue, type DuckDBAppender } from '@duckdb/node-api';
import type { CanonicalEvent, RecordLocation, RejectReason } from '../contract/event.js';
import { openDuckDB, sqlString, type OpenDuckDB } from '../warehouse/duckdb/duckdb-connection.js';
import { dateKeyOf } from '../util/dates.js';
import { STAGING_TABLES, type StagingFiles, type StagingTable } from './package.js';

/** Rows buffered in memory before they are written out as one Parquet part. */
const ROWS_PER_PART = 100_000;

function appendText(appender: DuckDBAppender, value: string | null): void {
  if (value === null) appender.appendNull();
  else appender.appendVarchar(value);
}

function appendNumber(appender: DuckDBAppender, value: number | null): void {
  if (value === null) appender.appendNull();
  else appender.appendDouble(value);
}

/**
 * Writes a window's validated events, their policy evaluations and its
 * rejects as snappy Parquet parts (every warehouse reads snappy). Rows are
 * buffered in an in-memory DuckDB and flushed every ROWS_PER_PART rows, so
 * memory does not grow with the window.
 */
export class StagingWriter {
  private appenders!: Record<StagingTable, DuckDBAppender>;
  private pending = 0;
  private part = 0;
  readonly files: StagingFiles = { events: [], policies: [], rejects: [] };

  private constructor(
    private readonly db: OpenDuckDB,
    private readonly dir: string,
  ) {}

  static async create(dir: string, memoryLimit: string): Promise<StagingWriter> {
    mkdirSync(dir, { recursive: true });
    const db = await openDuckDB(':memory:', { memoryLimit, tempDirectory: join(dir, '.spill') });
    for (const [, ddl] of Object.entries(STAGING_TABLES)) await db.connection.run(ddl);
    const writer = new StagingWriter(db, dir);
    await writer.openAppenders();
    return writer;
  }

  private async openAppenders(): Promise<void> {
    const c = this.db.connection;
    this.appenders = {
      events: await c.createAppender('events'),
      policies: await c.createAppender('policies'),
      rejects: await c.createAppender('rejects'),
    };
  }

  async addEvent(event: CanonicalEvent, hash: string, location: RecordLocation): Promise<void> {
    const a = this.appenders.events;
    a.appendVarchar(event.event_id);
    a.appendVarchar(hash);
    a.appendTimestampTZ(new DuckDBTimestampTZValue(BigInt(event.event_ts_us)));
    a.appendInteger(dateKeyOf(event.event_ts_us));
    appendText(a, event.user_id);
    appendText(a, event.gateway_id);
    appendText(a, event.model);
    appendText(a, event.provider);
    a.appendVarchar(event.decision);
    appendNumber(a, event.latency_ms);
    a.appendBigInt(BigInt(event.input_tokens));
    a.appendBigInt(BigInt(event.output_tokens));
    a.appendDecimal(new DuckDBDecimalValue(event.cost_micros, 18, 6));
    a.appendInteger(event.policies.length);
    a.appendInteger(event.policies.filter((p) => p.triggered).length);
    appendText(a, event.team_id);
    appendText(a, event.batch_id);
    appendText(a, event.request_source);
    a.appendVarchar(JSON.stringify(event.metadata));
    a.appendVarchar(location.source);
    a.appendVarchar(location.ref);
    a.endRow();
    const p = this.appenders.policies;
    event.policies.forEach((policy, ordinal) => {
      p.appendVarchar(event.event_id);
      p.appendVarchar(hash);
      p.appendInteger(ordinal);
      p.appendVarchar(policy.name);
      p.appendVarchar(policy.result);
      appendNumber(p, policy.latency_ms);
      if (policy.entities_found === null) p.appendNull();
      else p.appendInteger(policy.entities_found);
      p.appendBoolean(policy.triggered);
      p.endRow();
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
    const a = this.appenders.rejects;
    a.appendVarchar(location.source);
    a.appendVarchar(location.ref);
    a.appendVarchar(payloadHash);
    a.appendVarchar(payload);
    a.appendVarchar(JSON.stringify(reasons));
    appendText(a, eventId);
    if (eventTsUs === null) a.appendNull();
    else a.appendTimestampTZ(new DuckDBTimestampTZValue(BigInt(eventTsUs)));
    a.endRow();
    await this.rowAdded();
  }

  private async rowAdded(): Promise<void> {
    if (++this.pending >= ROWS_PER_PART) await this.flush();
  }

  /** Writes what is buffered as one Parquet part per table and empties the buffer. */
  private async flush(): Promise<void> {
    for (const appender of Object.values(this.appenders)) appender.closeSync();
    this.part++;
    const c = this.db.connection;
    for (const table of Object.keys(STAGING_TABLES) as StagingTable[]) {
      const count = await c.runAndReadAll(`SELECT count(*) FROM ${table}`);
      if (Number(count.getRows()[0]![0]) === 0) continue;
      const name = `${table}-${String(this.part).padStart(5, '0')}.parquet`;
      await c.run(`COPY ${table} TO ${sqlString(join(this.dir, name))} (FORMAT parquet, COMPRESSION snappy)`);
      await c.run(`DELETE FROM ${table}`);
      this.files[table].push(name);
    }
    this.pending = 0;
    await this.openAppenders();
  }

  /** Flushes the rest and closes the buffer; returns the Parquet files written, per table. */
  async finish(): Promise<StagingFiles> {
    await this.flush();
    for (const appender of Object.values(this.appenders)) appender.closeSync();
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
