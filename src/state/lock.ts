import {
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  renameSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { RunFailedError } from '../util/errors.js';
import type { Fence } from '../warehouse/driver.js';

/**
 * A run lock as its holder sees it, whichever the config chose (pipeline/run-lock.ts): this
 * file for DuckDB, or a lease row in BigQuery and Snowflake (state/lease-lock.ts).
 */
export interface HeldLock {
  /** Set once another run took the lock over: the holder stops before its next load. */
  readonly lost: boolean;
  /**
   * What the warehouse's commits check, so that a holder which lost the lock cannot commit.
   * The file lock has none: DuckDB lets one process at a time open the file for writing.
   */
  readonly fence?: Fence;
  release(): void | Promise<void>;
}

/**
 * The run lock (DESIGN.md decision 18): a file beside the DuckDB file naming
 * its holder (pid, host, run). The holder touches it every 10 s; a lock whose
 * holder is a dead process on this host, or which has not been touched for
 * 60 s, is stale and is taken over. Written by hand because the well-known
 * lock libraries judge staleness by age alone, and a re-run right after a
 * crash must not wait a minute for a lock whose owner is known to be dead.
 */
export interface LockOwner {
  token: string;
  pid: number;
  host: string;
  runId: string;
  command: string;
  acquiredAt: string;
}

export class LockHeldError extends RunFailedError {
  constructor(
    readonly path: string,
    readonly owner: LockOwner | undefined,
  ) {
    super(
      `another run holds the lock ${path}` +
        (owner ? ` (${describeOwner(owner)})` : '') +
        '; wait for it to finish, pass --wait to queue behind it, or --skip-if-locked to exit 0',
    );
  }
}

/** Who holds a lock, as messages name them. */
export function describeOwner(owner: LockOwner): string {
  return `${owner.command} ${owner.runId}, pid ${owner.pid} on ${owner.host}, since ${owner.acquiredAt}`;
}

export const HEARTBEAT_MS = 10_000;
export const STALE_MS = 60_000;
/** After replacing a stale lock, re-read it after this pause to be sure no other process replaced it too. */
const TAKEOVER_SETTLE_MS = 150;

function readOwner(path: string): LockOwner | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
  } catch {
    return undefined; // missing, or half-written by a holder that died mid-write
  }
}

/** Whether a process of this host runs (one we may not signal runs too). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function isStale(path: string, owner: LockOwner | undefined, nowMs: number): boolean {
  if (owner && owner.host === hostname() && !processAlive(owner.pid)) return true;
  try {
    return nowMs - statSync(path).mtimeMs > STALE_MS;
  } catch {
    return true;
  }
}

/** The lock's holder and whether the next run would take it over; undefined when nobody holds it. */
export function inspectLock(path: string, nowMs: number): { owner: LockOwner | undefined; stale: boolean } | undefined {
  if (!existsSync(path)) return undefined;
  const owner = readOwner(path);
  return { owner, stale: isStale(path, owner, nowMs) };
}

/** The private file a process writes its owner record to before linking or renaming it into place. */
function writerFile(path: string, pid: number): string {
  return `${path}.${hostname()}.${pid}.tmp`;
}

/** Removes writer files left by processes on this host that were killed while acquiring. */
function removeDeadWritersFiles(path: string): void {
  const prefix = `${basename(path)}.${hostname()}.`;
  for (const name of readdirSync(dirname(path))) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const pid = Number(name.slice(prefix.length, -'.tmp'.length));
    if (Number.isInteger(pid) && pid !== process.pid && !processAlive(pid)) {
      rmSync(join(dirname(path), name), { force: true });
    }
  }
}

/**
 * Creates the lock file with its full content in one step: the owner is written to a private
 * file first, then hard-linked to the lock path (which fails if the lock exists). A holder killed
 * mid-acquire therefore never leaves an empty lock that nobody can judge stale.
 */
function createComplete(path: string, tmp: string, text: string): boolean {
  writeFileSync(tmp, text);
  try {
    linkSync(tmp, path);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS') return createExclusive(path, text);
    throw error;
  } finally {
    unlinkSync(tmp);
  }
}

/** Where the file system has no hard links: exclusive create, then write (the short gap is the price). */
function createExclusive(path: string, text: string): boolean {
  try {
    writeFileSync(path, text, { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return false;
  }
}

export class RunLock implements HeldLock {
  private timer: NodeJS.Timeout | undefined;
  lost = false;

  private constructor(
    readonly path: string,
    readonly owner: LockOwner,
  ) {}

  /** Takes the lock, waiting up to `waitMs` for a live holder to finish; throws LockHeldError after that. */
  static async acquire(path: string, runId: string, command: string, waitMs: number): Promise<RunLock> {
    const owner: LockOwner = {
      token: randomUUID(),
      pid: process.pid,
      host: hostname(),
      runId,
      command,
      acquiredAt: new Date().toISOString(),
    };
    const text = JSON.stringify(owner);
    const deadline = Date.now() + waitMs;
    mkdirSync(dirname(path), { recursive: true }); // a first run on a fresh clone has no data folder yet
    removeDeadWritersFiles(path);
    const ownTmp = writerFile(path, process.pid);
    for (;;) {
      if (createComplete(path, ownTmp, text)) return new RunLock(path, owner).startHeartbeat();
      const holder = readOwner(path);
      if (isStale(path, holder, Date.now())) {
        writeFileSync(ownTmp, text);
        renameSync(ownTmp, path); // atomic replace of the stale lock
        await sleep(TAKEOVER_SETTLE_MS);
        if (readOwner(path)?.token === owner.token) return new RunLock(path, owner).startHeartbeat();
        continue; // another process took it over at the same moment: it wins
      }
      if (Date.now() >= deadline) throw new LockHeldError(path, holder);
      await sleep(Math.min(1000, Math.max(50, deadline - Date.now())));
    }
  }

  private startHeartbeat(): this {
    this.timer = setInterval(() => this.heartbeat(), HEARTBEAT_MS);
    this.timer.unref();
    return this;
  }

  private heartbeat(): void {
    if (readOwner(this.path)?.token !== this.owner.token) {
      this.lost = true;
      return;
    }
    const now = new Date();
    utimesSync(this.path, now, now);
  }

  /** Releases the lock if this process still holds it. */
  release(): void {
    clearInterval(this.timer);
    if (readOwner(this.path)?.token === this.owner.token) {
      try {
        unlinkSync(this.path);
      } catch {
        // already gone
      }
    }
  }
}
