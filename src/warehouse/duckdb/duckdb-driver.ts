import type { Logger } from '../../log/logger.js';
import { chmodSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { DuckDBInstance } from './duckdb-api.js';
import { isOutOfMemory, RunFailedError } from '../../util/errors.js';
import { renameDurably } from '../../util/durable-write.js';
import type { Driver, JsonPage, SqlParams, SqlRow } from '../driver.js';
import { applyMigrations } from '../sql/migrations.js';
import type { StagingTables } from '../sql/sql-load.js';
import { eachRangeInHalves, inPositionRange, rangesOf } from '../sql/sql-sliced-export.js';
import type { LoadRequest } from '../warehouse.js';
import { duckdbDialect } from './duckdb-dialect.js';
import { duckdbJsonPages } from './duckdb-json.js';
import { AttachedFile, describeOpenError, type FileWait } from './duckdb-file.js';

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

/** Quotes a DuckDB identifier (names DuckDB itself lists, such as a database's or a table's). */
function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
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

/** Runs `work` with what its statements need at hand: the warehouse file attached (DuckDBDriver). */
type Hold = <T>(work: () => Promise<T>) => Promise<T>;

/** Runs statements on one connection with bound parameters; the pieces of the DuckDB adapter share it. */
export class SqlRunner {
  constructor(
    readonly connection: DuckDBConnection,
    private readonly logger?: Logger,
    private readonly hold: Hold = (work) => work(),
  ) {}

  /**
   * With `--log-level debug`, each statement's duration and the process's CPU time meanwhile (DuckDB's
   * threads are the process's: on a shared machine the CPU is the steadier measure): where a slow load
   * spends its time.
   */
  private timed<T>(statement: string, work: () => Promise<T>): Promise<T> {
    return this.hold(async () => {
      if (!this.logger?.isLevelEnabled('debug')) return work();
      const started = performance.now();
      const cpuBefore = process.cpuUsage();
      const result = await work();
      const ms = Math.round(performance.now() - started);
      const cpu = process.cpuUsage(cpuBefore);
      const cpuMs = Math.round((cpu.user + cpu.system) / 1000);
      this.logger.debug({ ms, cpuMs, sql: statement.replace(/\s+/g, ' ').slice(0, 160) }, 'sql');
      return result;
    });
  }

  async exec(statement: string, params: Params = {}): Promise<void> {
    await this.timed(statement, () => this.connection.run(statement, paramsFor(statement, params)));
  }

  /** Runs a DML statement and returns how many rows it changed. */
  async execCount(statement: string, params: Params = {}): Promise<number> {
    const result = await this.timed(statement, () => this.connection.run(statement, paramsFor(statement, params)));
    return result.rowsChanged;
  }

  private read(statement: string, params: Params) {
    return this.timed(statement, () => this.connection.runAndReadAll(statement, paramsFor(statement, params)));
  }

  async rows(statement: string, params: Params = {}): Promise<Row[]> {
    return (await this.read(statement, params)).getRowObjectsJS() as Row[];
  }

  transaction<T>(work: () => Promise<T>): Promise<T> {
    return this.hold(async () => {
      await this.connection.run('BEGIN TRANSACTION');
      try {
        const result = await work();
        await this.connection.run('COMMIT');
        return result;
      } catch (error) {
        await this.connection.run('ROLLBACK').catch(() => undefined);
        throw error;
      }
    });
  }
}

/**
 * `$name` placeholders cast to their bound value's type (outside string
 * literals and quoted names), so the shared SQL binds plain values and
 * DuckDB never guesses a type from text: the counterpart of Snowflake's
 * positional binds.
 */
export function typedPlaceholders(sql: string, params: SqlParams): { sql: string; values: Params } {
  const values: Params = {};
  const typed = sql
    .split(/('(?:[^']|'')*'|"(?:[^"]|"")*")/)
    .map((piece, i) =>
      i % 2 === 1
        ? piece
        : piece.replace(/\$([A-Za-z_][A-Za-z0-9_]*)/g, (placeholder, name: string) => {
            const param = params[name];
            if (!param) throw new Error(`no value bound for $${name}`);
            if (param.type === 'rows') {
              // The rows as JSON text, read back as a list of typed structs (64-bit integers as text: exact).
              values[name] = JSON.stringify(param.value, jsonRowValue);
              const shape = Object.fromEntries(
                Object.entries(param.fields).map(([field, type]) => [field, duckdbDialect.columnType(type)]),
              );
              return `from_json(${placeholder}, ${sqlString(JSON.stringify([shape]))})`;
            }
            values[name] = param.value;
            return param.type === 'text'
              ? placeholder
              : `CAST(${placeholder} AS ${duckdbDialect.columnType(param.type)})`;
          }),
    )
    .join('');
  return { sql: typed, values };
}

/**
 * A row value as the JSON DuckDB reads back: 64-bit integers as text (exact); a lone surrogate (a
 * hostile source field name in a check's message) as U+FFFD, which DuckDB's JSON reader refuses whole.
 */
function jsonRowValue(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return String(value);
  return typeof value === 'string' ? (value as string & { toWellFormed(): string }).toWellFormed() : value;
}

/** A package's files as one relation DuckDB reads in place. */
const parquetFiles = (files: readonly string[]) => `read_parquet([${files.map(sqlString).join(', ')}])`;

const NO_WAIT: FileWait = { maxMs: 0, onWait: () => undefined };

/**
 * The embedded warehouse's driver: one connection to an in-memory DuckDB
 * instance, to which the warehouse file is attached while statements use it
 * (AttachedFile: one writer process at a time holds the file), a package
 * staged as views over its own Parquet files (nothing copied), work tables
 * as temporary tables that leave with the connection.
 */
export class DuckDBDriver implements Driver {
  readonly dialect = duckdbDialect;
  readonly description: string;
  readonly runner: SqlRunner;
  /** While `migrate` applies every file to a new warehouse in one transaction. */
  private migratingNewWarehouse = false;

  private constructor(
    private readonly db: OpenDuckDB,
    private readonly file: AttachedFile,
    private readonly path: string,
    private readonly settings: DuckDBSettings,
    logger?: Logger,
  ) {
    this.description = `DuckDB ${path}`;
    this.runner = new SqlRunner(db.connection, logger, (work) => file.use(work));
  }

  /** `wait`: how long to wait while another process holds the file (a run loading, or a reader); by default not. */
  static async open(
    path: string,
    settings: DuckDBSettings,
    logger?: Logger,
    wait: FileWait = NO_WAIT,
  ): Promise<DuckDBDriver> {
    const readOnly = settings.readOnly ?? false;
    if (!readOnly) mkdirSync(dirname(path), { recursive: true });
    const db = await openDuckDB(':memory:', { ...settings, readOnly: false });
    const driver = new DuckDBDriver(db, new AttachedFile(db.connection, path, readOnly, wait), path, settings, logger);
    try {
      await driver.file.use(async () => undefined); // a file that cannot be opened fails here, not at the first statement
    } catch (error) {
      db.close();
      throw error;
    }
    return driver;
  }

  async run(_purpose: string, sql: string, params: SqlParams = {}): Promise<SqlRow[]> {
    const typed = typedPlaceholders(sql, params);
    return this.runner.rows(typed.sql, typed.values);
  }

  async runTogether(purpose: string, statements: string[], params: SqlParams): Promise<void> {
    for (const sql of statements) await this.run(purpose, sql, params);
  }

  transaction<T>(work: () => Promise<T>): Promise<T> {
    return this.runner.transaction(work);
  }

  /**
   * A new warehouse gets every file in one transaction: one commit, not one per file (17 of them
   * cost ~0.1 s of CPU and a WAL sync each at the start of a first run). An upgrade applies file by
   * file: DuckDB refuses to commit an ALTER (or CREATE INDEX) of a table that the same transaction
   * updated, which a later file may do to a table an earlier one rewrote. Either way a failed file
   * leaves no trace of itself.
   */
  async migrate(): Promise<number> {
    if (await this.tableExists('etl_schema_version')) return applyMigrations(this);
    this.migratingNewWarehouse = true;
    try {
      return await this.transaction(() => applyMigrations(this));
    } finally {
      this.migratingNewWarehouse = false;
    }
  }

  /** The file's statements and its version row, in a transaction of their own or in `migrate`'s. */
  async applyMigration(_file: string, sql: string, record: { sql: string; params: SqlParams }): Promise<void> {
    const apply = async () => {
      const statements = await this.db.connection.extractStatements(sql);
      for (let i = 0; i < statements.count; i++) await (await statements.prepare(i)).run();
      await this.run('recording the schema version', record.sql, record.params);
    };
    await (this.migratingNewWarehouse ? apply() : this.transaction(apply));
  }

  async tableExists(table: string): Promise<boolean> {
    const [row] = await this.runner.rows(
      `SELECT count(*) AS n FROM duckdb_tables()
       WHERE database_name = current_database() AND schema_name = current_schema() AND table_name = $table`,
      { table },
    );
    return toNumber(row?.n) > 0;
  }

  async stage(request: LoadRequest, staging: StagingTables): Promise<void> {
    for (const kind of ['events', 'policies', 'rejects'] as const) {
      const files = request.manifest.files[kind].map((name) => join(request.packageDir, name));
      if (files.length === 0) continue;
      await this.runner.exec(`CREATE OR REPLACE TEMP VIEW ${staging[kind]} AS SELECT * FROM ${parquetFiles(files)}`);
    }
  }

  async dropStaging(_request: LoadRequest, staging: StagingTables): Promise<void> {
    const { events, policies, rejects, ...work } = staging;
    for (const view of [events, policies, rejects])
      await this.runner.exec(`DROP VIEW IF EXISTS ${view}`).catch(() => undefined);
    for (const table of Object.values(work))
      await this.runner.exec(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
  }

  /** Staging is temporary: a killed run's left with its connection. */
  async dropLeftovers(): Promise<void> {}

  async exportParquet(_purpose: string, sql: string, params: SqlParams, _table: string, file: string): Promise<void> {
    const typed = typedPlaceholders(sql, params);
    await this.runner.exec(
      `COPY (${typed.sql}) TO ${sqlString(file)} (FORMAT parquet, COMPRESSION zstd)`,
      typed.values,
    );
  }

  streamJson(_purpose: string, sql: string, params: SqlParams, pageRows: number): AsyncIterable<JsonPage> {
    const typed = typedPlaceholders(sql, params);
    return this.streamValues(typed.sql, typed.values, pageRows);
  }

  /** A query's pages with its values bound as given (`aetl query` binds text, which DuckDB casts). */
  streamValues(sql: string, values: Params, pageRows: number): AsyncIterable<JsonPage> {
    return this.file.stream(duckdbJsonPages(this.db.connection, sql, values, pageRows));
  }

  letReadersIn(): Promise<void> {
    return this.file.letReadersIn();
  }

  async close(): Promise<void> {
    await this.file.close();
    this.db.close();
  }

  /** DuckDB keeps deleted values in free blocks of its file, where a byte search still finds them. */
  async reclaimErasedSpace(): Promise<void> {
    try {
      await compactFile(this.path, this.settings);
    } catch (error) {
      throw new RunFailedError(
        `the erasure is committed, but compacting ${this.path} failed (${(error as Error).message}); ` +
          'the removed values stay in its free blocks until `aetl forget` runs again',
      );
    }
  }
}

/**
 * Copies a table's rows in one statement, or, when its values do not fit the
 * pool at once (a scan reads 2,048 at a time: BENCHMARKS.md "Wide records"),
 * a few rows at a time by position. A failed statement inserted nothing.
 */
async function copyTable(runner: SqlRunner, from: string, to: string): Promise<void> {
  try {
    await runner.exec(`INSERT INTO ${to} SELECT * FROM ${from}`);
    return;
  } catch (error) {
    if (!isOutOfMemory(error)) throw error;
  }
  const [row] = await runner.rows(`SELECT COALESCE(MAX(rowid), -1) + 1 AS n FROM ${from}`);
  // One scan vector (2,048 rows) a statement to start with: only a table of wide values gets here.
  await eachRangeInHalves(rangesOf(Number(row!.n), 2048), (range) =>
    runner.exec(`INSERT INTO ${to} SELECT * FROM ${from} q WHERE ${inPositionRange(duckdbDialect, 'q', range)}`),
  );
}

/**
 * Rewrites a DuckDB file with only its live data: a copy into a fresh database
 * holds none of the free blocks. The copy is built beside the file and renamed
 * over it, so a crash leaves the old file whole. Every connection is closed.
 */
async function compactFile(path: string, settings: DuckDBSettings): Promise<void> {
  const fresh = `${path}.compact`;
  // Leftovers of a crashed compaction.
  for (const file of [fresh, `${fresh}.wal`]) rmSync(file, { force: true });
  const db = await openDuckDB(path, settings);
  try {
    const runner = new SqlRunner(db.connection);
    const [row] = await runner.rows('SELECT current_database() AS name');
    const source = quoteIdentifier(String(row!.name));
    await runner.exec(`ATTACH ${sqlString(fresh)} AS compacted`);
    await runner.exec(`COPY FROM DATABASE ${source} TO compacted (SCHEMA)`);
    const tables = await runner.rows(
      `SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database() ORDER BY ALL`,
    );
    for (const { schema_name: schema, table_name: table } of tables) {
      const name = `${quoteIdentifier(String(schema))}.${quoteIdentifier(String(table))}`;
      await copyTable(runner, `${source}.${name}`, `compacted.${name}`);
    }
    await runner.exec('DETACH compacted'); // checkpoints the copy: no WAL of its own is left
  } finally {
    db.close();
  }
  // A WAL of the old file must never be replayed onto the new one (a clean close leaves none).
  rmSync(`${path}.wal`, { force: true });
  chmodSync(fresh, statSync(path).mode); // whoever could not read the old file cannot read the new one
  renameDurably(fresh, path);
}
