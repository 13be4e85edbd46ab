import type { Logger } from '../../log/logger.js';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { RunFailedError } from '../../util/errors.js';

export interface DuckDBSettings {
  memoryLimit: string;
  tempDirectory: string;
  threads?: number;
  /** Off where row order means nothing: DuckDB can then stream and bound row groups instead of buffering. */
  preserveInsertionOrder?: boolean;
  /** Readers (analyst queries) open the file read-only and never block on a writer's schema changes. */
  readOnly?: boolean;
}

export interface OpenDuckDB {
  connection: DuckDBConnection;
  close(): void;
}

/**
 * Opens a DuckDB database (a file or `:memory:`) with the settings every
 * connection of ours needs (DESIGN.md decisions 7 and 16): UTC, a memory
 * limit, a spill directory, and no extension downloads at run time.
 */
export async function openDuckDB(path: string, settings: DuckDBSettings): Promise<OpenDuckDB> {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  mkdirSync(settings.tempDirectory, { recursive: true });
  const options: Record<string, string> = {
    memory_limit: settings.memoryLimit,
    temp_directory: settings.tempDirectory,
    autoinstall_known_extensions: 'false',
  };
  if (settings.threads) options.threads = String(settings.threads);
  if (settings.preserveInsertionOrder === false) options.preserve_insertion_order = 'false';
  if (settings.readOnly) options.access_mode = 'READ_ONLY';
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(path, options);
  } catch (error) {
    throw describeOpenError(path, error as Error);
  }
  const connection = await instance.connect();
  await connection.run("SET TimeZone = 'UTC'");
  return {
    connection,
    close: () => {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

function describeOpenError(path: string, error: Error): Error {
  const held = /Could not set lock on file.*?(?:PID (\d+))?/s.exec(error.message);
  if (held) {
    const pid = /PID (\d+)/.exec(error.message)?.[1];
    return new RunFailedError(
      `the DuckDB file ${path} is in use by another process${pid ? ` (PID ${pid})` : ''}; ` +
        'wait for that run to finish or stop it, then retry',
    );
  }
  return new RunFailedError(`cannot open DuckDB file ${path}: ${error.message}`);
}

/** Quotes a DuckDB string literal (used only for file paths in COPY/read_parquet, which cannot be bound). */
export function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

export type Params = Record<string, DuckDBValue>;
export type Row = Record<string, unknown>;

export const iso = (ms: number) => new Date(ms).toISOString();

export function toNumber(value: unknown): number {
  return typeof value === 'bigint' ? Number(value) : Number(value ?? 0);
}

/** Binds only the parameters a statement names, so one parameter set serves a whole load. */
function paramsFor(statement: string, params: Params): Params {
  return Object.fromEntries(Object.entries(params).filter(([name]) => statement.includes(`$${name}`)));
}

/** Runs statements on one connection with bound parameters; the pieces of the DuckDB adapter share it. */
export class SqlRunner {
  constructor(
    readonly connection: DuckDBConnection,
    private readonly logger?: Logger,
  ) {}

  /** With `--log-level debug`, each statement's duration: where a slow load spends its time. */
  private async timed<T>(statement: string, work: Promise<T>): Promise<T> {
    if (!this.logger?.isLevelEnabled('debug')) return work;
    const started = performance.now();
    const result = await work;
    const ms = Math.round(performance.now() - started);
    this.logger.debug({ ms, sql: statement.replace(/\s+/g, ' ').slice(0, 160) }, 'sql');
    return result;
  }

  async exec(statement: string, params: Params = {}): Promise<void> {
    await this.timed(statement, this.connection.run(statement, paramsFor(statement, params)));
  }

  /** Runs a DML statement and returns how many rows it changed. */
  async execCount(statement: string, params: Params = {}): Promise<number> {
    const result = await this.timed(statement, this.connection.run(statement, paramsFor(statement, params)));
    return result.rowsChanged;
  }

  async rows(statement: string, params: Params = {}): Promise<Row[]> {
    const reader = await this.timed(statement, this.connection.runAndReadAll(statement, paramsFor(statement, params)));
    return reader.getRowObjectsJS() as Row[];
  }

  async transaction<T>(work: () => Promise<T>): Promise<T> {
    await this.connection.run('BEGIN TRANSACTION');
    try {
      const result = await work();
      await this.connection.run('COMMIT');
      return result;
    } catch (error) {
      await this.connection.run('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }
}
