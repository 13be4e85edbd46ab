import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { DuckDBDecimalValue, DuckDBTimestampTZValue, DuckDBTimestampValue } from './duckdb-api.js';
import { RunFailedError } from '../../util/errors.js';
import { exactDecimal, isoMicros, jsonInteger, type JsonPage, type JsonValue } from '../driver.js';

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

/**
 * A query's result streamed (DuckDB produces it chunk by chunk as it is read, never whole),
 * regrouped into pages of `pageRows` rows; at least one page, so an empty result names its columns.
 */
export async function* duckdbJsonPages(
  connection: DuckDBConnection,
  sql: string,
  values: Record<string, DuckDBValue>,
  pageRows: number,
): AsyncGenerator<JsonPage> {
  const result = await connection.stream(sql, values);
  const streaming = result.isStreaming;
  const columns = result.columnNames();
  let rows: JsonPage['rows'] = [];
  let read = 0;
  for await (const chunk of result.yieldRowObjects()) {
    for (const row of chunk) {
      rows.push(Object.fromEntries(Object.entries(row).map(([k, v]) => [k, duckdbJsonValue(v)])));
      if (rows.length === pageRows) {
        yield { columns, rows };
        rows = [];
      }
    }
    read += chunk.length;
  }
  // A stream that fails partway ends as one that is done (the client drops DuckDB's error);
  // only its no longer being a stream tells them apart (measured with @duckdb/node-api 1.5).
  if (streaming && !result.isStreaming) throw await streamFailure(connection, sql, values, read);
  if (rows.length > 0 || read === 0) yield { columns, rows };
}

/** The error a failed stream dropped: the query is run again, not streamed, for its message. */
async function streamFailure(
  connection: DuckDBConnection,
  sql: string,
  values: Record<string, DuckDBValue>,
  read: number,
): Promise<Error> {
  const after = `the query failed after ${read.toLocaleString('en-US')} rows`;
  try {
    await connection.run(sql, values);
  } catch (error) {
    return new RunFailedError(`${after}: ${(error as Error).message}`);
  }
  return new RunFailedError(`${after}, and succeeded when run again: DuckDB did not say why`);
}
