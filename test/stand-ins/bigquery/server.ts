import type { IncomingMessage, ServerResponse } from 'node:http';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import {
  BIGINT,
  BOOLEAN,
  DOUBLE,
  DuckDBTimestampTZValue,
  DuckDBTypeId,
  LIST,
  listValue,
  STRUCT,
  structValue,
  TIMESTAMPTZ,
  VARCHAR,
  type DuckDBMaterializedResult,
  type DuckDBType,
  type DuckDBValue,
} from '@duckdb/node-api';
import { DuckDBBackedServer, type ServerParts } from '../duckdb-backed-server.js';
import { toDuckDB } from './translate.js';

/**
 * A BigQuery stand-in for tests: a small HTTP server on 127.0.0.1 that the
 * real `@google-cloud/bigquery` client talks to, backed by DuckDB (a dataset
 * is a schema). It serves what our loader calls: datasets and tables (get,
 * insert, delete), `jobs.query`, `getQueryResults`, multipart Parquet load
 * jobs and job polling, with BigQuery's response shapes. Not an emulator.
 * With AETL_BQ_CAPTURE_DIR set, it records every statement it receives, with
 * its parameters' types, and every table a load job leaves, one JSON line
 * each, in a file of its own there: test/zetasql judges them with ZetaSQL.
 */
export interface ParameterType {
  type: string;
  arrayType?: ParameterType;
  structTypes?: { name?: string; type: ParameterType }[];
}

interface ParameterValue {
  value?: string | boolean | null;
  arrayValues?: ParameterValue[];
  structValues?: Record<string, ParameterValue>;
}

export interface QueryParameter {
  name: string;
  parameterType?: ParameterType;
  parameterValue?: ParameterValue;
}

/** One line of a capture file: a statement with its parameters' types, or a table's schema after a load job. */
export type CapturedCall =
  | { query: string; params: Record<string, ParameterType | null> }
  | { load: string; schema: { name: string; type: string }[] };

interface JobRecord {
  resource: Record<string, unknown>;
  result?: QueryResult;
}

interface QueryResult {
  schema: { fields: { name: string; type: string; mode: string }[] };
  rows: { f: { v: string | null }[] }[];
  affected: number;
}

class HttpError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const BQ_TYPES: Partial<Record<DuckDBTypeId, string>> = {
  [DuckDBTypeId.BOOLEAN]: 'BOOLEAN',
  [DuckDBTypeId.TINYINT]: 'INTEGER',
  [DuckDBTypeId.SMALLINT]: 'INTEGER',
  [DuckDBTypeId.INTEGER]: 'INTEGER',
  [DuckDBTypeId.BIGINT]: 'INTEGER',
  [DuckDBTypeId.HUGEINT]: 'INTEGER',
  [DuckDBTypeId.UBIGINT]: 'INTEGER',
  [DuckDBTypeId.FLOAT]: 'FLOAT',
  [DuckDBTypeId.DOUBLE]: 'FLOAT',
  [DuckDBTypeId.DECIMAL]: 'NUMERIC',
  [DuckDBTypeId.VARCHAR]: 'STRING',
  [DuckDBTypeId.DATE]: 'DATE',
  [DuckDBTypeId.TIMESTAMP_TZ]: 'TIMESTAMP',
  [DuckDBTypeId.TIMESTAMP]: 'DATETIME',
};

function bqType(type: DuckDBType): string {
  if (type.alias === 'JSON') return 'JSON';
  return BQ_TYPES[type.typeId] ?? 'STRING';
}

/** BigQuery's wire form of a value: text, timestamps as int64 microseconds. */
function wireValue(value: DuckDBValue, type: DuckDBType): string | null {
  if (value === null) return null;
  if (type.typeId === DuckDBTypeId.TIMESTAMP_TZ || type.typeId === DuckDBTypeId.TIMESTAMP) {
    return String((value as { micros: bigint }).micros);
  }
  return String(value);
}

/**
 * BigQuery refuses a query its planner finds too complex; a long UNION ALL
 * chain (a SELECT per inserted row) is one. Its limit is not a published
 * number: the stand-in refuses past this many.
 */
const MAX_UNIONS = 100;
const COMPLEXITY_ERROR =
  'Resources exceeded during query execution: Not enough resources for query planning - too many subqueries or query is too complex.';

/** A parameter's value as DuckDB binds it: arrays of structs too (BigQuery's `UNNEST(@rows)`). */
function bindValue(type: ParameterType, parameterValue: ParameterValue | undefined): DuckDBValue {
  if (type.type === 'ARRAY') {
    return listValue((parameterValue?.arrayValues ?? []).map((item) => bindValue(type.arrayType!, item)));
  }
  if (type.type === 'STRUCT') {
    const fields = type.structTypes!.map((f) => [f.name!, bindValue(f.type, parameterValue?.structValues?.[f.name!])]);
    return structValue(Object.fromEntries(fields));
  }
  const value = parameterValue?.value;
  if (value === undefined || value === null) return null;
  switch (type.type) {
    case 'INT64':
      return BigInt(value);
    case 'FLOAT64':
      return Number(value);
    case 'BOOL':
      return String(value) === 'true'; // the client sends booleans as JSON booleans
    case 'TIMESTAMP': {
      // Typed, as BigQuery binds it (text would leave `@from - INTERVAL ...` without a type).
      const text = String(value);
      const fraction = /\.(\d+)/.exec(text)?.[1] ?? '';
      return new DuckDBTimestampTZValue(BigInt(Date.parse(text)) * 1000n + BigInt(fraction.padEnd(6, '0').slice(3, 6)));
    }
    default:
      return String(value);
  }
}

/** The DuckDB type of an array or struct parameter (DuckDB cannot infer one from a list that may be empty or hold NULLs). */
function nestedType(type: ParameterType): DuckDBType {
  if (type.type === 'ARRAY') return LIST(nestedType(type.arrayType!));
  if (type.type === 'STRUCT')
    return STRUCT(Object.fromEntries(type.structTypes!.map((f) => [f.name!, nestedType(f.type)])));
  return { INT64: BIGINT, FLOAT64: DOUBLE, BOOL: BOOLEAN, TIMESTAMP: TIMESTAMPTZ }[type.type] ?? VARCHAR; // text that DuckDB casts where it is used
}

/** BigQuery functions our SQL calls that DuckDB lacks (only the formats we use). */
const BIGQUERY_FUNCTIONS = [
  'CREATE MACRO parse_date(fmt, s) AS CAST(strptime(s, fmt) AS DATE)',
  // SAFE.PARSE_JSON (translate.ts): NULL for text that is not JSON; DuckDB reads wide numbers anyway.
  "CREATE MACRO safe_parse_json(text, wide_number_mode := 'exact') AS TRY_CAST(text AS JSON)",
  // The JSON text of any value, typed STRING (not JSON) as in BigQuery.
  'CREATE MACRO to_json_string(x) AS CAST(to_json(x) AS VARCHAR)',
  // JSON_KEYS(json, max_depth), translated to this name: DuckDB's json_keys takes a path second.
  "CREATE MACRO bq_json_keys(j, depth) AS CASE WHEN depth = 1 THEN json_keys(j) ELSE error('the stand-in knows JSON_KEYS with max_depth 1 only') END",
  // Of a JSON array of strings (the only kind we pass).
  `CREATE MACRO json_value_array(j) AS from_json(j, '["VARCHAR"]')`,
  // Integer division (of the non-negative values we divide: DuckDB rounds down, BigQuery toward zero).
  'CREATE MACRO div(x, y) AS x // y',
];

/** Statements of a script, split at semicolons ending a line (our SQL has none inside literals; `IF ... END IF` is one line). */
function statementsOf(script: string): string[] {
  return script
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export class BigQueryStandIn extends DuckDBBackedServer {
  /** Every statement received, as BigQuery SQL, in order. */
  readonly statements: string[] = [];
  /** Rows of each page getQueryResults served (an export pages through its result). */
  readonly pagesServed: number[] = [];
  readonly jobs = new Map<string, JobRecord>();
  private readonly uploads = mkdtempSync(join(tmpdir(), 'bq-standin-'));
  private readonly captureFile = process.env.AETL_BQ_CAPTURE_DIR
    ? join(process.env.AETL_BQ_CAPTURE_DIR, `bigquery-${randomUUID()}.jsonl`)
    : null;

  private constructor(
    parts: ServerParts,
    private readonly token: string,
  ) {
    super(parts);
  }

  static async start(token: string): Promise<BigQueryStandIn> {
    return new BigQueryStandIn(await DuckDBBackedServer.open(BIGQUERY_FUNCTIONS), token);
  }

  protected cleanup(): void {
    rmSync(this.uploads, { recursive: true, force: true });
  }

  private capturing = true;

  private capture(call: CapturedCall): void {
    if (this.captureFile && this.capturing) appendFileSync(this.captureFile, `${JSON.stringify(call)}\n`);
  }

  /**
   * Records a table's schema as it is now, as after a load job: one a load
   * made, or one a test made behind BigQuery's back (with `rows`), so the
   * analysis of the captured SQL knows it.
   */
  async captureTable(project: string, dataset: string, table: string): Promise<void> {
    const { schema } = (await this.getTable(project, dataset, table)) as {
      schema: { fields: { name: string; type: string }[] };
    };
    this.capture({
      load: `${project}.${dataset}.${table}`,
      schema: schema.fields.map(({ name, type }) => ({ name, type })),
    });
  }

  /** Runs `work` with nothing recorded: for a test that sends invalid SQL on purpose. */
  async uncaptured<T>(work: () => Promise<T>): Promise<T> {
    this.capturing = false;
    try {
      return await work();
    } finally {
      this.capturing = true;
    }
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await DuckDBBackedServer.body(req);
    try {
      if (req.headers.authorization !== `Bearer ${this.token}`) {
        throw new HttpError(401, 'unauthorized', 'Request had invalid authentication credentials.');
      }
      const url = new URL(req.url!, this.url);
      // One job at a time, each atomic: a serial order BigQuery could have chosen (it runs jobs at
      // once, and cancels one of two transactions that mutate the same table: not modelled).
      const reply = await this.exclusive(() => this.route(req.method!, url, req.headers['content-type'] ?? '', body));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(reply));
    } catch (error) {
      const e = error instanceof HttpError ? error : new HttpError(400, 'invalidQuery', (error as Error).message);
      res.writeHead(e.code, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: { code: e.code, message: e.message, errors: [{ reason: e.reason, message: e.message }] },
        }),
      );
    }
  }

  private async route(method: string, url: URL, contentType: string, body: Buffer): Promise<unknown> {
    const path = url.pathname;
    let m: RegExpExecArray | null;
    if (method === 'POST' && (m = /^\/upload\/bigquery\/v2\/projects\/([^/]+)\/jobs$/.exec(path))) {
      return this.load(m[1]!, contentType, body);
    }
    const base = /^\/bigquery\/v2\/projects\/([^/]+)(\/.*)?$/.exec(path);
    if (!base) throw new HttpError(404, 'notFound', `Not found: ${path}`);
    const project = base[1]!;
    const rest = base[2] ?? '';
    const json = body.length > 0 ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {};
    if (method === 'POST' && rest === '/queries') return this.query(project, json);
    if (method === 'POST' && rest === '/jobs') return this.insertQueryJob(project, json);
    if (method === 'GET' && (m = /^\/queries\/([^/]+)$/.exec(rest))) return this.queryResults(m[1]!, url.searchParams);
    if (method === 'GET' && (m = /^\/jobs\/([^/]+)$/.exec(rest))) return this.job(m[1]!).resource;
    if (method === 'POST' && rest === '/datasets') return this.createDataset(project, json);
    if ((m = /^\/datasets\/([^/]+)$/.exec(rest)) && method === 'GET') return this.getDataset(project, m[1]!);
    if ((m = /^\/datasets\/([^/]+)\/tables$/.exec(rest)) && method === 'GET') return this.listTables(project, m[1]!);
    if ((m = /^\/datasets\/([^/]+)\/tables\/([^/]+)$/.exec(rest))) {
      if (method === 'GET') return this.getTable(project, m[1]!, m[2]!);
      if (method === 'DELETE') return this.deleteTable(m[1]!, m[2]!);
    }
    throw new HttpError(404, 'notFound', `Not found: ${method} ${path}`);
  }

  private job(id: string): JobRecord {
    const job = this.jobs.get(id);
    if (!job) throw new HttpError(404, 'notFound', `Not found: Job ${id}`);
    return job;
  }

  private async schemaExists(dataset: string): Promise<boolean> {
    const rows = await this.read(`SELECT 1 FROM information_schema.schemata WHERE schema_name = '${dataset}'`);
    return rows.length > 0;
  }

  private async getDataset(project: string, dataset: string): Promise<unknown> {
    if (!(await this.schemaExists(dataset)))
      throw new HttpError(404, 'notFound', `Not found: Dataset ${project}:${dataset}`);
    return {
      kind: 'bigquery#dataset',
      id: `${project}:${dataset}`,
      datasetReference: { projectId: project, datasetId: dataset },
    };
  }

  private async createDataset(project: string, json: Record<string, unknown>): Promise<unknown> {
    const dataset = (json.datasetReference as { datasetId: string }).datasetId;
    if (await this.schemaExists(dataset))
      throw new HttpError(409, 'duplicate', `Already Exists: Dataset ${project}:${dataset}`);
    await this.connection.run(`CREATE SCHEMA "${dataset}"`);
    return { ...json, kind: 'bigquery#dataset', id: `${project}:${dataset}` };
  }

  private async getTable(project: string, dataset: string, table: string): Promise<unknown> {
    const columns = await this.read(
      `SELECT column_name, data_type, is_nullable FROM information_schema.columns
       WHERE table_schema = '${dataset}' AND table_name = '${table}' ORDER BY ordinal_position`,
    );
    if (columns.length === 0) throw new HttpError(404, 'notFound', `Not found: Table ${project}:${dataset}.${table}`);
    const reader = await this.connection.runAndReadAll(`SELECT * FROM "${dataset}"."${table}" LIMIT 0`);
    const fields = reader.columnNames().map((name, i) => ({
      name,
      type: bqType(reader.columnTypes()[i]!),
      mode: columns[i]!.is_nullable === 'NO' ? 'REQUIRED' : 'NULLABLE',
    }));
    return {
      kind: 'bigquery#table',
      tableReference: { projectId: project, datasetId: dataset, tableId: table },
      schema: { fields },
    };
  }

  private async listTables(project: string, dataset: string): Promise<unknown> {
    const rows = await this.read(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = '${dataset}' ORDER BY 1`,
    );
    const tables = rows.map((r) => ({
      kind: 'bigquery#table',
      id: `${project}:${dataset}.${String(r.table_name)}`,
      tableReference: { projectId: project, datasetId: dataset, tableId: String(r.table_name) },
    }));
    return { kind: 'bigquery#tableList', tables, totalItems: tables.length };
  }

  private async deleteTable(dataset: string, table: string): Promise<unknown> {
    const exists = await this.read(
      `SELECT 1 FROM information_schema.tables WHERE table_schema = '${dataset}' AND table_name = '${table}'`,
    );
    if (exists.length === 0) throw new HttpError(404, 'notFound', `Not found: Table ${dataset}.${table}`);
    await this.connection.run(`DROP TABLE "${dataset}"."${table}"`);
    return {};
  }

  private async execute(sql: string, parameters: QueryParameter[]): Promise<QueryResult> {
    this.statements.push(sql);
    this.capture({ query: sql, params: Object.fromEntries(parameters.map((p) => [p.name, p.parameterType ?? null])) });
    // BigQuery types every parameter from its declaration, never from the value: a NULL needs a type too.
    const untyped = parameters.find((p) => !p.parameterType?.type);
    if (untyped) throw new HttpError(400, 'invalidQuery', `Query parameter '${untyped.name}' has no parameterType`);
    const unions = sql.match(/\bUNION\s+ALL\b/gi)?.length ?? 0;
    if (unions > MAX_UNIONS) {
      throw new HttpError(
        400,
        'resourcesExceeded',
        `${COMPLEXITY_ERROR} (the stand-in's limit: ${MAX_UNIONS} UNION ALL, this has ${unions})`,
      );
    }
    const values = Object.fromEntries(parameters.map((p) => [p.name, bindValue(p.parameterType!, p.parameterValue)]));
    const nested = parameters.filter((p) => ['ARRAY', 'STRUCT'].includes(p.parameterType!.type));
    const nestedTypes = Object.fromEntries(nested.map((p) => [p.name, nestedType(p.parameterType!)]));
    // With a capturing group, BigQuery's REGEXP_EXTRACT_ALL returns the group, DuckDB's the whole match.
    if (/\bREGEXP_EXTRACT_ALL\b/i.test(sql) && Object.values(values).some((v) => /(^|[^\\])\((?!\?)/.test(String(v)))) {
      throw new HttpError(400, 'invalidQuery', 'stand-in: a capturing group in REGEXP_EXTRACT_ALL is not modelled');
    }
    let last: DuckDBMaterializedResult | undefined;
    let affected = 0;
    try {
      for (const statement of statementsOf(toDuckDB(sql))) {
        const used = Object.fromEntries(
          Object.entries(values).filter(([name]) => new RegExp(`\\$${name}\\b`).test(statement)),
        );
        last = await this.connection.run(statement, used, nestedTypes);
        affected += last.rowsChanged;
        // @@row_count: what the script's previous statement changed if it was DML, else NULL.
        const dml = /^(INSERT|UPDATE|DELETE|MERGE)\b/i.test(statement) ? last.rowsChanged : null;
        await this.connection.run(`SET VARIABLE row_count = ${dml === null ? 'NULL' : dml}`);
      }
    } catch (error) {
      // As BigQuery does, a failed script leaves no transaction open behind it.
      await this.connection.run('ROLLBACK').catch(() => undefined);
      throw error;
    }
    if (!last || last.columnCount === 0) return { schema: { fields: [] }, rows: [], affected };
    const names = last.columnNames();
    const types = last.columnTypes();
    const rows = (await last.getRows()).map((row) => ({ f: row.map((v, i) => ({ v: wireValue(v, types[i]!) })) }));
    const fields = names.map((name, i) => ({ name, type: bqType(types[i]!), mode: 'NULLABLE' }));
    return { schema: { fields }, rows, affected };
  }

  private async query(project: string, request: Record<string, unknown>): Promise<unknown> {
    const jobId = `job_${randomUUID().replace(/-/g, '')}`;
    const jobReference = { projectId: project, jobId, location: request.location ?? 'US' };
    const result = await this.execute(String(request.query), (request.queryParameters as QueryParameter[]) ?? []);
    const resource = {
      kind: 'bigquery#job',
      jobReference,
      status: { state: 'DONE' },
      configuration: { query: { query: request.query } },
    };
    this.jobs.set(jobId, { resource, result });
    return this.resultsOf(jobReference, result);
  }

  /** jobs.insert of a query job: a failed statement is a DONE job carrying its error, as in BigQuery. */
  private async insertQueryJob(project: string, request: Record<string, unknown>): Promise<unknown> {
    const reference = request.jobReference as { jobId: string; location?: string };
    const config = (request.configuration as { query: { query: string; queryParameters?: QueryParameter[] } }).query;
    const jobReference = { projectId: project, jobId: reference.jobId, location: reference.location ?? 'US' };
    const status: Record<string, unknown> = { state: 'DONE' };
    let result: QueryResult | undefined;
    try {
      result = await this.execute(config.query, config.queryParameters ?? []);
    } catch (error) {
      status.errorResult = { reason: 'invalidQuery', location: 'query', message: (error as Error).message };
      status.errors = [status.errorResult];
    }
    const resource = { kind: 'bigquery#job', jobReference, status, configuration: request.configuration };
    this.jobs.set(reference.jobId, result ? { resource, result } : { resource });
    return resource;
  }

  /** One page of a result: `maxResults` rows from `start`, with a page token when more follow (as BigQuery pages). */
  private resultsOf(jobReference: unknown, result: QueryResult, start = 0, maxResults = Infinity): unknown {
    const end = Math.min(result.rows.length, start + maxResults);
    return {
      kind: 'bigquery#queryResponse',
      jobReference,
      jobComplete: true,
      schema: result.schema,
      rows: result.rows.slice(start, end),
      totalRows: String(result.rows.length),
      numDmlAffectedRows: String(result.affected),
      ...(end < result.rows.length && { pageToken: `row-${end}` }),
    };
  }

  private queryResults(jobId: string, params: URLSearchParams): unknown {
    const job = this.job(jobId);
    const start = Number(/^row-(\d+)$/.exec(params.get('pageToken') ?? '')?.[1] ?? 0);
    const maxResults = params.has('maxResults') ? Number(params.get('maxResults')) : Infinity;
    const page = this.resultsOf(job.resource.jobReference, job.result!, start, maxResults) as { rows: unknown[] };
    this.pagesServed.push(page.rows.length);
    return page;
  }

  /** A multipart upload: the load configuration as JSON, then the Parquet file. */
  private async load(project: string, contentType: string, body: Buffer): Promise<unknown> {
    const boundary = /boundary="?([^";]+)"?/.exec(contentType)?.[1];
    if (!boundary) throw new HttpError(400, 'invalid', 'expected a multipart upload');
    const parts = splitMultipart(body, boundary);
    const metadata = JSON.parse(parts[0]!.toString('utf8')) as {
      configuration: { load: { destinationTable: { datasetId: string; tableId: string }; writeDisposition?: string } };
      jobReference: { jobId: string; location?: string };
    };
    const { destinationTable, writeDisposition } = metadata.configuration.load;
    const file = join(this.uploads, `${randomUUID()}.parquet`);
    writeFileSync(file, parts[1]!);
    const target = `"${destinationTable.datasetId}"."${destinationTable.tableId}"`;
    const exists =
      (
        await this.read(
          `SELECT 1 FROM information_schema.tables WHERE table_schema = '${destinationTable.datasetId}' AND table_name = '${destinationTable.tableId}'`,
        )
      ).length > 0;
    const source = `SELECT * FROM read_parquet('${file}')`;
    const status: Record<string, unknown> = { state: 'DONE' };
    try {
      if (!exists || writeDisposition === 'WRITE_TRUNCATE')
        await this.connection.run(`CREATE OR REPLACE TABLE ${target} AS ${source}`);
      else await this.connection.run(`INSERT INTO ${target} BY NAME ${source}`); // BigQuery matches Parquet columns by name
      await this.captureTable(project, destinationTable.datasetId, destinationTable.tableId);
    } catch (error) {
      status.errorResult = { reason: 'invalid', message: (error as Error).message };
      status.errors = [status.errorResult];
    }
    const jobReference = {
      projectId: project,
      jobId: metadata.jobReference.jobId,
      location: metadata.jobReference.location ?? 'US',
    };
    const resource = {
      kind: 'bigquery#job',
      id: `${project}:${jobReference.location}.${jobReference.jobId}`,
      jobReference,
      configuration: metadata.configuration,
      status,
    };
    this.jobs.set(jobReference.jobId, { resource });
    return resource;
  }
}

function splitMultipart(body: Buffer, boundary: string): Buffer[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Buffer[] = [];
  let start = body.indexOf(delimiter);
  while (start !== -1) {
    const next = body.indexOf(delimiter, start + delimiter.length);
    if (next === -1) break;
    const part = body.subarray(start + delimiter.length, next);
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd !== -1) parts.push(part.subarray(headerEnd + 4, part.length - 2)); // drop the trailing CRLF
    start = next;
  }
  return parts;
}
