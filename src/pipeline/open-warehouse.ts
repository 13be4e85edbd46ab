import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import type { LakeSettings } from '../lake/publish.js';
import type { Logger } from '../log/logger.js';
import { UsageError } from '../util/errors.js';
import type { SnowflakeAuth } from '../warehouse/snowflake/snowflake-driver.js';
import type { Warehouse } from '../warehouse/warehouse.js';
import { SqlWarehouse } from '../warehouse/sql/sql-warehouse.js';
import type { DuckDBDriver, DuckDBSettings } from '../warehouse/duckdb/duckdb-driver.js';
import type { FileWait } from '../warehouse/duckdb/duckdb-file.js';
import { pendingMigrations } from '../warehouse/sql/migrations.js';
import type { Driver, Fence } from '../warehouse/driver.js';

type DuckDBConfig = Extract<Config['warehouse'], { kind: 'duckdb' }>;

/** The DuckDB warehouse settings, for the commands that only work on DuckDB (e.g. `aetl query`). */
export function duckdbWarehouse(config: Config, command: string): DuckDBConfig {
  if (config.warehouse.kind !== 'duckdb') {
    throw new UsageError(`aetl ${command} works on the DuckDB warehouse; this config uses ${config.warehouse.kind}`);
  }
  return config.warehouse;
}

/**
 * The in-memory DuckDB a remote engine writes its lake Parquet through: it
 * holds one partition at a time, so a small memory limit (measured: 128MB
 * and 256MB give the same peak), spilling beside the staging packages.
 */
export function scratchSettings(config: Config): DuckDBSettings {
  return { memoryLimit: '128MB', tempDirectory: join(config.staging.path, '.duckdb-spill') };
}

/** Where the lake is and how it is published and compacted (lake/publish.ts). */
export function lakeSettings(config: Config): LakeSettings {
  return {
    path: config.lake.path,
    compactAfterFiles: config.lake.compact_after_files,
    scratch: scratchSettings(config),
  };
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

/**
 * A command that only reads waits for a run to commit the package it loads (seconds at most,
 * and the file is free while the run extracts), saying so; a command that writes waits longer,
 * for readers such as a long `aetl query`.
 */
const READER_WAIT: FileWait = {
  maxMs: 30_000,
  onWait: (path, holder, maxMs) =>
    process.stderr.write(
      `aetl: a run${holder} is loading into ${path}; waiting for it to commit (up to ${maxMs / 1000} s)\n`,
    ),
};

function writerWait(logger: Logger): FileWait {
  return {
    maxMs: 600_000,
    onWait: (path, holder, maxMs) =>
      logger.warn({ file: path, waitSeconds: maxMs / 1000 }, `another process${holder} has the file open; waiting`),
  };
}

/** The DuckDB file opened read-only, waiting (bounded) while a run writes to it. */
export async function openDuckDBReader(
  config: Config,
  warehouse: DuckDBConfig,
  logger?: Logger,
): Promise<DuckDBDriver> {
  const { DuckDBDriver } = await import('../warehouse/duckdb/duckdb-driver.js');
  return DuckDBDriver.open(warehouse.path, duckdbSettings(config, warehouse, true), logger, READER_WAIT);
}

type SnowflakeConfig = Extract<Config['warehouse'], { kind: 'snowflake' }>;

/** The one way of signing in the config names (its schema requires exactly one). */
function snowflakeAuth(w: SnowflakeConfig): SnowflakeAuth {
  if (w.password) return { password: w.password };
  if (w.private_key) return { privateKey: w.private_key, passphrase: w.private_key_passphrase };
  return { privateKeyPath: w.private_key_path!, passphrase: w.private_key_passphrase };
}

export type RemoteConfig = Exclude<Config['warehouse'], { kind: 'duckdb' }>;

/**
 * A connection to BigQuery or Snowflake: the warehouse's, or the run lock's own (pipeline/run-lock.ts).
 * `scratch`: the in-memory DuckDB its lake exports write Parquet through (scratchSettings).
 */
export async function connectDriver(w: RemoteConfig, scratch: DuckDBSettings): Promise<Driver> {
  switch (w.kind) {
    // Cloud clients are loaded only when configured: they are large, and the Snowflake driver's AWS SDK
    // warns about future Node versions at import (our lockfile pins it: the warning is not the user's to act on).
    case 'bigquery': {
      const { BigQueryDriver } = await import('../warehouse/bigquery/bigquery-driver.js');
      return BigQueryDriver.open(
        {
          project: w.project,
          dataset: w.dataset,
          location: w.location,
          apiEndpoint: w.api_endpoint,
          accessToken: w.access_token,
        },
        scratch,
      );
    }
    case 'snowflake': {
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
      const { SnowflakeDriver } = await import('../warehouse/snowflake/snowflake-driver.js');
      return SnowflakeDriver.open(
        {
          account: w.account,
          user: w.user,
          auth: snowflakeAuth(w),
          database: w.database,
          schema: w.schema,
          role: w.role,
          warehouse: w.warehouse,
          accessUrl: w.access_url,
        },
        { stage: w.stage, clusterByDate: w.cluster_by_date, scratch },
      );
    }
  }
}

/** BigQuery or Snowflake: the one SQL warehouse over the engine's driver, not migrated. */
export async function connectSqlWarehouse(config: Config, w: RemoteConfig): Promise<Warehouse> {
  return new SqlWarehouse(await connectDriver(w, scratchSettings(config)));
}

/**
 * Connects to the configured warehouse without migrating it (`aetl doctor` only looks). `fence`:
 * the run lock's check that the warehouse's commits run (a lease on BigQuery and Snowflake).
 */
export async function connectWarehouse(config: Config, logger: Logger, fence?: Fence): Promise<Warehouse> {
  const w = config.warehouse;
  if (w.kind === 'duckdb') {
    // Loaded when a warehouse is opened, like the cloud clients: its native module is large.
    const { DuckDBDriver } = await import('../warehouse/duckdb/duckdb-driver.js');
    return new SqlWarehouse(await DuckDBDriver.open(w.path, duckdbSettings(config, w), logger, writerWait(logger)));
  }
  return new SqlWarehouse(await connectDriver(w, scratchSettings(config)), fence);
}

/**
 * Opens the warehouse for commands that must change nothing (`run --dry-run`):
 * no migration; DuckDB read-only, or null when its file does not exist yet.
 */
export async function openWarehouseToRead(config: Config, logger: Logger): Promise<Warehouse | null> {
  const w = config.warehouse;
  if (w.kind !== 'duckdb') return connectWarehouse(config, logger);
  if (!existsSync(w.path)) return null;
  return new SqlWarehouse(await openDuckDBReader(config, w, logger));
}

/**
 * Opens the warehouse for the commands that only read (`status`, `runs show`, `rejects list`,
 * `report`, `state show`): DuckDB read-only, so they work while a run holds the run lock. A
 * file not created yet, or with migrations pending, is opened as every command opens it.
 */
export async function openWarehouseForReading(config: Config, logger: Logger): Promise<Warehouse> {
  const w = config.warehouse;
  if (w.kind === 'duckdb' && existsSync(w.path)) {
    const driver = await openDuckDBReader(config, w, logger);
    if ((await pendingMigrations(driver)).length === 0) return new SqlWarehouse(driver);
    await driver.close();
  }
  return openWarehouse(config, logger);
}

/** Opens the configured warehouse and applies pending migrations (every command does this first, under the run lock). */
export async function openWarehouse(config: Config, logger: Logger, fence?: Fence): Promise<Warehouse> {
  const warehouse = await connectWarehouse(config, logger, fence);
  try {
    const applied = await warehouse.migrate();
    if (applied > 0) logger.info({ applied }, 'warehouse migrations applied');
  } catch (error) {
    await warehouse.close();
    throw error;
  }
  return warehouse;
}
