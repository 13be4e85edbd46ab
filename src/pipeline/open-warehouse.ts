import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { DuckDBWarehouse } from '../warehouse/duckdb/duckdb-warehouse.js';
import type { Warehouse } from '../warehouse/warehouse.js';
import type { DuckDBSettings } from '../warehouse/duckdb/duckdb-connection.js';

/** The DuckDB settings a config asks for (memory limit, spill folder, threads). */
export function duckdbSettings(config: Config, readOnly = false): DuckDBSettings {
  return {
    memoryLimit: config.warehouse.memory_limit,
    tempDirectory: join(config.staging.path, '.duckdb-spill'),
    threads: config.warehouse.threads,
    readOnly,
  };
}

/** Opens the configured warehouse and applies pending migrations (every command does this first). */
export async function openWarehouse(config: Config, logger: Logger): Promise<Warehouse> {
  const warehouse = await DuckDBWarehouse.open(config.warehouse.path, duckdbSettings(config), logger);
  try {
    const applied = await warehouse.migrate();
    if (applied > 0) logger.info({ applied }, 'warehouse migrations applied');
  } catch (error) {
    await warehouse.close();
    throw error;
  }
  return warehouse;
}
