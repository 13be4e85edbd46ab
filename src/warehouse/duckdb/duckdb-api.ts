import { createRequire } from 'node:module';
import type * as DuckDB from '@duckdb/node-api';

/**
 * `@duckdb/node-api`, loaded with `require`. Imported as an ES module, Node's
 * CommonJS export lexer first parses every file the package re-exports: 0.23 s
 * of CPU in every process that opens DuckDB (0.50 s against 0.27 s to load it).
 */
const duckdb = createRequire(import.meta.url)('@duckdb/node-api') as typeof DuckDB;

export const DuckDBInstance = duckdb.DuckDBInstance;
export type DuckDBInstance = DuckDB.DuckDBInstance;
export const DuckDBDataChunk = duckdb.DuckDBDataChunk;
export const DuckDBDecimalValue = duckdb.DuckDBDecimalValue;
export const DuckDBTimestampTZValue = duckdb.DuckDBTimestampTZValue;
export const DuckDBTimestampValue = duckdb.DuckDBTimestampValue;
