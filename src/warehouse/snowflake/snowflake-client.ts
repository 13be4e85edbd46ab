import snowflake from 'snowflake-sdk';
import { RunFailedError } from '../../util/errors.js';

/** Where and how to reach Snowflake (the `warehouse:` block of a `kind: snowflake` config). */
export interface SnowflakeSettings {
  account: string;
  user: string;
  password: string;
  database: string;
  schema: string;
  role?: string | undefined;
  warehouse?: string | undefined;
  /** Another address than the account's (a private link, or the test stand-in). */
  accessUrl?: string | undefined;
}

export type SnowflakeBind = string | number | boolean | null;
export type SnowflakeRow = Record<string, unknown>;

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

/** The thin part that executes SQL through the real driver; SQL text is generated elsewhere. */
export class SnowflakeClient {
  private constructor(private readonly connection: snowflake.Connection) {}

  static async connect(settings: SnowflakeSettings): Promise<SnowflakeClient> {
    const connection = snowflake.createConnection({
      account: settings.account,
      username: settings.user,
      password: settings.password,
      database: settings.database,
      schema: settings.schema,
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
    return new SnowflakeClient(connection);
  }

  /** Runs one statement with positional binds (`?` or `:1`) and returns its rows. */
  query(purpose: string, sqlText: string, binds: SnowflakeBind[] = []): Promise<SnowflakeRow[]> {
    return new Promise((resolve, reject) => {
      this.connection.execute({
        sqlText,
        ...(binds.length > 0 && { binds: binds as snowflake.Binds }),
        complete: (error, statement, rows) => {
          if (error) reject(new SnowflakeError(purpose, statement?.getQueryId() ?? error.data?.queryId, error));
          else resolve((rows ?? []) as SnowflakeRow[]);
        },
      });
    });
  }

  /**
   * Uploads a local file to a stage, as is (`AUTO_COMPRESS=FALSE`: Parquet is
   * compressed inside). The driver's local-stage path sets the process umask to
   * 0 for good; it is restored here so later files are not world-writable.
   */
  async put(purpose: string, file: string, stage: string): Promise<void> {
    if (!/^[A-Za-z_][A-Za-z0-9_$.]*$/.test(stage))
      throw new Error(`invalid Snowflake stage name: ${JSON.stringify(stage)}`);
    const umask = process.umask();
    try {
      await this.query(
        purpose,
        `PUT 'file://${file.replaceAll("'", "\\'")}' @${stage} AUTO_COMPRESS=FALSE OVERWRITE=TRUE`,
      );
    } finally {
      process.umask(umask);
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.connection.destroy(() => resolve()));
  }
}
