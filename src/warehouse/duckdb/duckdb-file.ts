import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DuckDBConnection } from '@duckdb/node-api';
import { processAlive } from '../../state/lock.js';
import { RunFailedError } from '../../util/errors.js';

/** The alias of the warehouse file in its instance; the connection `USE`s it, so our SQL stays unqualified. */
const ALIAS = 'warehouse';
/** With no statement for this long, the file is let go: readers in other processes can open it meanwhile. */
const IDLE_RELEASE_MS = 100;
const FIRST_RETRY_MS = 50;
/** Short: a waiting reader must try again within the moment a run lets go between two loads. */
const LONGEST_RETRY_MS = 250;
/** How long a writer taking its file back lets waiting readers go first, at most. */
const READERS_FIRST_MS = 5_000;

/** How long to wait for a file another process holds, and whom to tell (once) that we wait. */
export interface FileWait {
  maxMs: number;
  /** `holder`: ` (PID n)` when DuckDB named it, else empty. */
  onWait(path: string, holder: string, maxMs: number): void;
}

/** The holder's pid when DuckDB refused the file because another process holds it; null for other errors. */
function heldBy(error: Error): string | null {
  if (!/Could not set lock on file/.test(error.message)) return null;
  return /PID (\d+)/.exec(error.message)?.[1] ?? '';
}

export function describeOpenError(path: string, error: Error): Error {
  const pid = heldBy(error);
  if (pid !== null) {
    return new RunFailedError(
      `the DuckDB file ${path} is in use by another process${pid ? ` (PID ${pid})` : ''}; ` +
        'wait for that run to finish or stop it, then retry',
    );
  }
  return new RunFailedError(`cannot open DuckDB file ${path}: ${error.message}`);
}

/**
 * The warehouse file, ATTACHed to the process's one DuckDB instance only while
 * statements use it (DESIGN.md decision 18): DuckDB lets one process at a
 * time hold a file, so a run lets go of it between loads (after
 * IDLE_RELEASE_MS without a statement: while it extracts), and `status` or
 * `query` in another process can open it then. DETACH checkpoints the file
 * and closes it, which releases the OS lock. Taking the file back waits,
 * bounded, while another process holds it. Readers waiting for the file say
 * so with a file of their own beside it (`<file>.reader.<pid>`), and a writer
 * taking the file back lets them in first, so back-to-back loads do not
 * starve them.
 */
export class AttachedFile {
  private attached = false;
  /** Statements (or transactions, or streamed results) under way: the file is not let go meanwhile. */
  private busy = 0;
  /** Attaching and detaching, one after the other. */
  private turn: Promise<void> = Promise.resolve();
  private idle: NodeJS.Timeout | undefined;
  private closed = false;
  private everAttached = false;

  constructor(
    private readonly connection: DuckDBConnection,
    private readonly path: string,
    private readonly readOnly: boolean,
    private readonly wait: FileWait,
  ) {}

  /** Runs `work` with the file attached (attaching it first if it was let go). */
  async use<T>(work: () => Promise<T>): Promise<T> {
    await this.enter();
    try {
      return await work();
    } finally {
      this.leave();
    }
  }

  /** Streams a result's pages with the file attached until the last is read or the reader stops. */
  async *stream<T>(pages: AsyncIterable<T>): AsyncGenerator<T> {
    await this.enter();
    try {
      yield* pages;
    } finally {
      this.leave();
    }
  }

  private async enter(): Promise<void> {
    this.busy++;
    clearTimeout(this.idle);
    try {
      await this.inTurn(() => this.attach());
    } catch (error) {
      this.leave();
      throw error;
    }
  }

  private leave(): void {
    this.busy--;
    if (this.busy > 0 || this.closed) return;
    this.idle = setTimeout(() => void this.release().catch(() => undefined), IDLE_RELEASE_MS);
    this.idle.unref();
  }

  /** Lets go of the file unless a statement uses it; the next statement takes it back. */
  release(): Promise<void> {
    clearTimeout(this.idle);
    return this.inTurn(async () => {
      if (!this.attached || this.busy > 0) return;
      await this.connection.run('USE memory'); // DuckDB cannot detach the connection's default database
      try {
        await this.connection.run(`DETACH ${ALIAS}`);
      } catch (error) {
        // DuckDB can detach the file and then fail the checkpoint it makes on the way out (seen: out of
        // memory with 64 KB values); the WAL keeps what was committed, and the next attach replays it.
        // Still attached, the connection goes back to it: our SQL names no database.
        if (await this.stillAttached()) throw error;
      }
      this.attached = false;
    });
  }

  /** After a failed DETACH: whether the file is still attached; if so, the connection is back on it. */
  private async stillAttached(): Promise<boolean> {
    try {
      await this.connection.run(`USE ${ALIAS}`);
      return true;
    } catch {
      return false; // not attached any more: the next statement attaches it again
    }
  }

  /** Waits for an attach or detach under way; the instance's close then checkpoints the file if attached. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.idle);
    await this.turn.catch(() => undefined);
  }

  private inTurn(step: () => Promise<void>): Promise<void> {
    const next = this.turn.catch(() => undefined).then(step);
    this.turn = next;
    return next;
  }

  private async attach(): Promise<void> {
    if (this.attached) return;
    if (!this.readOnly && this.everAttached) await this.readersFirst();
    const options = this.readOnly ? ' (READ_ONLY)' : '';
    const literal = `'${this.path.replaceAll("'", "''")}'`;
    const started = Date.now();
    const marker = `${this.path}.reader.${process.pid}`;
    try {
      for (let pause = FIRST_RETRY_MS; ; pause = Math.min(pause * 2, LONGEST_RETRY_MS)) {
        try {
          await this.connection.run(`ATTACH ${literal} AS ${ALIAS}${options}`);
          break;
        } catch (error) {
          const pid = heldBy(error as Error);
          if (pid === null || Date.now() - started + pause > this.wait.maxMs) {
            throw describeOpenError(this.path, error as Error);
          }
          if (pause === FIRST_RETRY_MS) {
            if (this.readOnly) writeFileSync(marker, '');
            this.wait.onWait(this.path, pid ? ` (PID ${pid})` : '', this.wait.maxMs);
          }
          await sleep(pause);
        }
      }
    } finally {
      if (this.readOnly) rmSync(marker, { force: true });
    }
    await this.connection.run(`USE ${ALIAS}`);
    this.attached = true;
    this.everAttached = true;
  }

  /**
   * Lets go of the file now if readers wait for it (between two loads that follow each other
   * too closely for the idle release); otherwise it stays attached for the next statement,
   * which saves re-reading the file's catalog (measured: ~0.1 s on a 75 MB file).
   */
  async letReadersIn(): Promise<void> {
    if (this.readersWaiting()) await this.release();
  }

  /** Whether live readers wait for the file; a killed reader's leftover file is removed. */
  private readersWaiting(): boolean {
    const prefix = `${basename(this.path)}.reader.`;
    return readdirSync(dirname(this.path)).some((name) => {
      if (!name.startsWith(prefix)) return false;
      if (processAlive(Number(name.slice(prefix.length)))) return true;
      rmSync(join(dirname(this.path), name), { force: true });
      return false;
    });
  }

  /** Waits (bounded) while readers wait for the file. */
  private async readersFirst(): Promise<void> {
    for (const deadline = Date.now() + READERS_FIRST_MS; this.readersWaiting() && Date.now() < deadline;) {
      await sleep(FIRST_RETRY_MS);
    }
  }
}
