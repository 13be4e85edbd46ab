import type { CheckDialect } from '../../checks/dialect.js';

/**
 * What the SQL-speaking remote warehouses (BigQuery, Snowflake) share: a
 * dialect to write SQL with and one way to run it with typed parameters.
 * The state, dimension and load code in this folder is written once against
 * it; each engine maps the types to its client's own.
 */
export type SqlType = 'text' | 'int' | 'float' | 'bool' | 'timestamp' | 'date' | 'numeric';

/** A bound value with its type, always explicit (never guessed from the JS value). */
export interface SqlParam {
  type: SqlType;
  /** Timestamps as ISO text, dates as `YYYY-MM-DD`, numerics as exact decimal text, 64-bit ints as bigint. */
  value: string | number | bigint | boolean | null;
}

export type SqlParams = Record<string, SqlParam>;
export type SqlRow = Record<string, unknown>;

export interface SqlEngine {
  readonly dialect: CheckDialect;
  /** Runs one statement; rows come back with lower-case column names. */
  run(purpose: string, sql: string, params?: SqlParams): Promise<SqlRow[]>;
}

export const text = (value: string | null): SqlParam => ({ type: 'text', value });
export const int = (value: number | bigint | null): SqlParam => ({ type: 'int', value });
export const float = (value: number | null): SqlParam => ({ type: 'float', value });
export const bool = (value: boolean): SqlParam => ({ type: 'bool', value });
export const instant = (ms: number | null): SqlParam => ({
  type: 'timestamp',
  value: ms === null ? null : new Date(ms).toISOString(),
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
