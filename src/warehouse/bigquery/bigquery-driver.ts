import { randomUUID } from 'node:crypto';
import { BigQuery, type Query, type QueryResultsOptions, type TableField } from '@google-cloud/bigquery';
import { OAuth2Client } from 'google-auth-library';
import { BIGQUERY_TYPES, bigqueryDialect, requireOneRowChanged, transactionScript } from './bigquery-dialect.js';
import { CredentialRefusedError, RunFailedError } from '../../util/errors.js';
import { join } from 'node:path';
import {
  exactDecimal,
  isoMicros,
  rowsOf,
  type Driver,
  type Fence,
  type JsonPage,
  type JsonValue,
  type SqlParam,
  type SqlParams,
  type SqlRow,
  type SqlRows,
  type SqlType,
} from '../driver.js';
import { isStagingTableOf, type StagingTables } from '../sql/sql-load.js';
import { applyMigrations, migrationFiles, migrationText } from '../sql/migrations.js';
import type { LoadRequest } from '../warehouse.js';
import { EXPORT_PAGE_ROWS, LakeParquetWriter } from '../lake-parquet.js';
import type { DuckDBSettings } from '../duckdb/duckdb-driver.js';

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

type BigQueryType = (typeof BIGQUERY_TYPES)[SqlType];
type BigQueryValue = string | number | boolean | null;

/**
 * A bound query parameter and its BigQuery type, always explicit (no guessing
 * from JS values; BigQuery has no untyped NULL): a value, or rows as an
 * ARRAY<STRUCT> whose fields are typed.
 */
export type BigQueryParam =
  | { type: BigQueryType; value: BigQueryValue }
  | { type: 'ARRAY<STRUCT>'; fields: Record<string, BigQueryType>; value: Record<string, BigQueryValue>[] };

export type BigQueryRow = Record<string, unknown>;

/** 64-bit integers as exact text. */
const exact = (value: SqlParam['value']): BigQueryValue => (typeof value === 'bigint' ? value.toString() : value);

/** A typed value, or typed rows, as BigQuery binds them. */
function bigqueryParam(param: SqlParam | SqlRows): BigQueryParam {
  if (param.type !== 'rows') return { type: BIGQUERY_TYPES[param.type], value: exact(param.value) };
  const fields = Object.fromEntries(Object.entries(param.fields).map(([name, type]) => [name, BIGQUERY_TYPES[type]]));
  const value = param.value.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, exact(v)])));
  return { type: 'ARRAY<STRUCT>', fields, value };
}

function bigqueryParams(params: SqlParams): Record<string, BigQueryParam> {
  return Object.fromEntries(Object.entries(params).map(([name, p]) => [name, bigqueryParam(p)]));
}

/** A result row as the API sends it (`skipParsing`): each cell's value as text, in schema order. */
interface WireRow {
  f: { v: WireValue }[];
}

/** A wire cell: text, or for a REPEATED field a list of cells, for a RECORD a row of them. */
type WireValue = string | null | { v: WireValue }[] | WireRow;

/**
 * A wire value as the JSON contract has it, by its field's type: BigQuery sends
 * every scalar as exact text (INT64 and NUMERIC exactly) and TIMESTAMP as int64
 * microseconds. Read this way rather than through the client's parsed values
 * (doubles, Big, wrapped integers), which also cost most of an export's CPU
 * time. An ARRAY or STRUCT becomes its JSON text.
 */
function wireJson(field: TableField, value: WireValue): JsonValue {
  const plain = wirePlain(field, value);
  return plain !== null && typeof plain === 'object' ? JSON.stringify(plain) : plain;
}

type Plain = JsonValue | Plain[] | { [name: string]: Plain };

function wirePlain(field: TableField, value: WireValue): Plain {
  if (value === null) return null;
  if (field.mode === 'REPEATED') {
    return (value as { v: WireValue }[]).map((cell) => wirePlain({ ...field, mode: 'NULLABLE' }, cell.v));
  }
  if (typeof value !== 'string') {
    const fields = field.fields ?? [];
    return Object.fromEntries(fields.map((f, i) => [f.name!, wirePlain(f, (value as WireRow).f[i]!.v)]));
  }
  switch (field.type) {
    case 'INTEGER':
    case 'INT64': {
      const number = Number(value);
      return Number.isSafeInteger(number) ? number : value;
    }
    case 'FLOAT':
    case 'FLOAT64': {
      const number = Number(value);
      return Number.isFinite(number) ? number : value; // NaN and Infinity have no JSON number
    }
    case 'NUMERIC':
    case 'BIGNUMERIC':
      return exactDecimal(value);
    case 'BOOLEAN':
    case 'BOOL':
      return value === 'true';
    case 'TIMESTAMP':
      return isoMicros(BigInt(value));
    default:
      return value;
  }
}

/** The client reads TIMESTAMP and DATE values from its own wrappers, not from plain strings. */
function clientScalar(type: BigQueryType, value: BigQueryValue): unknown {
  if (value === null) return null;
  if (type === 'TIMESTAMP') return BigQuery.timestamp(String(value));
  if (type === 'DATE') return BigQuery.date(String(value));
  return value;
}

/** A parameter's value and type as the client takes them (a struct array's type: `[{field: type}]`). */
function clientParam(param: BigQueryParam): { value: unknown; type: string | [Record<string, string>] } {
  if (param.type !== 'ARRAY<STRUCT>') return { value: clientScalar(param.type, param.value), type: param.type };
  const { fields } = param;
  const value = param.value.map((row) =>
    Object.fromEntries(Object.entries(row).map(([k, v]) => [k, clientScalar(fields[k]!, v)])),
  );
  return { value, type: [fields] };
}

/**
 * Every error names what we were doing and the job id (to find it in the
 * console), never a credential: the client's own errors can carry request
 * details, so only their messages are kept.
 */
export class BigQueryError extends RunFailedError {
  constructor(purpose: string, jobId: string, cause: unknown) {
    const reason = reasonOf(cause);
    const message = cause instanceof Error ? cause.message : String(cause);
    super(`BigQuery ${purpose} failed (job ${jobId}${reason ? `, ${reason}` : ''}): ${message}`);
  }
}

const reasonOf = (cause: unknown) => (cause as { errors?: { reason?: string }[] } | null)?.errors?.[0]?.reason;

/** 403 reasons that mean "not allowed" (others, e.g. rateLimitExceeded, pass with time). */
const DENIED = new Set(['accessDenied', 'forbidden', 'unauthorized']);

/**
 * A refused credential is a configuration error (exit 2: retrying cannot
 * help, decision 14), naming where the credential is configured; anything
 * else is a failed run.
 */
function bigQueryFailure(purpose: string, jobId: string, cause: unknown): Error {
  const status = (cause as { code?: unknown } | null)?.code;
  const reason = reasonOf(cause);
  if (status === 401 || (status === 403 && reason !== undefined && DENIED.has(reason))) {
    return new CredentialRefusedError(
      `BigQuery refused the credential while ${purpose} (HTTP ${status}, ${reason ?? 'no reason'}): check ` +
        'warehouse.access_token (or, without it, the Application Default Credentials) and its roles on the dataset',
      'warehouse.access_token',
    );
  }
  return new BigQueryError(purpose, jobId, cause);
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

  private queryJob(sql: string, params: Record<string, BigQueryParam>, jobId: string): Query {
    const query: Query = { query: sql, jobId, location: this.settings.location };
    if (Object.keys(params).length > 0) {
      const bound = Object.entries(params).map(([k, p]) => [k, clientParam(p)] as const);
      query.params = Object.fromEntries(bound.map(([k, p]) => [k, p.value]));
      query.types = Object.fromEntries(bound.map(([k, p]) => [k, p.type]));
    }
    return query;
  }

  /** Runs one statement or script as a query job and returns its rows (timestamps as int64 microseconds). */
  async query(purpose: string, sql: string, params: Record<string, BigQueryParam> = {}): Promise<BigQueryRow[]> {
    const jobId = this.jobId(purpose);
    try {
      const [job] = await this.bigquery.createQueryJob(this.queryJob(sql, params, jobId));
      const [rows] = await job.getQueryResults({ wrapIntegers: true });
      return rows as BigQueryRow[];
    } catch (error) {
      throw bigQueryFailure(purpose, jobId, error);
    }
  }

  /**
   * A query job's rows page by page (getQueryResults with maxResults and the
   * page token), so a result larger than memory is never held whole; values
   * as the JSON contract has them (see wireJson). At least one page, so an
   * empty result names its columns.
   */
  async *pages(
    purpose: string,
    sql: string,
    params: Record<string, BigQueryParam>,
    pageRows: number,
  ): AsyncGenerator<JsonPage> {
    const jobId = this.jobId(purpose);
    try {
      const [job] = await this.bigquery.createQueryJob(this.queryJob(sql, params, jobId));
      let page: QueryResultsOptions | null = { maxResults: pageRows, autoPaginate: false, skipParsing: true };
      while (page) {
        const [rows, next, response] = await job.getQueryResults(page);
        const fields = response?.schema?.fields ?? [];
        // Until the job completes, an answer holds neither rows nor schema: asked again below.
        if (response?.jobComplete !== false) {
          yield {
            columns: fields.map((field) => field.name!),
            rows: (rows as WireRow[]).map((row) =>
              Object.fromEntries(fields.map((field, i) => [field.name!, wireJson(field, row.f[i]!.v)])),
            ),
          };
        }
        // Our options plus the next page token (or again, while the job is still running); null after the last page.
        page = (next ?? null) as QueryResultsOptions | null;
      }
    } catch (error) {
      throw bigQueryFailure(purpose, jobId, error);
    }
  }

  /** Creates the dataset in the configured location if it does not exist. */
  async ensureDataset(): Promise<void> {
    const dataset = this.bigquery.dataset(this.settings.dataset);
    try {
      const [exists] = await dataset.exists();
      if (!exists) await dataset.create({ location: this.settings.location });
    } catch (error) {
      throw bigQueryFailure(`creating dataset ${this.settings.dataset}`, '-', error);
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
      throw bigQueryFailure(purpose, jobId, error);
    }
  }

  async tableExists(table: string): Promise<boolean> {
    try {
      const [exists] = await this.bigquery.dataset(this.settings.dataset).table(table).exists();
      return exists;
    } catch (error) {
      throw bigQueryFailure(`looking for table ${table}`, '-', error);
    }
  }

  /** The dataset's tables whose names start with `prefix`. */
  async tableNames(prefix: string): Promise<string[]> {
    try {
      const [tables] = await this.bigquery.dataset(this.settings.dataset).getTables();
      return tables.map((t) => t.id!).filter((id) => id.startsWith(prefix));
    } catch (error) {
      throw bigQueryFailure('listing tables', '-', error);
    }
  }

  /** Drops a table if it exists (run-scoped staging tables). */
  async dropTable(table: string): Promise<void> {
    try {
      await this.bigquery.dataset(this.settings.dataset).table(table).delete({ ignoreNotFound: true });
    } catch (error) {
      throw bigQueryFailure(`dropping ${table}`, '-', error);
    }
  }
}

/** What the fenced script raises when the lease row was not ours any more (the caller's error replaces it). */
const FENCE_REFUSED = 'aetl fence: the run lock lease is held by another run';

/**
 * The warehouse on BigQuery: load jobs into run-scoped staging tables (never
 * streaming inserts: they block DML for up to 90 minutes), then the merge and
 * the commit each as one script transaction (BigQuery has no transaction
 * across requests without sessions; a crash between them leaves a window to
 * redo, which the insert-only MERGE makes harmless).
 */
export class BigQueryDriver implements Driver {
  readonly description: string;
  readonly dialect;
  private readonly lake: LakeParquetWriter;

  /** `scratch`: the in-memory DuckDB that writes exported Parquet (its memory limit and spill folder). */
  constructor(
    readonly client: BigQueryClient,
    scratch: DuckDBSettings,
  ) {
    const { project, dataset } = client.settings;
    this.description = `BigQuery ${project}.${dataset}`;
    this.dialect = bigqueryDialect(`${project}.${dataset}`);
    this.lake = new LakeParquetWriter(scratch);
  }

  static open(settings: BigQuerySettings, scratch: DuckDBSettings): BigQueryDriver {
    return new BigQueryDriver(BigQueryClient.create(settings), scratch);
  }

  run(purpose: string, sql: string, params: SqlParams = {}): Promise<SqlRow[]> {
    return this.client.query(purpose, sql, bigqueryParams(params));
  }

  /** Creates the dataset if missing, applies our migrations; once current, checks our tables still match them. */
  async migrate(): Promise<number> {
    await this.client.ensureDataset();
    const applied = await applyMigrations(this);
    if (applied === 0) await checkDrift(this.client);
    return applied;
  }

  /** One file as one script (`{{dataset}}` is the validated dataset). */
  async applyMigration(file: string, sql: string, record: { sql: string; params: SqlParams }): Promise<void> {
    const { project, dataset } = this.client.settings;
    await this.client.query(`applying migration ${file}`, sql.replaceAll('{{dataset}}', `${project}.${dataset}`));
    await this.run(`recording migration ${file}`, record.sql, record.params);
  }

  async tableExists(table: string): Promise<boolean> {
    return this.client.tableExists(table);
  }

  /** The package's Parquet files, each through a load job into its run-scoped staging table. */
  async stage(request: LoadRequest, staging: StagingTables): Promise<void> {
    const { files } = request.manifest;
    for (const kind of ['events', 'policies', 'rejects'] as const) {
      for (const file of files[kind]) {
        await this.client.loadParquet(`loading staged ${kind}`, join(request.packageDir, file), staging[kind]);
      }
    }
  }

  transaction<T>(work: () => Promise<T>): Promise<T> {
    return work();
  }

  async runTogether(purpose: string, statements: string[], params: SqlParams, fence?: Fence): Promise<void> {
    if (!fence) return void (await this.run(purpose, transactionScript(statements), params));
    const fenced = transactionScript([fence.sql, requireOneRowChanged(FENCE_REFUSED), ...statements]);
    try {
      await this.run(purpose, fenced, { ...params, ...fence.params });
    } catch (error) {
      if (error instanceof Error && error.message.includes(FENCE_REFUSED)) throw await fence.lost(this);
      throw error;
    }
  }

  async dropStaging(_request: LoadRequest, staging: StagingTables): Promise<void> {
    for (const table of Object.values(staging)) await this.client.dropTable(table).catch(() => undefined);
  }

  async dropLeftovers(pipeline: string): Promise<void> {
    for (const table of await this.client.tableNames('_aetl_stage_')) {
      if (isStagingTableOf(pipeline, table)) await this.client.dropTable(table);
    }
  }

  async exportParquet(purpose: string, sql: string, params: SqlParams, table: string, file: string): Promise<void> {
    const pages = this.client.pages(purpose, sql, bigqueryParams(params), EXPORT_PAGE_ROWS);
    // The pages hold the JSON contract's exact values already (wireJson).
    await this.lake.write(table, file, rowsOf(pages), (value) => value as JsonValue);
  }

  streamJson(purpose: string, sql: string, params: SqlParams, pageRows: number): AsyncIterable<JsonPage> {
    return this.client.pages(purpose, sql, bigqueryParams(params), pageRows);
  }

  close(): Promise<void> {
    return this.lake.close();
  }
}

/**
 * Our tables as they are against the DDL: a column someone dropped, added as
 * another type or renamed stops the run here, named, rather than failing a
 * MERGE halfway (columns added by someone else are left alone).
 */
async function checkDrift(client: BigQueryClient): Promise<void> {
  const { project, dataset } = client.settings;
  const rows = await client.query(
    'reading our table schemas',
    `SELECT table_name, column_name, data_type FROM \`${project}.${dataset}\`.INFORMATION_SCHEMA.COLUMNS`,
  );
  const actual = new Map(rows.map((r) => [`${String(r.table_name)}.${String(r.column_name)}`, String(r.data_type)]));
  const problems: string[] = [];
  const ddl = migrationFiles('bigquery').map((file) => migrationText('bigquery', file));
  for (const [table, columns] of expectedColumns(ddl.join('\n'))) {
    for (const [column, type] of columns) {
      const found = actual.get(`${table}.${column}`);
      if (found === undefined) problems.push(`${table}.${column} is missing (expected ${type})`);
      else if (found !== type) problems.push(`${table}.${column} is ${found}, expected ${type}`);
    }
  }
  if (problems.length > 0) {
    throw new RunFailedError(
      `the BigQuery dataset ${project}.${dataset} has drifted from our schema (sql/bigquery/migrations): ` +
        `${problems.join('; ')}. Restore these columns, or load into a new dataset`,
    );
  }
}

/**
 * Each table's columns and types as our migrations declare them: `CREATE TABLE` with one column
 * per line, and `ALTER TABLE ... ADD COLUMN IF NOT EXISTS name TYPE` (as the files are written).
 */
export function expectedColumns(ddl: string): Map<string, [string, string][]> {
  const tables = new Map<string, [string, string][]>();
  for (const match of ddl.matchAll(/CREATE TABLE IF NOT EXISTS `\{\{dataset\}\}\.(\w+)` \(([\s\S]*?)\n\)/g)) {
    // A reserved word as a column name is backtick-quoted (`rows`).
    const columns = [...match[2]!.matchAll(/^\s+`?(\w+)`?\s+([A-Z0-9]+)/gm)].map(
      (c) => [c[1]!, c[2]!] as [string, string],
    );
    tables.set(match[1]!, columns);
  }
  for (const alter of ddl.matchAll(/ALTER TABLE `\{\{dataset\}\}\.(\w+)`([^;]*);/g)) {
    for (const added of alter[2]!.matchAll(/ADD COLUMN IF NOT EXISTS (\w+) ([A-Z0-9]+)/g)) {
      tables.get(alter[1]!)?.push([added[1]!, added[2]!]);
    }
  }
  return tables;
}
