import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { query } from './duckdb.js';

/**
 * What "the same warehouse and lake" means (DESIGN.md decision 17): facts,
 * dimensions, the checkpoint, rejects and the lake's content, ignoring the
 * run id, the package of the run and load time (a load cut into other
 * packages, or resumed by another run, numbers them differently). `{s}` is
 * the warehouse's schema prefix (engines.ts).
 */
const LOAD = 'run_id, loaded_at, package_seq';
const WAREHOUSE_TABLES: Record<string, string> = {
  fact_ai_event: `SELECT * EXCLUDE (${LOAD}) FROM {s}fact_ai_event`,
  fact_policy_evaluation: `SELECT * EXCLUDE (${LOAD}) FROM {s}fact_policy_evaluation`,
  dim_user: 'SELECT * FROM {s}dim_user',
  dim_gateway: 'SELECT * FROM {s}dim_gateway',
  dim_model: 'SELECT * FROM {s}dim_model',
  dim_policy: 'SELECT * FROM {s}dim_policy',
  dim_date: 'SELECT * FROM {s}dim_date',
  etl_state: 'SELECT pipeline, checkpoint FROM {s}etl_state',
  etl_rejected_event: 'SELECT * EXCLUDE (run_id, rejected_at) FROM {s}etl_rejected_event',
  etl_conflict: 'SELECT * EXCLUDE (run_id, detected_at) FROM {s}etl_conflict',
  etl_file_ledger: 'SELECT * EXCLUDE (run_id, loaded_at) FROM {s}etl_file_ledger',
  etl_lake_pending: 'SELECT * EXCLUDE (run_id, package_seq) FROM {s}etl_lake_pending',
};

/** DuckDB SQL over a warehouse of any engine, `{s}` standing for its schema prefix (EngineUnderTest.rows). */
export type WarehouseRows = (sql: string) => Promise<Record<string, unknown>[]>;

function plain(rows: Record<string, unknown>[]): string[] {
  return rows.map((row) => JSON.stringify(row, (_, v) => (typeof v === 'bigint' ? v.toString() : v)));
}

/**
 * The warehouse of a DuckDB file, or of any engine through `rows`.
 * `ignoreRejectRefs` drops where and in which window a reject was read:
 * loads that cut the same range differently (a day vs four 6-hour windows)
 * find the same rejects at different places.
 */
export async function warehouseSnapshot(
  warehouse: string | WarehouseRows,
  ignoreRejectRefs = false,
): Promise<Record<string, string[]>> {
  const rows: WarehouseRows =
    typeof warehouse === 'string' ? (sql) => query(warehouse, sql.replaceAll('{s}', '')) : warehouse;
  const snapshot: Record<string, string[]> = {};
  for (const [table, sql] of Object.entries(WAREHOUSE_TABLES)) {
    const select =
      ignoreRejectRefs && table === 'etl_rejected_event'
        ? sql.replace('(run_id,', '(source_ref, read_from, read_to, run_id,')
        : sql;
    snapshot[table] = plain(await rows(`${select} ORDER BY ALL`));
  }
  return snapshot;
}

/** Every lake table read back as rows (partition column included), plus any leftover temp files. */
export async function lakeSnapshot(lake: string): Promise<Record<string, string[]>> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  const snapshot: Record<string, string[]> = {};
  try {
    await connection.run("SET TimeZone = 'UTC'");
    for (const table of readdirSync(lake)
      .filter((name) => !name.startsWith('.'))
      .sort()) {
      const partitioned = table.startsWith('fact_');
      const glob = partitioned ? join(lake, table, '*', '*.parquet') : join(lake, table, '*.parquet');
      const exclude = partitioned ? ` EXCLUDE (${LOAD})` : '';
      const reader = await connection.runAndReadAll(
        `SELECT *${exclude} FROM read_parquet('${glob}', hive_partitioning = ${partitioned}) ORDER BY ALL`,
      );
      snapshot[table] = plain(reader.getRowObjectsJS() as Record<string, unknown>[]);
    }
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
  const tmp = join(lake, '.tmp');
  snapshot['.tmp'] = existsSync(tmp) ? readdirSync(tmp) : [];
  return snapshot;
}
