import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../log/logger.js';
import { RunFailedError } from '../util/errors.js';
import type { Driver, Fence, SqlEngine } from '../warehouse/driver.js';
import {
  acquireParams,
  LEASE_TABLE,
  leaseParams,
  leaseSql,
  readLease,
  type LeaseHolder,
  type LeaseRow,
  type LeaseSql,
} from '../warehouse/sql/sql-lease.js';
import { describeOwner, LockHeldError, processAlive, type HeldLock, type LockOwner } from './lock.js';

/**
 * The run lock on BigQuery and Snowflake (DESIGN.md decision 18): a lease row
 * in the warehouse itself, so it holds across hosts, with a fencing token that
 * every commit checks (sql/sql-lease.ts holds the SQL). It is held on a
 * connection of its own, so heartbeats never join the load's transaction.
 * Expiry is judged by the warehouse's clock, so hosts need not agree on time;
 * the fence keeps even a holder that slept through its lease from committing.
 */
export class LeaseLostError extends RunFailedError {}

/** Renewals per lease: a holder has to miss five in a row before its lease runs out. */
const BEATS_PER_LEASE = 6;
/** A waiting run looks again at least this often. */
const MAX_POLL_MS = 5_000;

export interface LeaseRequest {
  pipeline: string;
  runId: string;
  command: string;
  /** How long to wait for a live holder before giving up (LockHeldError). */
  waitMs: number;
  leaseMs: number;
  logger: Logger;
}

/** A lease's holder as the file lock's messages name one. */
export function leaseOwner(row: LeaseRow): LockOwner {
  return {
    token: String(row.token),
    pid: row.pid,
    host: row.host,
    runId: row.runId,
    command: row.command,
    acquiredAt: new Date(row.acquiredMs).toISOString(),
  };
}

/**
 * A live lease whose holder is a process of this host that no longer runs (a crash, kill -9): taken
 * over at once, as the lock file's is, so a re-run right after a crash does not wait out the lease.
 */
export function heldByDeadProcess(row: LeaseRow): boolean {
  return row.remainingMs > 0 && row.host === hostname() && !processAlive(row.pid);
}

/** Where the lock is, as messages say. */
export function leaseLocation(engine: { description: string }, pipeline: string): string {
  return `etl_lock of pipeline ${pipeline} in ${engine.description}`;
}

/** The pipeline's lease row as found (`aetl doctor`), without taking it; undefined when there is none yet. */
export async function inspectLease(driver: Driver, pipeline: string): Promise<LeaseRow | undefined> {
  if (!(await driver.tableExists(LEASE_TABLE))) return undefined;
  return readLease(driver, leaseSql(driver.dialect), pipeline);
}

export class LeaseLock implements HeldLock {
  lost = false;
  readonly fence: Fence;
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;

  private constructor(
    private readonly driver: Driver,
    private readonly sql: LeaseSql,
    private readonly lease: LeaseHolder,
    private readonly logger: Logger,
  ) {
    this.fence = { sql: sql.renew, params: leaseParams(lease), lost: (engine) => this.lostTo(engine) };
  }

  /** Takes the lease on `driver` (which it then owns), waiting up to `waitMs` for a live holder. */
  static async acquire(driver: Driver, request: LeaseRequest): Promise<LeaseLock> {
    // A new warehouse, or one from before migration 003, gets its lock table first (migrations are re-runnable).
    if (!(await driver.tableExists(LEASE_TABLE))) await driver.migrate();
    const sql = leaseSql(driver.dialect);
    const { pipeline, runId, leaseMs } = request;
    const asker = { host: hostname(), pid: process.pid, command: request.command };
    const deadline = Date.now() + request.waitMs;
    for (;;) {
      // Read first: a waiting run polls with reads, and writes (a DML job on BigQuery) only to take a free lease.
      let row = await readLease(driver, sql, pipeline);
      const dead = row && heldByDeadProcess(row) ? row.token : null;
      if (!row || row.remainingMs <= 0 || dead !== null) {
        const params = acquireParams({ pipeline, runId, leaseMs }, asker, dead);
        await driver.run('taking the run lock lease', sql.acquire, params);
        row = await readLease(driver, sql, pipeline);
      }
      if (row?.runId === runId) {
        return new LeaseLock(driver, sql, { pipeline, runId, leaseMs, token: row.token }, request.logger).beat();
      }
      if (Date.now() >= deadline) throw new LockHeldError(leaseLocation(driver, pipeline), row && leaseOwner(row));
      await sleep(Math.min(leaseMs / BEATS_PER_LEASE, MAX_POLL_MS, Math.max(50, deadline - Date.now())));
    }
  }

  private beat(): this {
    this.timer = setInterval(() => {
      this.beating ??= this.renew().finally(() => (this.beating = undefined));
    }, this.lease.leaseMs / BEATS_PER_LEASE);
    this.timer.unref();
    return this;
  }

  /** Extends the lease while it is ours; finding another holder marks it lost (the next load stops, the fence refuses). */
  private async renew(): Promise<void> {
    try {
      await this.driver.run('renewing the run lock lease', this.sql.renew, this.fence.params);
      const row = await readLease(this.driver, this.sql, this.lease.pipeline);
      if (row?.runId === this.lease.runId && row.token === this.lease.token) return;
      this.lost = true;
      clearInterval(this.timer);
      this.logger.error(
        { holder: row ? describeOwner(leaseOwner(row)) : null },
        'the run lock lease was taken over by another run; this run stops before its next load',
      );
    } catch (error) {
      // A passing fault: the lease lasts several beats, and the fence guards the commits meanwhile.
      this.logger.warn({ err: (error as Error).message }, 'the run lock lease was not renewed; trying again');
    }
  }

  /** The fence's error, naming the new holder as `engine` (inside the refused transaction) reads it. */
  private async lostTo(engine: SqlEngine): Promise<Error> {
    this.lost = true;
    const { pipeline, token } = this.lease;
    const row = await readLease(engine, this.sql, pipeline).catch(() => undefined);
    const now = row
      ? `was taken over by ${describeOwner(leaseOwner(row))} (token ${row.token}; this run had ${token})`
      : 'row is gone';
    return new LeaseLostError(
      `the run lock lease of pipeline ${pipeline} ${now}: this run's lease ran out before it could commit, ` +
        'so nothing of this transaction was committed; the new holder redoes what is missing',
    );
  }

  async release(): Promise<void> {
    clearInterval(this.timer);
    await this.beating;
    try {
      if (!this.lost) await this.driver.run('releasing the run lock lease', this.sql.release, this.fence.params);
    } catch (error) {
      this.logger.warn(
        { err: (error as Error).message },
        `the run lock lease was not released; it runs out on its own within ${this.lease.leaseMs / 1000} s`,
      );
    } finally {
      await this.driver.close();
    }
  }
}
