import { DuckDBDecimalValue, DuckDBTimestampTZValue, DuckDBTimestampValue, type DuckDBValue } from '@duckdb/node-api';
import { exactDecimal, isoMicros, jsonInteger, type JsonValue } from '../driver.js';

/**
 * One DuckDB value (as `getRowObjects` gives it, not the lossy JS form) as the
 * JSON contract has it: integers exact, decimals as exact text, instants to the
 * microsecond; dates print as YYYY-MM-DD, lists, structs and the rest as DuckDB
 * writes them.
 */
export function duckdbJsonValue(value: DuckDBValue): JsonValue {
  if (typeof value === 'bigint') return jsonInteger(value);
  if (value instanceof DuckDBDecimalValue) return exactDecimal(value.toString());
  if (value instanceof DuckDBTimestampTZValue || value instanceof DuckDBTimestampValue) return isoMicros(value.micros);
  return value !== null && typeof value === 'object' ? value.toString() : value;
}
