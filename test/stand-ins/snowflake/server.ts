import type { IncomingMessage, ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join, sep } from 'node:path';
import { createHash, randomUUID, verify, type KeyObject } from 'node:crypto';
import { DuckDBTypeId, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';
import { DuckDBBackedServer, type ServerParts } from '../duckdb-backed-server.js';
import { rewriteCalls } from '../sql-calls.js';

/**
 * A Snowflake stand-in for tests: a small HTTP server on 127.0.0.1 that the
 * real `snowflake-sdk` driver talks to, backed by DuckDB (a database is an
 * attached catalog, created at login with its schema, as an administrator
 * would have). It serves what our loader calls: password and key-pair (JWT)
 * login, statements with positional binds and JSON rowsets, errors with query
 * ids, `PUT` to a local stage (the driver copies the file itself when told the
 * stage is `LOCAL_FS`), `COPY INTO` from it with Snowflake's load history,
 * `REMOVE`, and transactions. Not an emulator.
 *
 * Sessions share one DuckDB connection, so a transaction is isolated the
 * coarse way: while one session has one open, every other session's
 * statements wait for it to end (Snowflake makes only conflicting DML wait),
 * at most LOCK_WAIT_MS, then fail as at Snowflake's LOCK_TIMEOUT. Closing a
 * session rolls back its open transaction, as Snowflake does; a transaction
 * left open by a client that went away (killed) is aborted once it blocks
 * another and has been idle IDLE_ABORT_MS, as Snowflake aborts a detached
 * one, and its session's next statements fail until it rolls back.
 */
type Json = Record<string, unknown>;
interface Binding {
  type: string;
  value: string | null | (string | null)[];
}

const STATEMENT_TYPES: Record<string, number> = {
  SELECT: 0x1000,
  WITH: 0x1000,
  INSERT: 0x3100,
  UPDATE: 0x3200,
  DELETE: 0x3300,
  MERGE: 0x3400,
};
const DML_COLUMNS: Record<number, string> = {
  0x3100: 'number of rows inserted',
  0x3200: 'number of rows updated',
  0x3300: 'number of rows deleted',
};

/** "seconds.nanoseconds" since the epoch, as Snowflake's JSON rowsets write times. */
function secondsText(micros: bigint): string {
  let seconds = micros / 1_000_000n;
  let rest = micros % 1_000_000n;
  if (rest < 0n) {
    rest += 1_000_000n;
    seconds -= 1n;
  }
  return `${seconds}.${String(rest * 1000n).padStart(9, '0')}`;
}

function columnType(name: string, type: DuckDBType): Json {
  const base = { name, nullable: true, scale: null as number | null, precision: null as number | null };
  if (type.alias === 'JSON') return { ...base, type: 'variant' }; // the driver parses a VARIANT's JSON text
  switch (type.typeId) {
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.HUGEINT:
      return { ...base, type: 'fixed', precision: 38, scale: 0 };
    case DuckDBTypeId.DECIMAL: {
      const decimal = type as unknown as { width: number; scale: number };
      return { ...base, type: 'fixed', precision: decimal.width, scale: decimal.scale };
    }
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE:
      return { ...base, type: 'real' };
    case DuckDBTypeId.BOOLEAN:
      return { ...base, type: 'boolean' };
    case DuckDBTypeId.DATE:
      return { ...base, type: 'date' };
    case DuckDBTypeId.TIMESTAMP:
      return { ...base, type: 'timestamp_ntz', scale: 9 };
    case DuckDBTypeId.TIMESTAMP_TZ:
      return { ...base, type: 'timestamp_tz', scale: 9 };
    default:
      return { ...base, type: 'text' };
  }
}

function cell(value: DuckDBValue, type: DuckDBType): string | null {
  if (value === null) return null;
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN:
      return value ? '1' : '0';
    case DuckDBTypeId.DATE:
      return String((value as { days: number }).days);
    case DuckDBTypeId.TIMESTAMP:
      return secondsText((value as { micros: bigint }).micros);
    case DuckDBTypeId.TIMESTAMP_TZ:
      return `${secondsText((value as { micros: bigint }).micros)} 1440`; // offset minutes + 1440: UTC
    default:
      return String(value);
  }
}

function bindValue(type: string, value: string | null): DuckDBValue {
  if (value === null) return null;
  if (type === 'FIXED') return /^-?\d+$/.test(value) ? BigInt(value) : Number(value);
  if (type === 'REAL') return Number(value);
  if (type === 'BOOLEAN') return value.toLowerCase() === 'true' || value === '1';
  return value;
}

/** Rows of positional bind values (a multi-row bind arrives as one array per column). */
function bindRows(bindings: Record<string, Binding> | undefined): DuckDBValue[][] | null {
  if (!bindings) return null;
  const columns = Object.keys(bindings)
    .sort((a, b) => Number(a) - Number(b))
    .map((key) => bindings[key]!);
  if (columns.length > 0 && Array.isArray(columns[0]!.value)) {
    const n = (columns[0]!.value as unknown[]).length;
    return Array.from({ length: n }, (_, i) =>
      columns.map((c) => bindValue(c.type, (c.value as (string | null)[])[i] ?? null)),
    );
  }
  return [columns.map((c) => bindValue(c.type, c.value as string | null))];
}

/**
 * `LATERAL FLATTEN(input => x)`: over an array (REGEXP_SUBSTR_ALL's), one row per element, read
 * for its VALUE column; over an object, one row per key, read for its KEY column (none for NULL).
 */
function flattens(sql: string): string {
  return rewriteCalls(sql, 'LATERAL FLATTEN(', (inner) => {
    const input = inner.replace(/^\s*input\s*=>\s*/i, '');
    const rows = /^REGEXP_SUBSTR_ALL\(/i.test(input)
      ? `unnest(${input}) AS value`
      : `unnest(json_keys(${input})) AS key`;
    return { text: `LATERAL (SELECT ${rows})`, consumed: 0 };
  });
}

/** Snowflake SQL as we emit it → DuckDB: type and function names and `:n` binds, outside literals. */
export function toDuckDB(sql: string): string {
  return (
    flattens(sql)
      .replace(
        /\bGET_PATH\(([^,]+),\s*'([^']*)'\)::STRING/g,
        (_, json: string, path: string) => `json_extract_string(${json}, '$${path.startsWith('[') ? '' : '.'}${path}')`,
      )
      // A JSON value cast to text is the string itself in Snowflake, its JSON text in DuckDB.
      .replace(/\((TRY_PARSE_JSON\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\))\)::STRING/g, "json_extract_string($1, '$$')")
      .replace(/"[A-Z0-9_$]+"\.INFORMATION_SCHEMA\./g, 'INFORMATION_SCHEMA.')
      // LISTAGG of no (or only NULL) values is '' in Snowflake, where DuckDB's string_agg gives NULL.
      .replace(
        /\bLISTAGG\((.+?),\s*('(?:[^']|'')*')\)\s*WITHIN GROUP\s*\(ORDER BY ([^()]+)\)/gi,
        "COALESCE(string_agg($1, $2 ORDER BY $3), '')",
      )
      // The session's zone is UTC (ours and the stand-in's): a TIMESTAMP_TZ shown in UTC is itself.
      .replace(/\bCONVERT_TIMEZONE\(\s*'UTC'\s*,\s*([^()]+?)\)/gi, '($1)')
      .split(/('(?:[^']|'')*'|"(?:[^"]|"")*")/)
      .map((piece, i) =>
        i % 2 === 1
          ? piece.replace(/^('\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) \+00:00'$/, "$1+00'") // DuckDB reads +00, not ' +00:00'
          : piece
              .replace(/\bTO_TIMESTAMP_TZ\(([^()]*)\)/gi, 'CAST($1 AS TIMESTAMPTZ)')
              .replace(/\bCURRENT_TIMESTAMP\(\)/gi, 'now()')
              // A test's generated rows: GENERATOR's rows as DuckDB's range(), SEQ4() as its column.
              .replace(/\bTABLE\(\s*GENERATOR\(\s*ROWCOUNT\s*=>\s*(\d+)\s*\)\s*\)/gi, 'range($1)')
              .replace(/\bSEQ4\(\)/gi, 'range')
              .replace(
                /\bDATEADD\(\s*millisecond\s*,\s*(CAST\([^()]*\)|[^,()]+)\s*,\s*now\(\)\s*\)/gi,
                '(now() + to_milliseconds($1))',
              )
              .replace(/\bDATE_PART\(\s*epoch_millisecond\s*,/gi, 'epoch_ms(')
              .replace(/\bPARSE_JSON\(/gi, 'json(')
              .replace(/\bTO_JSON\(/gi, 'sf_to_json(')
              .replace(/\bARRAY_CONTAINS\(/gi, 'sf_array_contains(')
              .replace(/\bIFF\(/gi, 'if(')
              .replace(/\bCREATE OR REPLACE TRANSIENT TABLE\b/gi, 'CREATE OR REPLACE TABLE')
              .replace(/\bVARIANT\b/gi, 'JSON')
              .replace(/\bNUMBER\(/gi, 'DECIMAL(')
              .replace(/\bFLOAT\b/gi, 'DOUBLE') // Snowflake's FLOAT is 64-bit; DuckDB's is 32
              .replace(/\bTIMESTAMP_TZ\b/gi, 'TIMESTAMPTZ')
              .replace(/\bTIMESTAMP_LTZ\b/gi, 'TIMESTAMPTZ')
              .replace(/\bTIMESTAMP_NTZ\b/gi, 'TIMESTAMP')
              .replace(/(?<!:):(\d+)\b/g, '$$$1'),
      )
      .join('')
  );
}

/** Rows a result sends inline, and in each further chunk (Snowflake sends large results in chunks). */
const CHUNK_ROWS = 10_000;
/** How long a statement waits for another session's transaction (the driver asks for 600 s; tests want less). */
const LOCK_WAIT_MS = 10_000;
/** Snowflake aborts a transaction that blocks another once idle 5 minutes: half the driver's LOCK_TIMEOUT, scaled alike. */
const IDLE_ABORT_MS = LOCK_WAIT_MS / 2;
/** `inTurn`'s answer while another session's transaction is open. */
const BUSY = Symbol('busy');

const ok = (data: unknown) => ({ success: true, code: null, message: null, data });
const failure = (code: string, message: string, data: unknown) => ({ success: false, code, message, data });

/** A stage reference (`@"DB"."S"."STAGE"/path/`) as a folder under the stage root. */
function stageFolder(root: string, reference: string): string {
  const [stage, ...path] = reference.replace(/^@~?/, '').split('/');
  return join(root, ...stage!.replaceAll('"', '').split('.'), ...path.filter(Boolean)) + sep;
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/** A statement's result as Snowflake's JSON rowset (all text). */
function textRowset(queryId: string, columns: string[], rows: (string | null)[][]): unknown {
  return ok({
    queryId,
    rowtype: columns.map((name) => ({ name, type: 'text', nullable: true, scale: null, precision: null })),
    rowset: rows,
    total: rows.length,
    returned: rows.length,
    version: 1,
    statementTypeId: 0x1000,
    parameters: [],
  });
}

/** A successful result carries the session's parameters, as Snowflake's results do. */
function withParameters(reply: unknown, parameters: { name: string; value: unknown }[]): unknown {
  const r = reply as { success: boolean; data: Json | null };
  if (r.success && r.data) r.data.parameters = parameters;
  return reply;
}

/** JWT (RS256) as the driver signs it for key-pair login, checked against the user's public key. */
function validJwt(token: string, publicKey: KeyObject): boolean {
  const [header, payload, signature] = token.split('.');
  if (!header || !payload || !signature) return false;
  return verify('RSA-SHA256', Buffer.from(`${header}.${payload}`), publicKey, Buffer.from(signature, 'base64url'));
}

/** Snowflake functions our SQL calls that DuckDB lacks (only the formats we use: YYYYMMDD). */
const SNOWFLAKE_FUNCTIONS = [
  'CREATE MACRO to_varchar(x) AS CAST(x AS VARCHAR)',
  "CREATE MACRO to_date(s, fmt) AS CASE WHEN fmt = 'YYYYMMDD' THEN CAST(strptime(s, '%Y%m%d') AS DATE) " +
    "ELSE error('the stand-in knows TO_DATE with YYYYMMDD only, not ' || fmt) END",
  'CREATE MACRO try_parse_json(text) AS TRY_CAST(text AS JSON)',
  'CREATE MACRO regexp_substr_all(subject, pattern) AS regexp_extract_all(subject, pattern)',
  "CREATE MACRO get(v, k) AS json_extract(v, '$.' || k)",
  // Of strings only, as we call them; ARRAY_CONTAINS is renamed to this (DuckDB's own takes the list first).
  'CREATE MACRO to_variant(x) AS x',
  // TO_JSON gives the JSON text as a VARCHAR, not a VARIANT the driver would parse.
  'CREATE MACRO sf_to_json(x) AS CAST(x AS VARCHAR)',
  `CREATE MACRO sf_array_contains(v, arr) AS list_contains(from_json(arr, '["VARCHAR"]'), v)`,
];

export interface StandInUser {
  password?: string;
  publicKey?: KeyObject;
  /**
   * Statements matching it fail with a message that echoes the password, as a
   * careless proxy or server might: for tests of the redaction layer.
   */
  failEchoingPassword?: RegExp;
}

export class SnowflakeStandIn extends DuckDBBackedServer {
  /** Every statement received, in order. */
  readonly statements: string[] = [];
  readonly stageRoot = mkdtempSync(join(tmpdir(), 'sf-stage-'));
  /** Session token → the session parameters the driver set at login, returned with every result as Snowflake does. */
  private readonly sessions = new Map<string, { name: string; value: unknown }[]>();
  /** COPY's load history: `table|file|md5` loaded before (Snowflake keeps it 64 days, per table). */
  private readonly loadHistory = new Set<string>();
  /** Result chunks not downloaded yet, by id. */
  private readonly chunks = new Map<string, { body: string; rows: number }>();
  /** Rows of each result chunk downloaded (a streamed result is fetched as it is read). */
  readonly chunksServed: number[] = [];
  /** The session whose transaction is open (BEGIN until COMMIT or ROLLBACK). */
  private inTransaction: string | undefined;
  /** When that session's last statement ended. */
  private transactionActiveAt = 0;
  /** Sessions whose transaction was aborted while idle: their statements fail until they roll back. */
  private readonly aborted = new Set<string>();

  private constructor(
    parts: ServerParts,
    private readonly user: StandInUser,
  ) {
    super(parts);
  }

  static async start(user: string | StandInUser): Promise<SnowflakeStandIn> {
    return new SnowflakeStandIn(
      await DuckDBBackedServer.open(SNOWFLAKE_FUNCTIONS),
      typeof user === 'string' ? { password: user } : user,
    );
  }

  protected cleanup(): void {
    rmSync(this.stageRoot, { recursive: true, force: true });
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw = await DuckDBBackedServer.body(req);
    if ((req.headers['content-encoding'] ?? '').toLowerCase() === 'gzip') raw = gunzipSync(raw);
    const body = raw.length > 0 ? (JSON.parse(raw.toString('utf8')) as Json) : {};
    const url = new URL(req.url!, this.url);
    const chunk = /^\/chunks\/([0-9a-f-]+)$/.exec(url.pathname)?.[1];
    if (chunk !== undefined) return this.serveChunk(chunk, res);
    const token = /Snowflake Token="([^"]*)"/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    let reply: unknown;
    if (url.pathname === '/session/v1/login-request') {
      reply = await this.inTurn(undefined, () => this.login(body.data as Json, url.searchParams));
    } else if (url.pathname === '/session' && url.searchParams.get('delete') === 'true') {
      reply = await this.closeSession(token);
    } else if (url.pathname === '/telemetry/send' || url.pathname === '/session') {
      reply = { success: true, code: null, message: null, data: null };
    } else if (url.pathname === '/queries/v1/query-request') {
      const parameters = this.sessions.get(token);
      const sqlText = String(body.sqlText ?? '');
      reply = parameters
        ? withParameters(
            await this.inTurn(token, () =>
              this.query(token, sqlText, body.bindings as Record<string, Binding> | undefined),
            ),
            parameters,
          )
        : failure('390104', 'Authentication token has expired.', null);
    } else {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
  }

  /** Runs `work` for `session` once no other session's transaction is open (see the class comment). */
  private async inTurn(session: string | undefined, work: () => Promise<unknown>): Promise<unknown> {
    const until = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      const reply = await this.exclusive(async () => {
        if (this.inTransaction !== undefined && this.inTransaction !== session) {
          if (Date.now() - this.transactionActiveAt < IDLE_ABORT_MS) return BUSY;
          await this.connection.run('ROLLBACK');
          this.aborted.add(this.inTransaction);
          this.inTransaction = undefined;
        }
        const result = await work();
        if (session !== undefined && session === this.inTransaction) this.transactionActiveAt = Date.now();
        return result;
      });
      if (reply !== BUSY) return reply;
      if (Date.now() > until) {
        return failure(
          '000625',
          `Statement waited more than ${LOCK_WAIT_MS / 1000} s for a lock held by another transaction`,
          {
            queryId: randomUUID(),
          },
        );
      }
      await sleep(10);
    }
  }

  /** Test reads and set-ups wait for another session's transaction, as statements do: they share its connection. */
  override async rows(sql: string): Promise<Record<string, unknown>[]> {
    const reply = await this.inTurn(undefined, () => this.read(sql));
    if (!Array.isArray(reply)) throw new Error(`stand-in read failed: ${JSON.stringify(reply)}`);
    return reply as Record<string, unknown>[];
  }

  /** Logout: the session's open transaction is rolled back, and its token is no longer accepted. */
  private async closeSession(session: string): Promise<unknown> {
    await this.exclusive(async () => {
      this.aborted.delete(session);
      if (this.inTransaction !== session) return;
      this.inTransaction = undefined;
      await this.connection.run('ROLLBACK');
    });
    this.sessions.delete(session);
    return ok(null);
  }

  private async login(data: Json, params: URLSearchParams): Promise<unknown> {
    const accepted =
      data.AUTHENTICATOR === 'SNOWFLAKE_JWT'
        ? this.user.publicKey !== undefined && validJwt(String(data.TOKEN ?? ''), this.user.publicKey)
        : this.user.password !== undefined && data.PASSWORD === this.user.password;
    if (!accepted) return failure('390100', 'Incorrect username or password was specified.', null);
    // The account as provisioned: the session's database and schema exist.
    const database = params.get('databaseName');
    const schema = params.get('schemaName');
    if (database) {
      const db = `"${database.toUpperCase()}"`;
      await this.connection.run(`ATTACH IF NOT EXISTS ':memory:' AS ${db}`);
      if (schema) await this.connection.run(`CREATE SCHEMA IF NOT EXISTS ${db}."${schema.toUpperCase()}"`);
    }
    const session = `tok-${randomUUID()}`;
    const parameters = Object.entries((data.SESSION_PARAMETERS as Json | undefined) ?? {}).map(([name, value]) => ({
      name,
      value,
    }));
    this.sessions.set(session, parameters);
    return ok({ token: session, masterToken: `m-${session}`, validityInSeconds: 3600, parameters });
  }

  private async query(
    session: string,
    sqlText: string,
    bindings: Record<string, Binding> | undefined,
  ): Promise<unknown> {
    this.statements.push(sqlText);
    if (this.aborted.has(session)) {
      if (!/^\s*ROLLBACK\b/i.test(sqlText)) {
        return failure('000615', 'Transaction was aborted, SQL execution canceled.', { queryId: randomUUID() });
      }
      this.aborted.delete(session);
      return textRowset(randomUUID(), ['status'], [['Statement executed successfully.']]);
    }
    if (/^\s*BEGIN\b/i.test(sqlText)) this.inTransaction = session;
    if (/^\s*(COMMIT|ROLLBACK)\b/i.test(sqlText)) this.inTransaction = undefined;
    const queryId = randomUUID();
    if (/^\s*PUT\s/i.test(sqlText)) return this.put(sqlText, queryId);
    if (/^\s*COPY\s+INTO\s/i.test(sqlText)) return this.copy(sqlText, queryId);
    if (/^\s*REMOVE\s/i.test(sqlText)) return this.remove(sqlText, queryId);
    // Session settings, stages and clustering keys mean nothing to DuckDB.
    if (/^\s*(ALTER\s+SESSION|CREATE\s+STAGE|ALTER\s+TABLE\s+\S+\s+CLUSTER\s+BY)\b/i.test(sqlText)) {
      return textRowset(queryId, ['status'], [['Statement executed successfully.']]);
    }
    if (this.user.failEchoingPassword?.test(sqlText)) {
      return this.error(queryId, `statement refused for the session opened with password ${this.user.password}`);
    }
    const kind = STATEMENT_TYPES[sqlText.trim().split(/\s+/)[0]!.toUpperCase()] ?? 0x6000;
    // Snowflake's regular expressions are POSIX: no non-capturing groups (DuckDB's RE2 would take them).
    const binds = Object.values(bindings ?? {}).flatMap((b) => b.value);
    if (/\bREGEXP_/i.test(sqlText) && binds.some((v) => v?.includes('(?:'))) {
      return this.error(queryId, 'Invalid regular expression: non-capturing groups are not supported');
    }
    try {
      const sql = toDuckDB(sqlText);
      let reader;
      let affected = 0;
      for (const values of bindRows(bindings) ?? [undefined]) {
        reader = await this.connection.runAndReadAll(sql, values);
        affected += reader.rowsChanged;
      }
      // Snowflake upper-cases unquoted identifiers; DuckDB keeps them as written.
      const names = reader!.columnNames().map((n) => (/^[a-z_][a-z0-9_$]*$/.test(n) ? n.toUpperCase() : n));
      const types = reader!.columnTypes();
      let rowtype = names.map((name, i) => columnType(name, types[i]!));
      let rowset = reader!.getRows().map((row) => row.map((v, i) => cell(v, types[i]!)));
      if (DML_COLUMNS[kind]) {
        rowtype = [{ name: DML_COLUMNS[kind], type: 'fixed', scale: 0, nullable: false }];
        rowset = [[String(affected)]];
      } else if (kind === 0x6000) {
        rowtype = [{ name: 'status', type: 'text', scale: null, nullable: false }];
        rowset = [['Statement executed successfully.']];
      }
      return ok({
        queryId,
        rowtype,
        rowset: rowset.slice(0, CHUNK_ROWS),
        chunks: this.chunksOf(rowset.slice(CHUNK_ROWS)),
        total: rowset.length,
        returned: rowset.length,
        version: 1,
        statementTypeId: kind,
        parameters: [],
      });
    } catch (error) {
      return this.error(queryId, (error as Error).message);
    }
  }

  /**
   * Rows after the first CHUNK_ROWS, as result chunks the driver downloads by
   * URL (from cloud storage, in Snowflake) when it reads that far: each is the
   * rows' JSON arrays without the outer brackets, served once.
   */
  private chunksOf(rows: (string | null)[][]): Json[] {
    const chunks: Json[] = [];
    for (let start = 0; start < rows.length; start += CHUNK_ROWS) {
      const part = rows.slice(start, start + CHUNK_ROWS);
      const id = randomUUID();
      const body = JSON.stringify(part).slice(1, -1);
      this.chunks.set(id, { body, rows: part.length });
      const size = Buffer.byteLength(body);
      chunks.push({
        url: `${this.url}/chunks/${id}`,
        rowCount: part.length,
        uncompressedSize: size,
        compressedSize: size,
      });
    }
    return chunks;
  }

  private serveChunk(id: string, res: ServerResponse): void {
    const chunk = this.chunks.get(id);
    this.chunks.delete(id);
    if (chunk === undefined) {
      res.writeHead(404).end();
      return;
    }
    this.chunksServed.push(chunk.rows);
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(chunk.body);
  }

  private error(queryId: string, message: string): unknown {
    const missing = /does not exist|not found/i.test(message);
    const code = missing ? '002003' : '001003';
    return failure(code, `SQL compilation error: ${message}`, {
      queryId,
      sqlState: missing ? '42S02' : '42000',
      errorCode: code,
      age: 0,
      internalError: false,
    });
  }

  /** `PUT file://<path> @<stage>`: tell the driver to copy the file into a local stage folder. */
  private put(sql: string, queryId: string): unknown {
    const m = /^\s*PUT\s+'?file:\/\/([^'\s]+)'?\s+(@\S+)(.*)$/is.exec(sql);
    if (!m) return this.error(queryId, 'cannot parse PUT');
    return ok({
      queryId,
      command: 'UPLOAD',
      src_locations: [m[1]],
      autoCompress: !/AUTO_COMPRESS\s*=\s*FALSE/i.test(m[3]!),
      sourceCompression: 'auto_detect', // the driver throws on a missing one
      parallel: 1,
      overwrite: /OVERWRITE\s*=\s*TRUE/i.test(m[3]!),
      stageInfo: {
        locationType: 'LOCAL_FS',
        location: stageFolder(this.stageRoot, m[2]!),
        path: '',
        creds: {},
        isClientSideEncrypted: false,
      },
      encryptionMaterial: null,
      presignedUrls: [],
      parameters: [],
    });
  }

  /**
   * `COPY INTO <table> FROM @<stage>/<path>/ ... MATCH_BY_COLUMN_NAME`: each staged
   * Parquet file inserted by name, one result row per file. As in Snowflake, a
   * file this table already loaded (same name and content) is skipped unless
   * `FORCE = TRUE`, and no file at all is one row saying so.
   */
  private async copy(sql: string, queryId: string): Promise<unknown> {
    const m = /^\s*COPY\s+INTO\s+(\S+)\s+FROM\s+(@\S+)/is.exec(sql);
    if (!m) return this.error(queryId, 'cannot parse COPY');
    const force = /\bFORCE\s*=\s*TRUE\b/i.test(sql);
    const rows: (string | null)[][] = [];
    try {
      for (const file of filesUnder(stageFolder(this.stageRoot, m[2]!))) {
        const seen = `${m[1]!.toUpperCase()}|${file}|${createHash('md5').update(readFileSync(file)).digest('hex')}`;
        if (this.loadHistory.has(seen) && !force) continue;
        const reader = await this.connection.runAndReadAll(
          `INSERT INTO ${m[1]} BY NAME SELECT * FROM read_parquet('${file.replaceAll("'", "''")}')`,
        );
        this.loadHistory.add(seen);
        const n = String(reader.rowsChanged);
        rows.push([file.slice(this.stageRoot.length), 'LOADED', n, n, '0']);
      }
    } catch (error) {
      return this.error(queryId, (error as Error).message);
    }
    if (rows.length === 0) return textRowset(queryId, ['status'], [['Copy executed with 0 files processed.']]);
    return textRowset(queryId, ['file', 'status', 'rows_parsed', 'rows_loaded', 'errors_seen'], rows);
  }

  /** `REMOVE @<stage>/<path>/`: deletes the staged files under it. */
  private remove(sql: string, queryId: string): unknown {
    const m = /^\s*REMOVE\s+(@\S+)/is.exec(sql);
    if (!m) return this.error(queryId, 'cannot parse REMOVE');
    const files = filesUnder(stageFolder(this.stageRoot, m[1]!));
    for (const file of files) rmSync(file);
    return textRowset(
      queryId,
      ['name', 'result'],
      files.map((file) => [file.slice(this.stageRoot.length), 'removed']),
    );
  }
}
