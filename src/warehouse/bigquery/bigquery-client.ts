import { randomUUID } from 'node:crypto';
import { BigQuery, type Query } from '@google-cloud/bigquery';
import { OAuth2Client } from 'google-auth-library';
import { bigqueryDialect } from '../../checks/dialect.js';
import { RunFailedError } from '../../util/errors.js';
import type { SqlEngine, SqlParam, SqlType } from '../sql/sql-engine.js';

/** Where and how to reach BigQuery (the `warehouse:` block of a `kind: bigquery` config). */
export interface BigQuerySettings {
  project: string;
  dataset: string;
  location: string;
  /** Another endpoint than Google's (a proxy, or the test stand-in). */
  apiEndpoint?: string | undefined;
  /** A ready OAuth access token; without one, Application Default Credentials are used. */
  accessToken?: string | undefined;
}

/** A bound query parameter and its BigQuery type (always explicit: no guessing from JS values). */
export interface BigQueryParam {
  type: 'STRING' | 'INT64' | 'FLOAT64' | 'BOOL' | 'TIMESTAMP' | 'DATE' | 'NUMERIC';
  value: string | number | boolean | null;
}

export type BigQueryRow = Record<string, unknown>;

const TYPES: Record<SqlType, BigQueryParam['type']> = {
  text: 'STRING',
  int: 'INT64',
  float: 'FLOAT64',
  bool: 'BOOL',
  timestamp: 'TIMESTAMP',
  date: 'DATE',
  numeric: 'NUMERIC',
};

/** A typed value as BigQuery binds it (64-bit integers as exact text). */
function bigqueryParam({ type, value }: SqlParam): BigQueryParam {
  return { type: TYPES[type], value: typeof value === 'bigint' ? value.toString() : value };
}

/** The client reads TIMESTAMP and DATE values from its own wrappers, not from plain strings. */
function clientValue({ type, value }: BigQueryParam): unknown {
  if (value === null) return null;
  if (type === 'TIMESTAMP') return BigQuery.timestamp(String(value));
  if (type === 'DATE') return BigQuery.date(String(value));
  return value;
}

/**
 * Every error names what we were doing and the job id (to find it in the
 * console), never a credential: the client's own errors can carry request
 * details, so only their messages are kept.
 */
export class BigQueryError extends RunFailedError {
  constructor(purpose: string, jobId: string, cause: unknown) {
    const reason = (cause as { errors?: { reason?: string }[] } | null)?.errors?.[0]?.reason;
    const message = cause instanceof Error ? cause.message : String(cause);
    super(`BigQuery ${purpose} failed (job ${jobId}${reason ? `, ${reason}` : ''}): ${message}`);
  }
}

/** The thin part that executes SQL through the real client; SQL text is generated elsewhere. */
export class BigQueryClient {
  /** The settings without the access token, which stays inside the auth client. */
  readonly settings: Omit<BigQuerySettings, 'accessToken'>;

  private constructor(
    private readonly bigquery: BigQuery,
    { accessToken: _token, ...settings }: BigQuerySettings,
  ) {
    this.settings = settings;
  }

  static create(settings: BigQuerySettings): BigQueryClient {
    const options: ConstructorParameters<typeof BigQuery>[0] = {
      projectId: settings.project, // always: without it the auth library probes a metadata server
      location: settings.location,
    };
    if (settings.apiEndpoint) options.apiEndpoint = settings.apiEndpoint;
    if (settings.accessToken) {
      const auth = new OAuth2Client();
      auth.setCredentials({ access_token: settings.accessToken });
      options.authClient = auth;
    }
    return new BigQueryClient(new BigQuery(options), settings);
  }

  /** A job id we choose, so that even a job that fails at once can be named in the error. */
  private jobId(purpose: string): string {
    return `aetl_${purpose.replace(/[^a-z0-9]+/gi, '_').slice(0, 40)}_${randomUUID().replace(/-/g, '')}`;
  }

  /** Runs one statement or script as a query job and returns its rows (timestamps as int64 microseconds). */
  async query(purpose: string, sql: string, params: Record<string, BigQueryParam> = {}): Promise<BigQueryRow[]> {
    const jobId = this.jobId(purpose);
    const query: Query = { query: sql, jobId, location: this.settings.location };
    if (Object.keys(params).length > 0) {
      query.params = Object.fromEntries(Object.entries(params).map(([k, p]) => [k, clientValue(p)]));
      query.types = Object.fromEntries(Object.entries(params).map(([k, p]) => [k, p.type]));
    }
    try {
      const [job] = await this.bigquery.createQueryJob(query);
      const [rows] = await job.getQueryResults({ wrapIntegers: true });
      return rows as BigQueryRow[];
    } catch (error) {
      throw new BigQueryError(purpose, jobId, error);
    }
  }

  /** Creates the dataset in the configured location if it does not exist. */
  async ensureDataset(): Promise<void> {
    const dataset = this.bigquery.dataset(this.settings.dataset);
    try {
      const [exists] = await dataset.exists();
      if (!exists) await dataset.create({ location: this.settings.location });
    } catch (error) {
      throw new BigQueryError(`creating dataset ${this.settings.dataset}`, '-', error);
    }
  }

  /** A load job from a local Parquet file into a table (never streaming inserts: they block DML). */
  async loadParquet(purpose: string, file: string, table: string): Promise<void> {
    const jobId = this.jobId(purpose);
    try {
      await this.bigquery.dataset(this.settings.dataset).table(table).load(file, {
        sourceFormat: 'PARQUET',
        writeDisposition: 'WRITE_APPEND',
        createDisposition: 'CREATE_IF_NEEDED',
        jobId,
        location: this.settings.location,
      });
    } catch (error) {
      throw new BigQueryError(purpose, jobId, error);
    }
  }

  /** The dataset's tables whose names start with `prefix`. */
  async tableNames(prefix: string): Promise<string[]> {
    try {
      const [tables] = await this.bigquery.dataset(this.settings.dataset).getTables();
      return tables.map((t) => t.id!).filter((id) => id.startsWith(prefix));
    } catch (error) {
      throw new BigQueryError('listing tables', '-', error);
    }
  }

  /** The shared SQL code's view of this client: its dialect, and statements with typed parameters. */
  engine(): SqlEngine {
    const { project, dataset } = this.settings;
    return {
      dialect: bigqueryDialect(`${project}.${dataset}`),
      run: (purpose, sql, params = {}) =>
        this.query(
          purpose,
          sql,
          Object.fromEntries(Object.entries(params).map(([name, p]) => [name, bigqueryParam(p)])),
        ),
    };
  }

  /** Drops a table if it exists (run-scoped staging tables). */
  async dropTable(table: string): Promise<void> {
    try {
      await this.bigquery.dataset(this.settings.dataset).table(table).delete({ ignoreNotFound: true });
    } catch (error) {
      throw new BigQueryError(`dropping ${table}`, '-', error);
    }
  }
}
