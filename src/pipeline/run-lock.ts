import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { LeaseLock } from '../state/lease-lock.js';
import { RunLock, type HeldLock } from '../state/lock.js';
import { connectDriver } from './open-warehouse.js';

/** The DuckDB run lock: a file beside the database file. */
export function lockPath(warehouse: { path: string }): string {
  return `${warehouse.path}.lock`;
}

/**
 * Takes the run lock the config's warehouse has (DESIGN.md decision 18): the
 * file beside the DuckDB file, or on BigQuery and Snowflake a lease row in the
 * warehouse, held on a connection of its own, so runs on other hosts see it.
 * Waits up to `waitMs` for a live holder, then throws LockHeldError.
 */
export async function acquireRunLock(
  config: Config,
  logger: Logger,
  runId: string,
  command: string,
  waitMs: number,
): Promise<HeldLock> {
  const w = config.warehouse;
  if (w.kind === 'duckdb') return RunLock.acquire(lockPath(w), runId, command, waitMs);
  const driver = await connectDriver(w);
  try {
    return await LeaseLock.acquire(driver, {
      pipeline: config.pipeline.name,
      runId,
      command,
      waitMs,
      leaseMs: config.lock.lease,
      logger,
    });
  } catch (error) {
    await driver.close();
    throw error;
  }
}
