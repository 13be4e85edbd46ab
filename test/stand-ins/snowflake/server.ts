import type { IncomingMessage, ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { randomUUID } from 'node:crypto';
import { DuckDBTypeId, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';
import { DuckDBBackedServer, type ServerParts } from '../duckdb-backed-server.js';

/**
 * A Snowflake stand-in for tests: a small HTTP server on 127.0.0.1 that the
 * real `snowflake-sdk` driver talks to, backed by DuckDB. It serves what our
 * loader calls: password login, statements with positional binds and JSON
 * rowsets, errors with query ids, and `PUT` to a local stage (the driver copies
 * the file itself when told the stage is `LOCAL_FS`). Not an emulator.
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

/** Snowflake SQL as we emit it → DuckDB: type names and `:n` binds, outside literals. */
export function toDuckDB(sql: string): string {
  return sql
    .split(/('(?:[^']|'')*'|"(?:[^"]|"")*")/)
    .map((piece, i) =>
      i % 2 === 1
        ? piece
        : piece
            .replace(/\bTIMESTAMP_TZ\b/gi, 'TIMESTAMPTZ')
            .replace(/\bTIMESTAMP_LTZ\b/gi, 'TIMESTAMPTZ')
            .replace(/\bTIMESTAMP_NTZ\b/gi, 'TIMESTAMP')
            .replace(/(?<!:):(\d+)\b/g, '$$$1'),
    )
    .join('');
}

const ok = (data: unknown) => ({ success: true, code: null, message: null, data });
const failure = (code: string, message: string, data: unknown) => ({ success: false, code, message, data });

export class SnowflakeStandIn extends DuckDBBackedServer {
  /** Every statement received, in order. */
  readonly statements: string[] = [];
  readonly stageRoot = mkdtempSync(join(tmpdir(), 'sf-stage-'));
  private readonly sessions = new Set<string>();

  private constructor(
    parts: ServerParts,
    private readonly password: string,
  ) {
    super(parts);
  }

  static async start(password: string): Promise<SnowflakeStandIn> {
    return new SnowflakeStandIn(await DuckDBBackedServer.open(), password);
  }

  protected cleanup(): void {
    rmSync(this.stageRoot, { recursive: true, force: true });
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw = await DuckDBBackedServer.body(req);
    if ((req.headers['content-encoding'] ?? '').toLowerCase() === 'gzip') raw = gunzipSync(raw);
    const body = raw.length > 0 ? (JSON.parse(raw.toString('utf8')) as Json) : {};
    const url = new URL(req.url!, this.url);
    const token = /Snowflake Token="([^"]*)"/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    let reply: unknown;
    if (url.pathname === '/session/v1/login-request') {
      const data = body.data as { PASSWORD?: string };
      if (data.PASSWORD !== this.password) {
        reply = failure('390100', 'Incorrect username or password was specified.', null);
      } else {
        const session = `tok-${randomUUID()}`;
        this.sessions.add(session);
        reply = ok({ token: session, masterToken: `m-${session}`, validityInSeconds: 3600, parameters: [] });
      }
    } else if (url.pathname === '/telemetry/send' || url.pathname === '/session') {
      reply = { success: true, code: null, message: null, data: null };
    } else if (url.pathname === '/queries/v1/query-request') {
      reply = this.sessions.has(token)
        ? await this.query(String(body.sqlText ?? ''), body.bindings as Record<string, Binding> | undefined)
        : failure('390104', 'Authentication token has expired.', null);
    } else {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
  }

  private async query(sqlText: string, bindings: Record<string, Binding> | undefined): Promise<unknown> {
    this.statements.push(sqlText);
    const queryId = randomUUID();
    if (/^\s*PUT\s/i.test(sqlText)) return this.put(sqlText, queryId);
    const kind = STATEMENT_TYPES[sqlText.trim().split(/\s+/)[0]!.toUpperCase()] ?? 0x6000;
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
        rowset,
        total: rowset.length,
        returned: rowset.length,
        version: 1,
        statementTypeId: kind,
        parameters: [],
      });
    } catch (error) {
      const message = (error as Error).message;
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
  }

  /** `PUT file://<path> @<stage>`: tell the driver to copy the file into a local stage folder. */
  private put(sql: string, queryId: string): unknown {
    const m = /^\s*PUT\s+'?file:\/\/([^'\s]+)'?\s+'?@~?([^'\s]*)'?(.*)$/is.exec(sql);
    if (!m) return failure('001003', `SQL compilation error: cannot parse PUT`, { queryId, sqlState: '42000' });
    const location = join(this.stageRoot, ...m[2]!.split(/[./]/).filter(Boolean)) + sep;
    return ok({
      queryId,
      command: 'UPLOAD',
      src_locations: [m[1]],
      autoCompress: !/AUTO_COMPRESS\s*=\s*FALSE/i.test(m[3]!),
      sourceCompression: 'auto_detect', // the driver throws on a missing one
      parallel: 1,
      overwrite: /OVERWRITE\s*=\s*TRUE/i.test(m[3]!),
      stageInfo: { locationType: 'LOCAL_FS', location, path: '', creds: {}, isClientSideEncrypted: false },
      encryptionMaterial: null,
      presignedUrls: [],
      parameters: [],
    });
  }
}
