import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { openDuckDB, sqlString } from '../warehouse/duckdb/duckdb-driver.js';
import type { JsonPage, SqlParams } from '../warehouse/driver.js';
import { duckdbJsonPages } from '../warehouse/duckdb/duckdb-json.js';
import type { Dialect } from '../warehouse/dialect.js';
import {
  connectSqlWarehouse,
  duckdbWarehouse,
  openDuckDBReader,
  type RemoteConfig,
} from '../pipeline/open-warehouse.js';
import { queryFile, SQL_DIR } from './query-file.js';

const LAKE_VIEWS = `${SQL_DIR}duckdb/lake_views.sql`;
/** The lake is read by an embedded DuckDB whatever the warehouse engine; it spills past this. */
const LAKE_MEMORY = '256MB';
/** Rows per page a result is read in: one page at a time is held, whatever the result's size. */
export const QUERY_PAGE_ROWS = 5_000;

export interface QueryStream {
  /** The shipped query's name, or the file as given. */
  query: string;
  engine: Dialect['name'];
  lake: boolean;
  /**
   * The result page by page: the warehouse is opened on the first read and closed
   * after the last page, or as soon as the reader stops (a closed pipe, a row limit).
   */
  pages: AsyncIterable<JsonPage>;
}

/**
 * `aetl query <name | file.sql> [--param k=v]... [--lake]`: runs an analyst
 * query on the configured warehouse, whatever its engine (a shipped query by
 * name in that engine's dialect), or on the Parquet lake through the lake
 * views. Parameters are checked and typed here, before anything is opened,
 * and bound, never spliced.
 */
export function runQuery(config: Config, query: string, given: Record<string, string>, lake: boolean): QueryStream {
  const warehouse = config.warehouse;
  const engine = lake ? 'duckdb' : warehouse.kind;
  const { label, sql, params } = queryFile(query, engine, given);
  const pages =
    lake || warehouse.kind === 'duckdb'
      ? duckdbPages(config, sql, params, lake)
      : remotePages(config, warehouse, sql, params);
  return { query: label, engine, lake, pages };
}

async function* remotePages(
  config: Config,
  warehouse: RemoteConfig,
  sql: string,
  params: SqlParams,
): AsyncGenerator<JsonPage> {
  const remote = await connectSqlWarehouse(config, warehouse);
  try {
    yield* remote.analystQuery(sql, params, QUERY_PAGE_ROWS);
  } finally {
    await remote.close();
  }
}

/**
 * The DuckDB file opened read-only (waiting while a run commits to it), or (`lake`) an in-memory
 * DuckDB over the Parquet lake, which every engine writes; values bound as text, which DuckDB casts.
 */
async function* duckdbPages(config: Config, sql: string, params: SqlParams, lake: boolean): AsyncGenerator<JsonPage> {
  const values = Object.fromEntries(Object.entries(params).map(([k, p]) => [k, String(p.value)]));
  if (!lake) {
    const driver = await openDuckDBReader(config, duckdbWarehouse(config, 'query'));
    try {
      yield* driver.streamValues(sql, values, QUERY_PAGE_ROWS);
    } finally {
      await driver.close();
    }
    return;
  }
  const db = await openDuckDB(':memory:', {
    memoryLimit: LAKE_MEMORY,
    tempDirectory: join(config.staging.path, '.duckdb-spill'),
  });
  try {
    // A function replacement, so a `$` in the path stays literal.
    const prefix = sqlString(`${config.lake.path}/`).slice(0, -1);
    await db.connection.run(readFileSync(LAKE_VIEWS, 'utf8').replaceAll("'data/lake/", () => prefix));
    yield* duckdbJsonPages(db.connection, sql, values, QUERY_PAGE_ROWS);
  } finally {
    db.close();
  }
}
