import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkedPath, checkedTable, type Dialect } from '../dialect.js';
import type { SqlParam, SqlParams, SqlType } from '../driver.js';
import type { StagingTables } from '../sql/sql-load.js';

/**
 * Snowflake folds unquoted names to upper case; ours are always written quoted
 * in upper case (`"DB"."SCHEMA"."FACT_AI_EVENT"`), so a name means exactly the
 * object an unquoted one would, whatever the session's defaults.
 */
export function snowflakeQualified(...names: string[]): string {
  return names
    .map((name) => {
      if (!/^[A-Za-z_][A-Za-z0-9_$]*$/.test(name)) throw new Error(`invalid Snowflake name: ${JSON.stringify(name)}`);
      return `"${name.toUpperCase()}"`;
    })
    .join('.');
}

/** Each bound value's column type. */
const SNOWFLAKE_TYPES: Record<SqlType, string> = {
  text: 'VARCHAR',
  int: 'BIGINT',
  float: 'DOUBLE',
  bool: 'BOOLEAN',
  timestamp: 'TIMESTAMP_TZ',
  date: 'DATE',
  numeric: 'NUMBER(38, 9)',
};

export function snowflakeDialect(database: string, schema: string): Dialect {
  return {
    name: 'snowflake',
    columnType: (type) => SNOWFLAKE_TYPES[type],
    table: (name) => snowflakeQualified(database, schema, checkedTable(name)),
    timestamp: (param) => `TO_TIMESTAMP_TZ(:${param})`,
    param: (name) => `:${name}`,
    serverTime: (plus) => (plus ? `DATEADD(millisecond, :${plus}, CURRENT_TIMESTAMP())` : 'CURRENT_TIMESTAMP()'),
    hour: (column) => `DATE_TRUNC('hour', ${column})`,
    epochMs: (expression) => `DATE_PART(epoch_millisecond, ${expression})`,
    epochHour: (column) => `FLOOR(DATE_PART(epoch_millisecond, ${column}) / 3600000)`,
    countIf: (condition) => `COUNT_IF(${condition})`,
    percentile: (expression, fraction) => `PERCENTILE_CONT(${fraction}) WITHIN GROUP (ORDER BY ${expression})`,
    // Snowflake's paths have no leading `$.` (`a.b`, `[0].b`); the value itself is cast.
    jsonText: (expression, path) =>
      checkedPath(path) === '$'
        ? `(${expression})::STRING`
        : `GET_PATH(${expression}, '${path.replace(/^\$\.?/, '')}')::STRING`,
    tryParseJson: (text) => `TRY_PARSE_JSON(${text})`,
    regexMatches: (text, pattern, alias) => ({
      join: `LATERAL FLATTEN(input => REGEXP_SUBSTR_ALL(${text}, ${pattern})) ${alias}`,
      match: `${alias}.value::STRING`,
    }),
    // POSIX ERE has no non-capturing groups; REGEXP_SUBSTR_ALL returns the whole match whatever the groups.
    regexPattern: (re2) => re2.replaceAll('(?:', '('),
    jsonString: (expression) => `TO_JSON(${expression})`,
    keyHash: (expressions) => `HASH(${expressions.join(', ')})`,
    parseJson: (expression) => `PARSE_JSON(${expression})`,
    dateOfKey: (expression) => `TO_DATE(TO_VARCHAR(${expression}), 'YYYYMMDD')`,
    // Work tables are dropped after the load: transient tables skip fail-safe storage for them.
    createWorkTable: (table, query) => `CREATE OR REPLACE TRANSIENT TABLE ${table} AS\n${query}`,
    inJsonList: (expression, param) => `ARRAY_CONTAINS(TO_VARIANT(${expression}), PARSE_JSON(:${param}))`,
    // GET, not the path `:_extra_fields`, which the driver's binding would read as a placeholder.
    extraFieldCounts: (table, where) =>
      `SELECT f.key AS field, COUNT(*) AS n FROM ${table} t, LATERAL FLATTEN(input => GET(PARSE_JSON(t.metadata), '_extra_fields')) f
       WHERE ${where} GROUP BY f.key`,
    indexKey: () => ({ columns: '', values: '' }),
    indexedIdIn: (alias, ids) => `${alias}.event_id IN (SELECT i.event_id FROM (${ids}) i)`,
    partitionFilter: () => '',
    rowPosition: () => null,
  };
}

/**
 * Snowflake's own SQL, as text (testable without a server): named parameters
 * turned into the positional binds the driver takes, the stage, PUT, COPY and
 * REMOVE statements, and our DDL files. The load's statements themselves are
 * shared (sql/sql-load.ts).
 */
export type SnowflakeBind = string | number | boolean | null;

const SQL_DIR = fileURLToPath(new URL('../../../sql/snowflake/', import.meta.url));

/** A bound value as its column type; values whose text form is exact are bound as text and cast. */
const PLACEHOLDER: Record<SqlType, (bind: string) => string> = {
  text: (b) => b,
  int: (b) => `CAST(${b} AS BIGINT)`,
  float: (b) => `CAST(${b} AS DOUBLE)`,
  bool: (b) => `CAST(${b} AS BOOLEAN)`,
  timestamp: (b) => `TO_TIMESTAMP_TZ(${b})`,
  date: (b) => `CAST(${b} AS DATE)`,
  numeric: (b) => `CAST(${b} AS DECIMAL(38, 9))`,
};

function bindValue({ type, value }: SqlParam): SnowflakeBind {
  if (value === null) return null;
  if (type === 'int' || typeof value === 'bigint') return String(value); // 64-bit keys exceed a JS number
  return value;
}

/**
 * `:name` placeholders → `:1`, `:2`, ... with one bind each (a name used twice
 * binds once), outside string literals and quoted names; `::` casts are left
 * alone. A placeholder without a parameter is refused, never sent as text.
 */
export function positional(sql: string, params: SqlParams): { sqlText: string; binds: SnowflakeBind[] } {
  const order: string[] = [];
  const sqlText = sql
    .split(/('(?:[^'\\]|\\.|'')*'|"(?:[^"]|"")*")/)
    .map((piece, i) =>
      i % 2 === 1
        ? piece
        : piece.replace(/(?<![:\w$]):([A-Za-z_][A-Za-z0-9_]*)/g, (_, name: string) => {
            const param = params[name];
            if (!param) throw new Error(`no value bound for :${name}`);
            if (param.type === 'rows') throw new Error(`Snowflake binds no array of rows (:${name})`);
            if (!order.includes(name)) order.push(name);
            return PLACEHOLDER[param.type](`:${order.indexOf(name) + 1}`);
          }),
    )
    .join('');
  return { sqlText, binds: order.map((name) => bindValue(params[name] as SqlParam)) };
}

/** The statements of one of our SQL texts, `{{name}}`s replaced (the files hold no `;` inside literals). */
export function sqlStatements(sql: string, replacements: Record<string, string>): string[] {
  let text = sql.replace(/--[^\n]*/g, '');
  for (const [name, value] of Object.entries(replacements)) text = text.replaceAll(`{{${name}}}`, value);
  return text
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Where one package's files go in the stage: unique per pipeline, run and package. */
export function stageLocation(stage: string, pipeline: string, runId?: string, seq?: number): string {
  const path = ['aetl', pipeline, ...(runId === undefined ? [] : [runId, String(seq)])].join('/');
  return `@${stage}/${path}/`;
}

/** Our stage, then path segments that cannot climb out of it (no `.` or `..`). */
const STAGE_LOCATION = /^@("[A-Z0-9_$]+"\.){2}"[A-Z0-9_$]+"(\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*\/$/;

function checkedLocation(location: string): string {
  if (!STAGE_LOCATION.test(location)) throw new Error(`invalid Snowflake stage location: ${JSON.stringify(location)}`);
  return location;
}

/** `PUT` a local file as is (`AUTO_COMPRESS=FALSE`: Parquet is compressed inside). */
export function putSql(file: string, location: string): string {
  const path = file.replaceAll('\\', '\\\\').replaceAll("'", "\\'");
  return `PUT 'file://${path}' ${checkedLocation(location)} AUTO_COMPRESS = FALSE OVERWRITE = TRUE`;
}

/**
 * `COPY` a package's staged Parquet files into a staging table, by column name.
 * FORCE = TRUE on purpose: COPY skips files its 64-day load history has seen
 * (same name and checksum), and a package re-staged under the same name (the
 * same input read again) must load again, not silently add nothing. Nothing
 * loads twice: the staging table is created anew for every attempt.
 */
export function copySql(table: string, location: string): string {
  return `COPY INTO ${table}
FROM ${checkedLocation(location)}
FILE_FORMAT = (TYPE = PARQUET USE_LOGICAL_TYPE = TRUE)
MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE
FORCE = TRUE`;
}

export function removeSql(location: string): string {
  return `REMOVE ${checkedLocation(location)}`;
}

/** Our named stage, created when the config names none. */
export function createStageSql(stage: string): string {
  return `CREATE STAGE IF NOT EXISTS ${stage} FILE_FORMAT = (TYPE = PARQUET)`;
}

/** The staging tables COPY loads into, with the staged Parquet's columns (sql/snowflake/staging.sql). */
export function stagingDdl(qualify: (table: string) => string, staging: StagingTables): string[] {
  return sqlStatements(readFileSync(`${SQL_DIR}staging.sql`, 'utf8'), {
    events: qualify(staging.events),
    policies: qualify(staging.policies),
    rejects: qualify(staging.rejects),
  });
}
