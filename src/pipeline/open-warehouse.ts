import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { DuckDBWarehouse } from '../warehouse/duckdb/duckdb-warehouse.js';
import type { Warehouse } from '../warehouse/warehouse.js';

/** Opens the configured warehouse and applies pending migrations (every command does this first). */
export async function openWarehouse(config: Config, logger: Logger): Promise<Warehouse> {
  const warehouse = await DuckDBWarehouse.open(config.warehouse.path, {
    memoryLimit: config.warehouse.memory_limit,
    tempDirectory: join(config.staging.path, '.duckdb-spill'),
    threads: config.warehouse.threads,
  });
  try {
    const applied = await warehouse.migrate();
    if (applied > 0) logger.info({ applied }, 'warehouse migrations applied');
  } catch (error) {
    await warehouse.close();
    throw error;
  }
  return warehouse;
}
