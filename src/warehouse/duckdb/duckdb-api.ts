import { createRequire } from 'node:module';
import type * as DuckDB from '@duckdb/node-api';

/** Where DuckDB's jemalloc reads its options, once, when the library loads. */
const ALLOCATOR_OPTIONS = 'DUCKDB_JE_MALLOC_CONF';

/**
 * DuckDB allocates with a jemalloc of its own, which keeps the pages a statement frees for reuse
 * (a 1 s decay, and longer while nothing allocates in that arena): during a load they held 100-250 MB
 * of a run's RSS beyond memory_limit (BENCHMARKS.md "Allocator retention"). Freed pages go back
 * within 200 ms instead: at 0 ms RSS falls further but every run costs 7-14 % more CPU (the
 * quickstart 11 % more wall time), 200 ms costs none measurable. Set only around `require`; options
 * the user gave come later and win.
 */
function loadWithAllocatorOptions<T>(load: () => T): T {
  const own = process.env[ALLOCATOR_OPTIONS];
  const release = 'dirty_decay_ms:200,muzzy_decay_ms:0';
  process.env[ALLOCATOR_OPTIONS] = own ? `${release},${own}` : release;
  try {
    return load();
  } finally {
    if (own === undefined) delete process.env[ALLOCATOR_OPTIONS];
    else process.env[ALLOCATOR_OPTIONS] = own;
  }
}

/**
 * `@duckdb/node-api`, loaded with `require`. Imported as an ES module, Node's
 * CommonJS export lexer first parses every file the package re-exports: 0.23 s
 * of CPU in every process that opens DuckDB (0.50 s against 0.27 s to load it).
 */
const duckdb = loadWithAllocatorOptions(() => createRequire(import.meta.url)('@duckdb/node-api') as typeof DuckDB);

export const DuckDBInstance = duckdb.DuckDBInstance;
export type DuckDBInstance = DuckDB.DuckDBInstance;
export const DuckDBDataChunk = duckdb.DuckDBDataChunk;
export const DuckDBDecimalValue = duckdb.DuckDBDecimalValue;
export const DuckDBTimestampTZValue = duckdb.DuckDBTimestampTZValue;
export const DuckDBTimestampValue = duckdb.DuckDBTimestampValue;
