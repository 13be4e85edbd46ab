import type { Dialect } from './dialect.js';
import type { LoadRequest } from './warehouse.js';
import type { StagingTables } from './sql/sql-load.js';
import { isoInstant } from '../util/dates.js';

/**
 * What an engine supplies to the one warehouse logic (sql/): its dialect, a
 * way to run SQL with typed parameters, how a package's Parquet files are
 * staged and how statements are grouped into transactions. Everything else
 * is written once; each engine maps the types to its client's own.
 */
export type SqlType = 'text' | 'int' | 'float' | 'bool' | 'timestamp' | 'date' | 'numeric';

/** A bound value with its type, always explicit (never guessed from the JS value). */
export interface SqlParam {
  type: SqlType;
  /** Timestamps as ISO text, dates as `YYYY-MM-DD`, numerics as exact decimal text, 64-bit ints as bigint. */
  value: string | number | bigint | boolean | null;
}

/** Many rows as one bound value, each field typed (BigQuery's `ARRAY<STRUCT<...>>`; see sql/sql-rows.ts). */
export interface SqlRows {
  type: 'rows';
  fields: Record<string, SqlType>;
  value: Record<string, SqlParam['value']>[];
}

export type SqlParams = Record<string, SqlParam | SqlRows>;
export type SqlRow = Record<string, unknown>;

/**
 * A result value as `--json` prints it (DESIGN.md decision 24): integers as
 * numbers (as text beyond 2^53), exact decimals as text, instants as ISO-8601
 * UTC, dates as `YYYY-MM-DD`.
 */
export type JsonValue = string | number | boolean | null;

/**
 * One page of a streamed result: its column names (so an empty result still names them)
 * and at most the page size of rows, values as `--json` prints them.
 */
export interface JsonPage {
  columns: string[];
  rows: Record<string, JsonValue>[];
}

export interface SqlEngine {
  readonly dialect: Dialect;
  /** Runs one statement; rows come back with lower-case column names. */
  run(purpose: string, sql: string, params?: SqlParams): Promise<SqlRow[]>;
}

/**
 * The run lock's fencing check (state/lease-lock.ts): an UPDATE of this run's lease row that
 * must change exactly one row inside the same transaction as the statements it guards, or
 * nothing of them commits. A run whose lease was taken over therefore cannot write.
 */
export interface Fence {
  sql: string;
  params: SqlParams;
  /** The error to throw when the row was not ours any more; it reads the new holder through `engine`. */
  lost(engine: SqlEngine): Promise<Error>;
}

/** One engine: `<engine>/<engine>-driver.ts` implements this and nothing of the warehouse logic. */
export interface Driver extends SqlEngine {
  readonly description: string;
  /** Creates or upgrades our tables (sql/migrations.ts, plus what the engine needs around them); returns how many ran. */
  migrate(): Promise<number>;
  /** Runs one migration file's statements, then `record` (its version row); all or nothing where DDL allows. */
  applyMigration(file: string, sql: string, record: { sql: string; params: SqlParams }): Promise<void>;
  /** Whether one of our tables exists (read-only callers must not create it). */
  tableExists(table: string): Promise<boolean>;
  /** Puts the package's Parquet files into its staging tables. */
  stage(request: LoadRequest, staging: StagingTables): Promise<void>;
  /** Runs `work` (merge, rejects, checks, commit) as one transaction where the engine can. */
  transaction<T>(work: () => Promise<T>): Promise<T>;
  /**
   * Runs DML statements all or nothing (BigQuery: one script transaction; the others: inside
   * `transaction`), after `fence` when given, in the same transaction.
   */
  runTogether(purpose: string, statements: string[], params: SqlParams, fence?: Fence): Promise<void>;
  /** Removes what one package staged; must not throw (a failure here must not hide the load's own error). */
  dropStaging(request: LoadRequest, staging: StagingTables): Promise<void>;
  /** Removes staging leftovers of this pipeline's killed runs (we hold the run lock: no live run owns one). */
  dropLeftovers(pipeline: string): Promise<void>;
  /**
   * Writes a query's rows to a local Parquet file (zstd), with the column types
   * of our DuckDB schema whatever the engine: the lake and retention archives.
   * `table` names the star table the rows come from (their lake schema).
   */
  exportParquet(purpose: string, sql: string, params: SqlParams, table: string, file: string): Promise<void>;
  /**
   * Runs a read-only query (`aetl query`) and reads its result page by page (`pageRows` rows,
   * at least one page, the first maybe empty), values as `--json` prints them, exactly (the
   * client's types differ per engine). Stopping early stops reading the result.
   */
  streamJson(purpose: string, sql: string, params: SqlParams, pageRows: number): AsyncIterable<JsonPage>;
  close(): Promise<void>;
  /**
   * After an erasure, once closed (still under the run lock): rewrites storage that keeps
   * deleted values readable. Only DuckDB needs it; the others manage their own storage.
   */
  reclaimErasedSpace?(): Promise<void>;
  /** DuckDB: lets go of the file if other processes wait to read it; the next statement takes it back. */
  letReadersIn?(): Promise<void>;
}

export const text = (value: string | null): SqlParam => ({ type: 'text', value });
export const int = (value: number | bigint | null): SqlParam => ({ type: 'int', value });
export const float = (value: number | null): SqlParam => ({ type: 'float', value });
export const bool = (value: boolean): SqlParam => ({ type: 'bool', value });
export const instant = (ms: number | null): SqlParam => ({
  type: 'timestamp',
  value: isoInstant(ms),
});
export const day = (isoDay: string): SqlParam => ({ type: 'date', value: isoDay });
export const numeric = (exact: string | null): SqlParam => ({ type: 'numeric', value: exact });

/** Check SQL binds plain values: numbers as int or float, the rest as text. */
export function typedParams(params: Record<string, string | number | null>): SqlParams {
  return Object.fromEntries(
    Object.entries(params).map(([name, value]) => [
      name,
      typeof value === 'number' ? (Number.isInteger(value) ? int(value) : float(value)) : text(value),
    ]),
  );
}

/**
 * A 64-bit integer from a result row, exactly: clients return them as bigint,
 * as wrapped objects whose `value` is exact text (BigQuery), or as text.
 */
export function int64(value: unknown): bigint {
  if (typeof value === 'object' && value !== null && 'value' in value) return BigInt(String(value.value));
  return BigInt(value as string | number | bigint);
}

/**
 * A result row with plain JS numbers: clients return bigints (DuckDB, Snowflake)
 * or wrapped integers (BigQuery), which JSON output cannot hold.
 */
export function plainNumbers(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(row).map(([k, v]) => [
      k,
      typeof v === 'bigint' || (typeof v === 'object' && v !== null && !(v instanceof Date)) ? Number(v) : v,
    ]),
  );
}

/**
 * `plainNumbers`, with the instants read as `<name>_ms` (epoch milliseconds: exact on every
 * engine, where a timestamp cast to text is not) as ISO-8601 UTC text under `<name>`.
 */
export function withInstants(row: Record<string, unknown>, instants: string[]): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(plainNumbers(row)).map(([k, v]) =>
      instants.includes(k) ? [k.slice(0, -3), isoInstant(v === null ? null : Number(v))] : [k, v],
    ),
  );
}

/** Only the rows of each page (what the lake writer takes). */
export async function* rowsOf<R>(pages: AsyncIterable<{ rows: R[] }>): AsyncGenerator<R[]> {
  for await (const page of pages) yield page.rows;
}

/** Rows with every value converted by `json` (each engine's own conversion of its client's values). */
export function jsonRows<V>(rows: Record<string, V>[], json: (value: V) => JsonValue): Record<string, JsonValue>[] {
  return rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, json(v)])));
}

/** A whole number as the JSON contract has it: a number, or exact text where a double would round it. */
export function jsonInteger(value: bigint): JsonValue {
  return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
}

/** Exact decimal text without trailing fractional zeros, so each engine's scale prints alike (`1.50` and `1.500000` are `1.5`). */
export function exactDecimal(text: string): string {
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}

/** An instant given in microseconds since the epoch, as ISO-8601 UTC (microseconds shown only when there are any). */
export function isoMicros(micros: bigint): string {
  const ms = micros / 1000n - (micros % 1000n < 0n ? 1n : 0n);
  const iso = new Date(Number(ms)).toISOString();
  const sub = micros - ms * 1000n;
  return sub === 0n ? iso : `${iso.slice(0, -1)}${String(sub).padStart(3, '0')}Z`;
}
