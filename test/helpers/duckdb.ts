import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { DuckDBSettings } from '../../src/warehouse/duckdb/duckdb-driver.js';

/** The in-memory DuckDB a remote driver writes Parquet through, for tests that open a driver themselves. */
export const SCRATCH: DuckDBSettings = { memoryLimit: '128MB', tempDirectory: join(tmpdir(), 'aetl-test-spill') };

/**
 * Runs one query against a DuckDB file (opened read-only unless `write`, closed after) and returns
 * plain JS rows. No run may hold the file meanwhile.
 */
export async function query(file: string, sql: string, write = false): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(file, write ? {} : { access_mode: 'READ_ONLY' });
  const connection = await instance.connect();
  try {
    await connection.run("SET TimeZone = 'UTC'");
    const reader = await connection.runAndReadAll(sql);
    return reader.getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

export async function scalar(file: string, sql: string): Promise<unknown> {
  const rows = await query(file, sql);
  return Object.values(rows[0] ?? {})[0];
}

/** Runs one SQL text with named `$parameters` against a DuckDB file (read-only), or in memory after `setup`. */
export async function queryWith(
  file: string,
  sql: string,
  params: Record<string, string>,
  setup?: string,
): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(file, file === ':memory:' ? {} : { access_mode: 'READ_ONLY' });
  const connection = await instance.connect();
  try {
    await connection.run("SET TimeZone = 'UTC'");
    if (setup) await connection.run(setup);
    const used = Object.fromEntries(Object.entries(params).filter(([k]) => sql.includes(`$${k}`)));
    const reader = await connection.runAndReadAll(sql, used);
    return reader.getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** Every table's rows as text, so that compressed storage cannot hide a value from a search. */
export async function tablesAsText(file: string): Promise<string> {
  const tables = await query(file, "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'");
  const texts: string[] = [];
  for (const { table_name: table } of tables) {
    const rows = await query(file, `SELECT CAST(t AS VARCHAR) AS row FROM "${String(table)}" t`);
    texts.push(...rows.map((r) => String(r.row)));
  }
  return texts.join('\n');
}

/** Every Parquet file of a lake, read back as text rows. */
export async function lakeAsText(lake: string): Promise<string> {
  const rows = await queryWith(
    ':memory:',
    `SELECT CAST(t AS VARCHAR) AS row FROM read_parquet('${lake.replaceAll("'", "''")}/**/*.parquet', union_by_name = true) t`,
    {},
  );
  return rows.map((r) => String(r.row)).join('\n');
}
