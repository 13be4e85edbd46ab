import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { UsageError } from '../util/errors.js';
import { BigQueryWarehouse } from '../warehouse/bigquery/bigquery-warehouse.js';
import { DuckDBWarehouse } from '../warehouse/duckdb/duckdb-warehouse.js';
import type { Warehouse } from '../warehouse/warehouse.js';
import type { DuckDBSettings } from '../warehouse/duckdb/duckdb-connection.js';

type DuckDBConfig = Extract<Config['warehouse'], { kind: 'duckdb' }>;

/** The DuckDB warehouse settings, for the commands that only work on DuckDB (e.g. `aetl query`). */
export function duckdbWarehouse(config: Config, command: string): DuckDBConfig {
  if (config.warehouse.kind !== 'duckdb') {
    throw new UsageError(`aetl ${command} works on the DuckDB warehouse; this config uses ${config.warehouse.kind}`);
  }
  return config.warehouse;
}

/** The DuckDB settings a config asks for (memory limit, spill folder, threads). */
export function duckdbSettings(config: Config, warehouse: DuckDBConfig, readOnly = false): DuckDBSettings {
  return {
    memoryLimit: warehouse.memory_limit,
    tempDirectory: join(config.staging.path, '.duckdb-spill'),
    threads: warehouse.threads,
    readOnly,
  };
}

/** Opens the configured warehouse and applies pending migrations (every command does this first). */
export async function openWarehouse(config: Config, logger: Logger): Promise<Warehouse> {
  const w = config.warehouse;
  const warehouse =
    w.kind === 'duckdb'
      ? await DuckDBWarehouse.open(w.path, duckdbSettings(config, w), logger)
      : BigQueryWarehouse.open({
          project: w.project,
          dataset: w.dataset,
          location: w.location,
          apiEndpoint: w.api_endpoint,
          accessToken: w.access_token,
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
