import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { openDuckDB, sqlString } from '../warehouse/duckdb/duckdb-driver.js';
import { jsonRows, type JsonValue, type SqlParams } from '../warehouse/driver.js';
import { duckdbJsonValue } from '../warehouse/duckdb/duckdb-json.js';
import type { Dialect } from '../warehouse/dialect.js';
import { connectSqlWarehouse, duckdbSettings, duckdbWarehouse } from '../pipeline/open-warehouse.js';
import { queryFile, SQL_DIR } from './query-file.js';

const LAKE_VIEWS = `${SQL_DIR}duckdb/lake_views.sql`;
/** The lake is read by an embedded DuckDB whatever the warehouse engine; it spills past this. */
const LAKE_MEMORY = '256MB';

export interface QueryResult {
  /** The shipped query's name, or the file as given. */
  query: string;
  engine: Dialect['name'];
  lake: boolean;
  rows: Record<string, JsonValue>[];
}

/**
 * `aetl query <name | file.sql> [--param k=v]... [--lake]`: runs an analyst
 * query on the configured warehouse, whatever its engine (a shipped query by
 * name in that engine's dialect), or on the Parquet lake through the lake
 * views. Parameters are checked and typed before anything is opened, and
 * bound, never spliced.
 */
export async function runQuery(
  config: Config,
  query: string,
  given: Record<string, string>,
  lake: boolean,
): Promise<QueryResult> {
  const warehouse = config.warehouse;
  const engine = lake ? 'duckdb' : warehouse.kind;
  const { label, sql, params } = queryFile(query, engine, given);
  let rows: Record<string, JsonValue>[];
  if (lake || warehouse.kind === 'duckdb') {
    rows = await duckdbQuery(config, sql, params, lake);
  } else {
    const remote = await connectSqlWarehouse(config, warehouse);
    try {
      rows = await remote.analystQuery(sql, params);
    } finally {
      await remote.close();
    }
  }
  return { query: label, engine, lake, rows };
}

/**
 * The DuckDB file opened read-only, or (`lake`) an in-memory DuckDB over the Parquet lake, which
 * every engine writes; values bound as text, which DuckDB's files cast.
 */
async function duckdbQuery(
  config: Config,
  sql: string,
  params: SqlParams,
  lake: boolean,
): Promise<Record<string, JsonValue>[]> {
  const db = lake
    ? await openDuckDB(':memory:', {
        memoryLimit: LAKE_MEMORY,
        tempDirectory: join(config.staging.path, '.duckdb-spill'),
      })
    : await openDuckDB(...duckdbFile(config));
  try {
    if (lake) {
      // A function replacement, so a `$` in the path stays literal.
      const prefix = sqlString(`${config.lake.path}/`).slice(0, -1);
      await db.connection.run(readFileSync(LAKE_VIEWS, 'utf8').replaceAll("'data/lake/", () => prefix));
    }
    const values = Object.fromEntries(Object.entries(params).map(([k, p]) => [k, String(p.value)]));
    const reader = await db.connection.runAndReadAll(sql, values);
    return jsonRows(reader.getRowObjects(), duckdbJsonValue);
  } finally {
    db.close();
  }
}

function duckdbFile(config: Config): Parameters<typeof openDuckDB> {
  const warehouse = duckdbWarehouse(config, 'query');
  return [warehouse.path, duckdbSettings(config, warehouse, true)];
}
