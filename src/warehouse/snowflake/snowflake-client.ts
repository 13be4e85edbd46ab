import snowflake from 'snowflake-sdk';
import { snowflakeDialect } from '../../checks/dialect.js';
import { RunFailedError } from '../../util/errors.js';
import type { SqlEngine, SqlRow } from '../sql/sql-engine.js';
import { positional, type SnowflakeBind } from './snowflake-sql.js';

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

/** The driver's integers are big-integer objects (their `value` a native bigint): plain bigints here. */
function plainValue(value: unknown): unknown {
  const inner = (value as { value?: unknown } | null)?.value;
  return typeof value === 'object' && typeof inner === 'bigint' ? inner : value;
}

/** Snowflake returns unquoted names upper-case; ours are all lower case, so rows are read that way. */
function plainRow(row: SqlRow): SqlRow {
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k.toLowerCase(), plainValue(v)]));
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
      // Surrogate keys are signed 64-bit: as JS numbers they would round.
      jsTreatIntegerAsBigInt: true,
      ...(settings.role && { role: settings.role }),
      ...(settings.warehouse && { warehouse: settings.warehouse }),
      ...(settings.accessUrl && { accessUrl: settings.accessUrl }),
    });
    // connect(callback), not connectAsync(): measured, the promise resolves even when the login is refused.
    await new Promise<void>((resolve, reject) =>
      connection.connect((error) =>
        error
          ? reject(
              new SnowflakeError(`connecting as ${settings.user} to account ${settings.account}`, undefined, error),
            )
          : resolve(),
      ),
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
        complete: (error, statement, rows) => {
          if (error) reject(new SnowflakeError(purpose, statement?.getQueryId() ?? error.data?.queryId, error));
          else resolve(((rows ?? []) as SqlRow[]).map(plainRow));
        },
      });
    });
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

  /** The shared SQL code's view of this client: its dialect, and statements with named, typed parameters. */
  engine(): SqlEngine {
    return {
      dialect: snowflakeDialect(this.settings.database, this.settings.schema),
      run: (purpose, sql, params = {}) => {
        const { sqlText, binds } = positional(sql, params);
        return this.query(purpose, sqlText, binds);
      },
    };
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.connection.destroy(() => resolve()));
  }
}
