import { DuckDBInstance } from '@duckdb/node-api';

/** Runs one query against a DuckDB file (opened read-only, closed after) and returns plain JS rows. */
export async function query(file: string, sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
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
