import snowflake from 'snowflake-sdk';
import {
  copySql,
  createStageSql,
  sqlStatements,
  positional,
  putSql,
  removeSql,
  snowflakeDialect,
  snowflakeQualified,
  stageLocation,
  stagingDdl,
  type SnowflakeBind,
} from './snowflake-dialect.js';
import { CredentialRefusedError, RunFailedError } from '../../util/errors.js';
import { join } from 'node:path';
import {
  exactDecimal,
  isoMicros,
  jsonInteger,
  jsonRows,
  rowsOf,
  text,
  type Driver,
  type Fence,
  type JsonPage,
  type JsonValue,
  type SqlParams,
  type SqlRow,
} from '../driver.js';
import { isStagingTableOf, type StagingTables } from '../sql/sql-load.js';
import { applyMigrations } from '../sql/migrations.js';
import type { LoadRequest } from '../warehouse.js';
import { EXPORT_PAGE_ROWS, LakeParquetWriter } from '../lake-parquet.js';
import type { DuckDBSettings } from '../duckdb/duckdb-driver.js';

/** How the loader proves who it is: a password, or a key pair (PEM text or a file, maybe encrypted). */
export type SnowflakeAuth =
  | { password: string }
  | { privateKey: string; passphrase?: string | undefined }
  | { privateKeyPath: string; passphrase?: string | undefined };

/** Where and how to reach Snowflake (the `warehouse:` block of a `kind: snowflake` config). */
export interface SnowflakeSettings {
  account: string;
  user: string;
  auth: SnowflakeAuth;
  database: string;
  schema: string;
  role?: string | undefined;
  warehouse?: string | undefined;
  /** Another address than the account's (a private link, or the test stand-in). */
  accessUrl?: string | undefined;
}

// The driver logs to its own file and console unless told not to; our logs are pino's.
snowflake.configure({ logLevel: 'OFF' });

/**
 * Snowflake's login refusals (390100 wrong user or password, 390144 a bad key
 * pair JWT, 3901xx locked or disabled users...) are configuration errors
 * (exit 2, decision 14): retrying cannot help. The message names the config key.
 */
function loginFailure(settings: Omit<SnowflakeSettings, 'auth'>, auth: SnowflakeAuth, cause: unknown): Error {
  const code = String((cause as { code?: unknown } | null)?.code ?? '');
  const purpose = `connecting as ${settings.user} to account ${settings.account}`;
  if (!/^3901\d\d$/.test(code)) return new SnowflakeError(purpose, undefined, cause);
  const key = 'password' in auth ? 'warehouse.password' : 'warehouse.private_key';
  const message = cause instanceof Error ? cause.message : String(cause);
  const named = 'password' in auth ? key : `${key} (or private_key_path)`;
  return new CredentialRefusedError(
    `Snowflake refused the login ${purpose} (${code}: ${message}): check ${named} and warehouse.user`,
    key,
  );
}

/** Every error names what we were doing and the query id, never a credential (only the driver's message is kept). */
export class SnowflakeError extends RunFailedError {
  constructor(purpose: string, queryId: string | undefined, cause: unknown) {
    const code = (cause as { code?: string } | null)?.code;
    const message = cause instanceof Error ? cause.message : String(cause);
    super(`Snowflake ${purpose} failed (query ${queryId ?? '-'}${code ? `, ${code}` : ''}): ${message}`);
  }
}

function authOptions(auth: SnowflakeAuth): Partial<snowflake.ConnectionOptions> {
  if ('password' in auth) return { password: auth.password };
  const passphrase = auth.passphrase ? { privateKeyPass: auth.passphrase } : {};
  return 'privateKey' in auth
    ? { authenticator: 'SNOWFLAKE_JWT', privateKey: auth.privateKey, ...passphrase }
    : { authenticator: 'SNOWFLAKE_JWT', privateKeyPath: auth.privateKeyPath, ...passphrase };
}

/**
 * A value by its column's type. Numbers arrive as their exact text (`fetchAsString`): integers
 * become bigints (64-bit keys exceed a JS number), scaled NUMBERs stay exact text, FLOATs numbers;
 * a DATE becomes its `YYYY-MM-DD` (the driver gives a Date at UTC midnight, which reads as an instant).
 */
function typedValue(value: unknown, column: snowflake.Column | undefined): unknown {
  if (value === null || value === undefined || !column) return value;
  switch (column.getType()) {
    case 'fixed':
      return column.getScale() === 0 ? BigInt(value as string) : exactDecimal(value as string);
    case 'real':
      return Number(value);
    case 'date':
      return (value as Date).toISOString().slice(0, 10);
    default:
      return value;
  }
}

/** The driver's timestamps: Dates that also carry their whole seconds and nanoseconds. */
interface SfDate extends Date {
  getEpochSeconds(): number;
  getNanoSeconds(): number;
}

/** Snowflake returns unquoted names upper-case; ours are all lower case, so rows are read that way. */
function typedRows(rows: SqlRow[], columns: snowflake.Column[]): SqlRow[] {
  const byName = new Map(columns.map((c) => [c.getName(), c]));
  return rows.map((row) =>
    Object.fromEntries(Object.entries(row).map(([k, v]) => [k.toLowerCase(), typedValue(v, byName.get(k))])),
  );
}

/** The thin part that executes SQL through the real driver; SQL text is generated elsewhere. */
export class SnowflakeClient {
  private constructor(
    private readonly connection: snowflake.Connection,
    readonly settings: Omit<SnowflakeSettings, 'auth'>,
  ) {}

  static async connect({ auth, ...settings }: SnowflakeSettings): Promise<SnowflakeClient> {
    const connection = snowflake.createConnection({
      account: settings.account,
      username: settings.user,
      ...authOptions(auth),
      database: settings.database,
      schema: settings.schema,
      // Numbers are fetched as text (query): a NULL must stay null, not become the text 'NULL'.
      representNullAsStringNull: false,
      ...(settings.role && { role: settings.role }),
      ...(settings.warehouse && { warehouse: settings.warehouse }),
      ...(settings.accessUrl && { accessUrl: settings.accessUrl }),
    });
    // connect(callback), not connectAsync(): measured, the promise resolves even when the login is refused.
    await new Promise<void>((resolve, reject) =>
      connection.connect((error) => (error ? reject(loginFailure(settings, auth, error)) : resolve())),
    );
    const client = new SnowflakeClient(connection, settings);
    // UTC everywhere (decision 7): TIMESTAMP_TZ values and DATE_TRUNC follow the session's time zone.
    // Input formats AUTO, whatever the account sets, so our ISO binds parse. A statement waits at most
    // 10 minutes for a lock (default 12 hours): a killed run's transaction is left open holding its
    // locks until Snowflake aborts it, and the next run should fail and say so rather than hang.
    await client.query(
      'setting up the session',
      "ALTER SESSION SET TIMEZONE = 'UTC' TIMESTAMP_INPUT_FORMAT = 'AUTO' DATE_INPUT_FORMAT = 'AUTO' LOCK_TIMEOUT = 600",
    );
    return client;
  }

  /** Runs one statement with positional binds (`?` or `:1`) and returns its rows, column names in lower case. */
  query(purpose: string, sqlText: string, binds: SnowflakeBind[] = []): Promise<SqlRow[]> {
    return new Promise((resolve, reject) => {
      this.connection.execute({
        sqlText,
        ...(binds.length > 0 && { binds: binds as snowflake.Binds }),
        // As text, so nothing passes through a JS number on the way: typed by column in typedRows.
        fetchAsString: ['Number'],
        complete: (error, statement, rows) => {
          if (error) reject(new SnowflakeError(purpose, statement?.getQueryId() ?? error.data?.queryId, error));
          else resolve(typedRows((rows ?? []) as SqlRow[], statement.getColumns() ?? []));
        },
      });
    });
  }

  /**
   * A statement's rows streamed (`streamRows`: the driver fetches result
   * chunks as they are read), in pages of `pageRows`, typed as `query` types
   * them; at least one page, so an empty result names its columns.
   */
  async *pages(
    purpose: string,
    sqlText: string,
    binds: SnowflakeBind[],
    pageRows: number,
  ): AsyncGenerator<{ columns: string[]; rows: SqlRow[] }> {
    const statement = await new Promise<snowflake.RowStatement>((resolve, reject) => {
      this.connection.execute({
        sqlText,
        ...(binds.length > 0 && { binds: binds as snowflake.Binds }),
        streamResult: true,
        fetchAsString: ['Number'],
        complete: (error, started) => {
          if (error) reject(new SnowflakeError(purpose, started?.getQueryId() ?? error.data?.queryId, error));
          else resolve(started);
        },
      });
    });
    const types = statement.getColumns() ?? [];
    const columns = types.map((column) => column.getName().toLowerCase());
    let page: SqlRow[] = [];
    let pages = 0;
    try {
      for await (const row of statement.streamRows()) {
        page.push(row as SqlRow);
        if (page.length === pageRows) {
          yield { columns, rows: typedRows(page, types) };
          pages++;
          page = [];
        }
      }
    } catch (error) {
      throw new SnowflakeError(purpose, statement.getQueryId(), error);
    }
    if (page.length > 0 || pages === 0) yield { columns, rows: typedRows(page, types) };
  }

  /**
   * Runs a PUT. The driver's local-stage path sets the process umask to 0 for
   * good; it is restored here so later files are not world-writable.
   */
  async put(purpose: string, sqlText: string): Promise<void> {
    const umask = process.umask();
    try {
      await this.query(purpose, sqlText);
    } finally {
      process.umask(umask);
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.connection.destroy(() => resolve()));
  }
}

export interface SnowflakeOptions {
  /** A named stage of the user's; without one the loader creates and uses `AETL_STAGE`. */
  stage?: string | undefined;
  /** Adds a clustering key on the event date to the fact tables. */
  clusterByDate: boolean;
  /** The in-memory DuckDB that writes exported Parquet (its memory limit and spill folder). */
  scratch: DuckDBSettings;
}

const DEFAULT_STAGE = 'aetl_stage';
const FACT_TABLES = ['fact_ai_event', 'fact_policy_evaluation'] as const;

/**
 * The warehouse on Snowflake: each package's staged Parquet is PUT to a stage
 * and COPied into run-scoped transient staging tables; then one transaction
 * holds the insert-only MERGE, the policy rows, the rejects, the blocking
 * checks and the checkpoint (decision 1, as on DuckDB). Staged files and
 * tables are removed after each package; a killed run's leftovers at the
 * start of the next one.
 */
export class SnowflakeDriver implements Driver {
  readonly dialect;
  readonly description: string;
  private readonly stageName: string;
  /** Set when a failed ROLLBACK made us close the session: nothing more may run on it. */
  private sessionLost = false;
  private readonly lake: LakeParquetWriter;

  constructor(
    private readonly client: SnowflakeClient,
    private readonly options: SnowflakeOptions,
  ) {
    const { account, database, schema } = client.settings;
    this.dialect = snowflakeDialect(database, schema);
    this.description = `Snowflake ${account} ${database}.${schema}`;
    this.stageName = snowflakeQualified(database, schema, options.stage ?? DEFAULT_STAGE);
    this.lake = new LakeParquetWriter(options.scratch);
  }

  static async open(settings: SnowflakeSettings, options: SnowflakeOptions): Promise<SnowflakeDriver> {
    return new SnowflakeDriver(await SnowflakeClient.connect(settings), options);
  }

  private get schema(): string {
    return snowflakeQualified(this.client.settings.database, this.client.settings.schema);
  }

  /** Our migrations, our stage if the config names none, and the optional clustering. */
  async migrate(): Promise<number> {
    const applied = await applyMigrations(this);
    if (!this.options.stage) await this.run('creating the stage', createStageSql(this.stageName));
    if (this.options.clusterByDate) {
      for (const table of FACT_TABLES) {
        await this.run(
          `clustering ${table}`,
          `ALTER TABLE ${this.dialect.table(table)} CLUSTER BY (TO_DATE(event_ts))`,
        );
      }
    }
    return applied;
  }

  /** Runs one statement with named, typed parameters (bound by position: the driver's own form). */
  run(purpose: string, sql: string, params: SqlParams = {}): Promise<SqlRow[]> {
    const { sqlText, binds } = positional(sql, params);
    return this.client.query(purpose, sqlText, binds);
  }

  /** Statement by statement (`{{schema}}` is the validated, quoted schema): Snowflake runs one per request. */
  async applyMigration(file: string, sql: string, record: { sql: string; params: SqlParams }): Promise<void> {
    for (const statement of sqlStatements(sql, { schema: this.schema })) {
      await this.run(`applying migration ${file}`, statement);
    }
    await this.run(`recording migration ${file}`, record.sql, record.params);
  }

  async tableExists(table: string): Promise<boolean> {
    const { database, schema } = this.client.settings;
    const rows = await this.run(
      'looking for a table',
      `SELECT COUNT(*) AS n FROM ${snowflakeQualified(database)}.INFORMATION_SCHEMA.TABLES
       WHERE table_catalog = :database AND table_schema = :schema AND table_name = :table`,
      { database: text(database.toUpperCase()), schema: text(schema.toUpperCase()), table: text(table.toUpperCase()) },
    );
    return Number(rows[0]?.n) > 0;
  }

  /** PUT each file under the package's own stage path, then COPY each kind into its new staging table. */
  async stage(request: LoadRequest, staging: StagingTables): Promise<void> {
    for (const sql of stagingDdl((t) => this.dialect.table(t), staging)) {
      await this.run('creating staging tables', sql);
    }
    const { files } = request.manifest;
    const root = stageLocation(this.stageName, request.pipeline, request.runId, request.seq);
    for (const kind of ['events', 'policies', 'rejects'] as const) {
      if (files[kind].length === 0) continue;
      const location = `${root}${kind}/`;
      for (const file of files[kind]) {
        await this.client.put(`staging ${kind} files`, putSql(join(request.packageDir, file), location));
      }
      const result = await this.run(`copying staged ${kind}`, copySql(this.dialect.table(staging[kind]), location));
      const loaded = result.filter((r) => r.status === 'LOADED').length;
      if (loaded !== files[kind].length) {
        throw new RunFailedError(
          `Snowflake copying staged ${kind} loaded ${loaded} of ${files[kind].length} files from ${location} ` +
            `(${result.map((r) => `${String(r.file ?? '?')}: ${String(r.status)}`).join(', ')})`,
        );
      }
    }
  }

  /** One transaction from the merge to the checkpoint; any error rolls it all back. */
  async transaction<T>(work: () => Promise<T>): Promise<T> {
    await this.run('starting the load transaction', 'BEGIN TRANSACTION');
    try {
      const result = await work();
      await this.run('committing the load transaction', 'COMMIT');
      return result;
    } catch (error) {
      try {
        await this.run('rolling back the load transaction', 'ROLLBACK');
      } catch {
        // Any DDL on this session (the staging drops) would commit half a load: end the session
        // instead, which rolls the transaction back; the next run removes what is left staged.
        this.sessionLost = true;
        await this.client.close();
      }
      throw error;
    }
  }

  /** Already inside `transaction`: statements run one by one and commit with it (the fence first). */
  async runTogether(purpose: string, statements: string[], params: SqlParams, fence?: Fence): Promise<void> {
    if (fence) {
      // An UPDATE answers with its count; `transaction` rolls back whatever this throws.
      const [row] = await this.run('checking the run lock lease', fence.sql, fence.params);
      if (Number(row?.['number of rows updated']) !== 1) throw await fence.lost(this);
    }
    for (const sql of statements) await this.run(purpose, sql, params);
  }

  async dropStaging(request: LoadRequest, staging: StagingTables): Promise<void> {
    if (this.sessionLost) return;
    const files = stageLocation(this.stageName, request.pipeline, request.runId, request.seq);
    await this.run('removing staged files', removeSql(files)).catch(() => undefined);
    for (const table of Object.values(staging)) {
      await this.run('dropping a staging table', `DROP TABLE IF EXISTS ${this.dialect.table(table)}`).catch(
        () => undefined,
      );
    }
  }

  async dropLeftovers(pipeline: string): Promise<void> {
    const { database, schema } = this.client.settings;
    const tables = await this.run(
      'listing staging tables',
      `SELECT table_name FROM ${snowflakeQualified(database)}.INFORMATION_SCHEMA.TABLES
       WHERE table_catalog = :database AND table_schema = :schema`,
      { database: text(database.toUpperCase()), schema: text(schema.toUpperCase()) },
    );
    for (const { table_name: name } of tables) {
      if (isStagingTableOf(pipeline, String(name))) {
        await this.run(
          'dropping a leftover staging table',
          `DROP TABLE IF EXISTS ${this.dialect.table(String(name).toLowerCase())}`,
        );
      }
    }
    await this.run('removing leftover staged files', removeSql(stageLocation(this.stageName, pipeline)));
  }

  async exportParquet(purpose: string, sql: string, params: SqlParams, table: string, file: string): Promise<void> {
    const { sqlText, binds } = positional(sql, params);
    const pages = this.client.pages(purpose, sqlText, binds, EXPORT_PAGE_ROWS);
    await this.lake.write(table, file, rowsOf(pages), (value) => this.jsonValue(value));
  }

  async close(): Promise<void> {
    await this.lake.close();
    if (!this.sessionLost) await this.client.close();
  }

  async *streamJson(purpose: string, sql: string, params: SqlParams, pageRows: number): AsyncGenerator<JsonPage> {
    const { sqlText, binds } = positional(sql, params);
    for await (const page of this.client.pages(purpose, sqlText, binds, pageRows)) {
      yield { columns: page.columns, rows: jsonRows(page.rows, (value) => this.jsonValue(value)) };
    }
  }

  /** Rows are typed by column already (typedRows): integers are bigints, timestamps the driver's Dates. */
  jsonValue(value: unknown): JsonValue {
    if (typeof value === 'bigint') return jsonInteger(value);
    if (value instanceof Date) {
      const at = value as SfDate;
      return isoMicros(BigInt(at.getEpochSeconds()) * 1_000_000n + BigInt(Math.floor(at.getNanoSeconds() / 1000)));
    }
    // VARIANT, OBJECT and ARRAY values arrive parsed: printed as their JSON text.
    return typeof value === 'object' && value !== null ? JSON.stringify(value) : (value as JsonValue);
  }
}
