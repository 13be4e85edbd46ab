import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { LanguageOptions, TypeKind, ZetaSQLClient } from '@fivetrandevelopers/zetasql';
import type { AnalyzerOptionsProto } from '@fivetrandevelopers/zetasql/lib/types/zetasql/AnalyzerOptionsProto.js';
import type { LanguageOptionsProto } from '@fivetrandevelopers/zetasql/lib/types/zetasql/LanguageOptionsProto.js';
import type { ParseResumeLocationProto } from '@fivetrandevelopers/zetasql/lib/types/zetasql/ParseResumeLocationProto.js';
import type { SimpleCatalogProto } from '@fivetrandevelopers/zetasql/lib/types/zetasql/SimpleCatalogProto.js';
import type { SimpleTableProto } from '@fivetrandevelopers/zetasql/lib/types/zetasql/SimpleTableProto.js';
import type { TypeProto } from '@fivetrandevelopers/zetasql/lib/types/zetasql/TypeProto.js';

/**
 * Google's SQL analyzer (ZetaSQL, the front end BigQuery is built on) run
 * over our BigQuery SQL in tests: name resolution, types, function
 * signatures, parameter types. It judges statements against a catalog of
 * tables that grows as the analyzed DDL, CTAS statements and load jobs create
 * them, as a dataset does. The package ships the analyzer as a gRPC server
 * binary; one runs per analyzer, on a free local port.
 */

/** A type as BigQuery's REST API writes it (query parameters, table schemas). */
export interface BigQueryType {
  type: string;
  arrayType?: BigQueryType;
  structTypes?: { name?: string; type: BigQueryType }[];
}

export interface Column {
  name: string;
  type: TypeProto;
}

/** A statement the analyzer rejected, with its message (line, column and a caret under the place). */
export interface AnalysisError {
  statement: string;
  message: string;
}

const SIMPLE_TYPES: Record<string, TypeProto['typeKind']> = {
  INT64: 'TYPE_INT64',
  INTEGER: 'TYPE_INT64',
  FLOAT64: 'TYPE_DOUBLE',
  FLOAT: 'TYPE_DOUBLE',
  NUMERIC: 'TYPE_NUMERIC',
  BIGNUMERIC: 'TYPE_BIGNUMERIC',
  BOOL: 'TYPE_BOOL',
  BOOLEAN: 'TYPE_BOOL',
  STRING: 'TYPE_STRING',
  BYTES: 'TYPE_BYTES',
  DATE: 'TYPE_DATE',
  DATETIME: 'TYPE_DATETIME',
  TIME: 'TYPE_TIME',
  TIMESTAMP: 'TYPE_TIMESTAMP',
  JSON: 'TYPE_JSON',
  GEOGRAPHY: 'TYPE_GEOGRAPHY',
  INTERVAL: 'TYPE_INTERVAL',
};

/** A BigQuery type name or REST type → ZetaSQL's TypeProto. */
export function zetaType(type: BigQueryType | string): TypeProto {
  const t = typeof type === 'string' ? { type } : type;
  if (t.type === 'ARRAY' && t.arrayType)
    return { typeKind: 'TYPE_ARRAY', arrayType: { elementType: zetaType(t.arrayType) } };
  if (t.type === 'STRUCT' && t.structTypes) {
    const field = t.structTypes.map((f) => ({ fieldName: f.name ?? '', fieldType: zetaType(f.type) }));
    return { typeKind: 'TYPE_STRUCT', structType: { field } };
  }
  const kind = SIMPLE_TYPES[t.type];
  if (!kind) throw new Error(`no ZetaSQL type for BigQuery type ${JSON.stringify(t)}`);
  return { typeKind: kind };
}

/** The statement kinds BigQuery runs (of those ZetaSQL knows); anything else is an error. */
const BIGQUERY_STATEMENTS = [
  'RESOLVED_QUERY_STMT',
  'RESOLVED_INSERT_STMT',
  'RESOLVED_UPDATE_STMT',
  'RESOLVED_DELETE_STMT',
  'RESOLVED_MERGE_STMT',
  'RESOLVED_TRUNCATE_STMT',
  'RESOLVED_CREATE_TABLE_STMT',
  'RESOLVED_CREATE_TABLE_AS_SELECT_STMT',
  'RESOLVED_CREATE_VIEW_STMT',
  'RESOLVED_CREATE_MATERIALIZED_VIEW_STMT',
  'RESOLVED_CREATE_SCHEMA_STMT',
  'RESOLVED_CREATE_FUNCTION_STMT',
  'RESOLVED_DROP_STMT',
  'RESOLVED_ALTER_TABLE_STMT',
  'RESOLVED_ALTER_VIEW_STMT',
  'RESOLVED_BEGIN_STMT',
  'RESOLVED_COMMIT_STMT',
  'RESOLVED_ROLLBACK_STMT',
  'RESOLVED_EXPORT_DATA_STMT',
] as const;

/** BigQuery's INFORMATION_SCHEMA.COLUMNS, as far as a query of ours may read it. */
const INFORMATION_SCHEMA_COLUMNS: [string, string][] = [
  ['table_catalog', 'STRING'],
  ['table_schema', 'STRING'],
  ['table_name', 'STRING'],
  ['column_name', 'STRING'],
  ['ordinal_position', 'INT64'],
  ['is_nullable', 'STRING'],
  ['data_type', 'STRING'],
  ['is_generated', 'STRING'],
  ['generation_expression', 'STRING'],
  ['is_stored', 'STRING'],
  ['is_hidden', 'STRING'],
  ['is_updatable', 'STRING'],
  ['is_system_defined', 'STRING'],
  ['is_partitioning_column', 'STRING'],
  ['clustering_ordinal_position', 'INT64'],
  ['collation_name', 'STRING'],
  ['column_default', 'STRING'],
  ['rounding_mode', 'STRING'],
];

/** BigQuery's system variables a script may read (`@@row_count` after a DML statement, ...). */
const SYSTEM_VARIABLES: [string, string][] = [
  ['row_count', 'INT64'],
  ['current_job_id', 'STRING'],
  ['last_job_id', 'STRING'],
  ['project_id', 'STRING'],
  ['dataset_id', 'STRING'],
  ['session_id', 'STRING'],
  ['time_zone', 'STRING'],
];

/**
 * BigQuery functions newer than the analyzer this package ships, declared in
 * the catalog with their BigQuery signatures (name, argument types, optional
 * ones last, result type), so calling them is judged, not unknown.
 */
const NEWER_FUNCTIONS: { name: string; args: string[]; optional: string[]; returns: BigQueryType }[] = [
  { name: 'JSON_KEYS', args: ['JSON'], optional: ['INT64'], returns: { type: 'ARRAY', arrayType: { type: 'STRING' } } },
];

function customFunctions(): SimpleCatalogProto['customFunction'] {
  const argument = (type: string, cardinality: 'REQUIRED' | 'OPTIONAL') => ({
    kind: 'ARG_TYPE_FIXED' as const,
    type: zetaType(type),
    numOccurrences: 1,
    options: { cardinality },
  });
  return NEWER_FUNCTIONS.map((f) => ({
    namePath: [f.name],
    group: 'BigQuery',
    mode: 'SCALAR' as const,
    signature: [
      {
        argument: [...f.args.map((t) => argument(t, 'REQUIRED')), ...f.optional.map((t) => argument(t, 'OPTIONAL'))],
        returnType: { kind: 'ARG_TYPE_FIXED' as const, type: zetaType(f.returns), numOccurrences: 1 },
      },
    ],
    options: {},
  }));
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The package's server binary for this platform (its own runServer picks the same, on a fixed port). */
function serverBinary(): string {
  const lib = dirname(createRequire(import.meta.url).resolve('@fivetrandevelopers/zetasql'));
  const suffix = (process.arch.startsWith('arm') ? '_arm' : '') + (process.platform === 'darwin' ? '' : '.so');
  return join(lib, 'zetasql', `remote_server${suffix}`);
}

/** The value under `key` nearest the top of a resolved AST (its protos nest each base class under `parent`). */
function find(root: unknown, key: string): unknown {
  for (let level = [root]; level.length > 0;) {
    const objects = level.filter((n): n is Record<string, unknown> => typeof n === 'object' && n !== null);
    const holder = objects.find((o) => key in o);
    if (holder) return holder[key];
    level = objects.flatMap((o) => Object.values(o));
  }
  return undefined;
}

/** A parsed node's own place in the text: the widest of the ranges in it (its parts lie inside). */
function widestRange(node: unknown): { start: number; end: number } {
  let widest = { start: 0, end: 0 };
  const visit = (value: unknown): void => {
    if (typeof value !== 'object' || value === null) return;
    const range = (value as { parseLocationRange?: { start: number; end: number } }).parseLocationRange;
    if (range && range.end - range.start > widest.end - widest.start) widest = range;
    Object.values(value).forEach(visit);
  };
  visit(node);
  return widest;
}

function errorText(error: unknown): string {
  return (error as { details?: string }).details ?? String(error);
}

export class BigQueryAnalyzer {
  /** Tables and views by full name in lower case (`project.dataset.table`). */
  private readonly tables = new Map<string, { name: string; columns: Column[] }>();
  /** The catalog registered with the server, and whether the tables changed since. */
  private catalogId: number | null = null;
  private stale = true;

  private constructor(
    private readonly server: ChildProcess,
    private readonly client: ZetaSQLClient,
    private readonly language: LanguageOptionsProto,
  ) {}

  /** Starts the analyzer's server (under a second) with BigQuery's language: external mode, every released feature. */
  static async start(): Promise<BigQueryAnalyzer> {
    const port = await freePort();
    const server = spawn(serverBinary(), ['localhost', String(port)], { stdio: 'ignore' });
    const stop = () => server.kill('SIGKILL');
    process.once('exit', stop);
    server.once('exit', () => process.off('exit', stop));
    ZetaSQLClient.init(port);
    const client = ZetaSQLClient.getInstance();
    if (!(await client.testConnection())) {
      stop();
      throw new Error('the ZetaSQL analyzer server did not start');
    }
    const max = await LanguageOptions.getMaxFeatures();
    const language: LanguageOptionsProto = {
      ...max,
      productMode: 'PRODUCT_EXTERNAL',
      supportedStatementKinds: [...BIGQUERY_STATEMENTS],
    };
    return new BigQueryAnalyzer(server, client, language);
  }

  async close(): Promise<void> {
    if (this.server.exitCode !== null || this.server.signalCode !== null) return;
    const exited = new Promise((resolve) => this.server.once('exit', resolve));
    this.server.kill('SIGKILL');
    await exited;
  }

  /** Adds or replaces a table (e.g. one a load job created) under its full name. */
  addTable(fullName: string, columns: Column[]): void {
    const known = this.tables.get(fullName.toLowerCase());
    if (known?.name === fullName && JSON.stringify(known.columns) === JSON.stringify(columns)) return;
    this.tables.set(fullName.toLowerCase(), { name: fullName, columns });
    this.stale = true;
  }

  /** Starts an empty catalog (another stand-in's dataset). */
  forgetTables(): void {
    this.tables.clear();
    this.stale = true;
  }

  /** The catalog: each table under its full name (a backtick-quoted path is one name), under nested catalogs for dotted paths, and each dataset's INFORMATION_SCHEMA.COLUMNS. */
  private catalog(): SimpleCatalogProto {
    const table = (name: string, columns: Column[]): SimpleTableProto => ({
      name,
      column: columns.map((c) => ({ name: c.name, type: c.type })),
    });
    const root: SimpleCatalogProto = { name: 'bigquery', table: [], catalog: [] };
    const child = (parent: SimpleCatalogProto, name: string): SimpleCatalogProto => {
      let found = parent.catalog!.find((c) => c.name === name);
      if (!found) parent.catalog!.push((found = { name, table: [], catalog: [] }));
      return found;
    };
    const columns = INFORMATION_SCHEMA_COLUMNS.map(([name, type]) => ({ name, type: zetaType(type) }));
    for (const { name, columns: cols } of this.tables.values()) {
      root.table!.push(table(name, cols));
      const parts = name.split('.');
      const [project, dataset, tableName] = parts;
      if (parts.length !== 3 || !project || !dataset || !tableName) continue;
      child(child(root, project), dataset).table!.push(table(tableName, cols));
      const schema = child(child(root, `${project}.${dataset}`), 'INFORMATION_SCHEMA');
      if (schema.table!.length === 0) schema.table!.push(table('COLUMNS', columns));
    }
    root.builtinFunctionOptions = { languageOptions: this.language };
    root.customFunction = customFunctions();
    return root;
  }

  private async registeredCatalog(): Promise<number> {
    if (this.stale) {
      if (this.catalogId !== null) await this.client.unRegisterCatalog({ registeredId: this.catalogId });
      const response = await this.client.registerCatalog({ simpleCatalog: this.catalog() });
      this.catalogId = Number(response!.registeredId);
      this.stale = false;
    }
    return this.catalogId!;
  }

  /** The statement at `location` parsed as a script statement (throws on a syntax error), and where it ends. */
  private async parseScriptStatement(location: ParseResumeLocationProto): Promise<{ node: unknown; end: number }> {
    const parse = promisify(ZetaSQLClient.API.parse.bind(ZetaSQLClient.API));
    const response = await parse({ parseResumeLocation: location, allowScript: true, options: this.language });
    return { node: response!.parsedStatement, end: response!.resumeBytePosition };
  }

  private options(params: Record<string, BigQueryType>): AnalyzerOptionsProto {
    return {
      languageOptions: this.language,
      queryParameters: Object.entries(params).map(([name, type]) => ({ name, type: zetaType(type) })),
      systemVariables: SYSTEM_VARIABLES.map(([name, type]) => ({ namePath: [name], type: zetaType(type) })),
      parameterMode: 'PARAMETER_NAMED',
      errorMessageMode: 'ERROR_MESSAGE_MULTI_LINE_WITH_CARET',
      defaultTimezone: 'UTC',
    };
  }

  /**
   * Analyzes a script's statements in order (one statement is a script too)
   * with typed parameters (an undeclared parameter is an error, as an untyped
   * NULL is for BigQuery); the tables and views it creates join the catalog.
   * The analyzer takes no scripting statement: those are parsed, and their
   * expressions and statements analyzed (scriptStatement). Returns the
   * errors, each with its statement.
   */
  analyze(script: string, params: Record<string, BigQueryType> = {}): Promise<AnalysisError[]> {
    return this.analyzeScript(script, this.options(params));
  }

  private async analyzeScript(script: string, options: AnalyzerOptionsProto): Promise<AnalysisError[]> {
    const input = Buffer.from(script, 'utf8');
    const text = (from: number, to = input.length) =>
      input
        .subarray(from, to)
        .toString('utf8')
        .replace(/;\s*(--[^\n]*\s*)*$/, '')
        .trim();
    const errors: AnalysisError[] = [];
    for (
      let at = 0;
      text(at)
        .replace(/--[^\n]*/g, '')
        .trim() !== '';
    ) {
      const location = { input: script, bytePosition: at, allowResume: true };
      let end: number;
      try {
        const registeredCatalogId = await this.registeredCatalog();
        const response = await this.client.analyze({ parseResumeLocation: location, registeredCatalogId, options });
        this.learn(response!.resolvedStatement);
        end = response!.resumeBytePosition;
      } catch (error) {
        // A scripting statement, or an error: past a syntax error no one can tell where the next statement starts.
        const parsed = await this.parseScriptStatement(location).catch(() => ({ node: null, end: input.length }));
        end = parsed.end;
        const scripting = find(parsed.node, 'astScriptStatementNode');
        if (scripting === undefined) errors.push({ statement: text(at, end), message: errorText(error) });
        else errors.push(...(await this.scriptStatement(scripting, input, options)));
      }
      if (end <= at) break;
      at = end;
    }
    return errors;
  }

  /**
   * A scripting statement's parts, analyzed: `IF condition THEN ... [ELSE ...] END IF`
   * (a BOOL condition, its statements) and `RAISE USING MESSAGE = expression` (a STRING).
   * Any other scripting statement is reported: this analysis does not judge it yet.
   */
  private async scriptStatement(node: unknown, input: Buffer, options: AnalyzerOptionsProto): Promise<AnalysisError[]> {
    const text = (part: unknown) => {
      const { start, end } = widestRange(part);
      return input.subarray(start, end).toString('utf8');
    };
    const expression = async (part: unknown, kind: 'TYPE_BOOL' | 'TYPE_STRING'): Promise<AnalysisError[]> => {
      try {
        const registeredCatalogId = await this.registeredCatalog();
        const response = await this.client.analyze({ sqlExpression: text(part), registeredCatalogId, options });
        const type = find(response!.resolvedExpression, 'type') as { typeKind: number };
        if (type.typeKind === TypeKind[kind]) return [];
        return [{ statement: text(node), message: `${text(part)} is not of type ${kind.slice(5)}` }];
      } catch (error) {
        return [{ statement: text(node), message: errorText(error) }];
      }
    };
    const statements = async (list: unknown): Promise<AnalysisError[]> => {
      const errors: AnalysisError[] = [];
      for (const item of (list as { statementList?: unknown[] } | null)?.statementList ?? []) {
        const scripting = find(item, 'astScriptStatementNode');
        if (scripting !== undefined) errors.push(...(await this.scriptStatement(scripting, input, options)));
        else errors.push(...(await this.analyzeScript(text(item), options)));
      }
      return errors;
    };
    const ifStatement = find(node, 'astIfStatementNode') as
      { condition: unknown; thenList: unknown; elseifClauses: unknown; elseList: unknown } | undefined;
    if (ifStatement && !ifStatement.elseifClauses) {
      return [
        ...(await expression(ifStatement.condition, 'TYPE_BOOL')),
        ...(await statements(ifStatement.thenList)),
        ...(await statements(ifStatement.elseList)),
      ];
    }
    const raise = find(node, 'astRaiseStatementNode') as { message: unknown } | undefined;
    if (raise?.message) return expression(raise.message, 'TYPE_STRING');
    return [{ statement: text(node), message: 'a scripting statement this analysis does not judge yet' }];
  }

  /** A created table or view joins the catalog (CREATE ... IF NOT EXISTS keeps one already there); ALTER TABLE changes one. */
  private learn(resolved: unknown): void {
    const alter = find(resolved, 'resolvedAlterTableStmtNode');
    if (alter !== undefined) return this.alterTable(alter);
    const create = find(resolved, 'resolvedCreateStatementNode');
    if (create === undefined) return;
    const name = (find(create, 'namePath') as string[]).join('.');
    const ifNotExists = find(create, 'createMode') === 2;
    if (ifNotExists && this.tables.has(name.toLowerCase())) return;
    const definitions = find(create, 'columnDefinitionList') as { name: string; type: TypeProto }[] | undefined;
    if (!definitions || definitions.length === 0) return;
    this.addTable(
      name,
      definitions.map((d) => ({ name: d.name, type: d.type })),
    );
  }

  /** ADD COLUMN and DROP COLUMN, as BigQuery applies them (IF [NOT] EXISTS: nothing to do when it holds). */
  private alterTable(alter: unknown): void {
    const table = this.tables.get((find(alter, 'namePath') as string[]).join('.').toLowerCase());
    if (!table) return;
    let columns = table.columns;
    const has = (name: string) => columns.some((c) => c.name.toLowerCase() === name.toLowerCase());
    for (const action of find(alter, 'alterActionList') as Record<string, unknown>[]) {
      const add = action.resolvedAddColumnActionNode as { columnDefinition: Column } | undefined;
      const drop = action.resolvedDropColumnActionNode as { name: string } | undefined;
      if (add && !has(add.columnDefinition.name)) {
        columns = [...columns, { name: add.columnDefinition.name, type: add.columnDefinition.type }];
      }
      if (drop) columns = columns.filter((c) => c.name.toLowerCase() !== drop.name.toLowerCase());
    }
    this.addTable(table.name, columns);
  }
}
