import { DAY_MS } from '../util/dates.js';
import type { RejectReason } from './event.js';

/**
 * DESIGN.md decision 21: every number the contract accepts fits its column on
 * every engine, so no record can fail a load. Each range is the narrowest of
 * the column's types in sql/duckdb/migrations, sql/bigquery/migrations/001_initial_schema.sql and
 * sql/snowflake/migrations/001_initial_schema.sql (INTEGER is INT32 in DuckDB; BIGINT/INT64 is int64).
 * A 64-bit count is also held to 2^53 − 1: beyond it a JS number is no longer
 * exact. The zod schemas and the fast path both read this one table.
 */
export interface ColumnRange {
  /** The narrowest column type, as a reason names it. */
  type: string;
  min: number;
  max: number;
  integer: boolean;
}

const INT32: ColumnRange = { type: 'INTEGER', min: 0, max: 2 ** 31 - 1, integer: true };
const INT64: ColumnRange = { type: 'BIGINT', min: 0, max: Number.MAX_SAFE_INTEGER, integer: true };
const DOUBLE: ColumnRange = { type: 'DOUBLE', min: 0, max: Number.MAX_VALUE, integer: false };

export const COLUMN_RANGES = {
  input_tokens: INT64,
  output_tokens: INT64,
  /** Derived: input_tokens + output_tokens. */
  total_tokens: INT64,
  latency_ms: DOUBLE,
  entities_found: INT32,
  /** Derived from arrays of at most MAX_POLICIES entries each. */
  policies_evaluated_count: INT32,
  policies_triggered_count: INT32,
} as const satisfies Record<string, ColumnRange>;

const INTEGER_TEXT = /^-?\d+$/;
const NUMBER_TEXT = /^-?\d+(\.\d+)?$/;

/** Numbers may arrive as text (CSV exports): such text as a number, anything else as it is. */
export function numberFromText(value: unknown, range: ColumnRange): unknown {
  return typeof value === 'string' && (range.integer ? INTEGER_TEXT : NUMBER_TEXT).test(value.trim())
    ? Number(value)
    : value;
}

/** Why a number does not fit its column, or undefined when it does. */
export function rangeProblem(range: ColumnRange, value: number): string | undefined {
  const fits =
    Number.isFinite(value) && (!range.integer || Number.isInteger(value)) && value >= range.min && value <= range.max;
  if (fits) return undefined;
  const kind = range.integer ? 'an integer' : 'a finite number';
  return `expected ${kind} in ${range.min}..${range.max} (${range.type} column), got ${value}`;
}

/** DECIMAL(18,6) on DuckDB and Snowflake (BigQuery's NUMERIC is wider): 12 integer digits, 6 fractional. */
export const MAX_COST_MICROS = 10n ** 18n - 1n;
export const COST_RANGE_TEXT =
  'a non-negative decimal in 0..999999999999.999999 (DECIMAL(18,6) column; more than 6 decimals are rounded half-up)';

/** `contract.plausible_range`, resolved against the run's clock: instants in [fromMs, toMs) are accepted. */
export interface PlausibleRange {
  fromMs: number;
  toMs: number;
}

/** `contract.plausible_range`'s default: from 2000-01-01 to a day after now (a gateway's clock may run ahead). */
export const DEFAULT_PLAUSIBLE_FROM_MS = Date.UTC(2000, 0, 1);
export const DEFAULT_PLAUSIBLE_AHEAD_MS = DAY_MS;

export function defaultPlausibleRange(nowMs: number): PlausibleRange {
  return { fromMs: DEFAULT_PLAUSIBLE_FROM_MS, toMs: nowMs + DEFAULT_PLAUSIBLE_AHEAD_MS };
}

/** The reason an event time is outside the plausible range, or null. */
export function implausibleInstant(eventTsUs: number, range: PlausibleRange): RejectReason | null {
  const ms = eventTsUs / 1000;
  if (ms >= range.fromMs && ms < range.toMs) return null;
  const at = (t: number) => new Date(t).toISOString();
  return {
    path: 'timestamp',
    message: `${at(Math.floor(ms))} is outside contract.plausible_range [${at(range.fromMs)}, ${at(range.toMs)})`,
  };
}
