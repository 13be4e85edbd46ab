/**
 * The places where SQL differs between engines. The warehouse logic, its
 * load and the checks are written once against this interface; each engine
 * folder holds its own (`<engine>/<engine>-dialect.ts`).
 */
import type { SqlType } from './driver.js';

export interface Dialect {
  readonly name: 'duckdb' | 'bigquery' | 'snowflake';
  /** The column type a bound value of `type` is stored as. */
  columnType(type: SqlType): string;
  /** A table of ours, qualified as the engine needs it. */
  table(name: string): string;
  /** A bound timestamp parameter (ISO text bound by name). */
  timestamp(param: string): string;
  /** A bound parameter's placeholder (the engine types it from its bound value). */
  param(name: string): string;
  /**
   * The warehouse's clock, plus a bound number of milliseconds when `plusMsParam` is given:
   * leases are judged by the one clock every host shares, not by each host's own.
   */
  serverTime(plusMsParam?: string): string;
  hour(column: string): string;
  /**
   * The whole hours since the epoch of a timestamp, an integer to group by: DuckDB truncates a
   * TIMESTAMPTZ through its time zone library (`hour`: 4.9 s CPU over 10M rows, this 0.4 s).
   */
  epochHour(column: string): string;
  epochMs(expression: string): string;
  countIf(condition: string): string;
  percentile(expression: string, fraction: number): string;
  /** A text value inside a JSON column, at a JSONPath such as `$[0].path` (`$`: the value itself). */
  jsonText(expression: string, path: string): string;
  /** JSON text as a JSON value, or NULL where the text is not valid JSON. */
  tryParseJson(text: string): string;
  /**
   * Every match of a regular expression in `text`, one row each: `join` is a FROM item to list
   * after a comma (it may use the columns of the items before it), `match` the matched text.
   * `pattern` is an expression, normally a parameter bound to `regexPattern`'s result.
   */
  regexMatches(text: string, pattern: string, alias: string): { join: string; match: string };
  /** A regular expression written in RE2 syntax (non-capturing groups only), as this engine reads it. */
  regexPattern(re2: string): string;
  /** A JSON column as its JSON text. */
  jsonString(expression: string): string;
  /**
   * A predicate: the id index row `alias` names one of the ids `ids` selects (a query of
   * `event_id`). DuckDB matches on the index's fixed-width `id_key` (a cheap scan; a hash
   * collision only adds a date to look at); the others on the id, their index clustered by it.
   */
  indexedIdIn(alias: string, ids: string): string;
  /**
   * A 64-bit hash of the values (texts or integers): equal values hash equal, unequal ones rarely
   * do. Grouping fixed-width hashes costs far less than grouping long texts; whatever a hash finds
   * equal is then compared by the values themselves, so a collision costs a comparison, never a result.
   */
  keyHash(expressions: string[]): string;
  /** JSON text as the engine's JSON value (for JSON / VARIANT columns). */
  parseJson(expression: string): string;
  /** A `yyyymmdd` integer as a DATE. */
  dateOfKey(expression: string): string;
  /** Creates (or replaces) a work table of one load from a query; it is dropped after the load. */
  createWorkTable(table: string, query: string): string;
  /** A predicate: `expression` is one of the strings of the JSON array text bound as `param`. */
  inJsonList(expression: string, param: string): string;
  /**
   * Each key of the JSON object `_extra_fields` inside the JSON text column `metadata` of `table`'s
   * rows that `where` keeps, as `field`, with how many rows carry it as `n` (schema drift).
   */
  extraFieldCounts(table: string, where: string): string;
  /** The id index's engine-only columns and their values for an id (DuckDB: its fixed-width `id_key`). */
  indexKey(idExpression: string): { columns: string; values: string };
  /** An extra predicate that lets the engine skip partitions outside [from, to) ('' when event_ts itself prunes). */
  partitionFilter(alias: string, fromParam: string, toParam: string): string;
  /**
   * A table row's physical position, to read a table of wide values a few rows at a time (DuckDB's
   * `rowid`: a scan reads 2,048 values at once whatever it filters on); null where the engine bounds
   * a statement's memory itself.
   */
  rowPosition(alias: string): string | null;
}

const identifier = /^[a-z_][a-z0-9_]*$/;

/** JSONPaths are ours, written in code; still, nothing but a plain path reaches the SQL text. */
export function checkedPath(path: string): string {
  if (!/^\$(\[\d+\]|\.[a-z_]+)*$/.test(path)) throw new Error(`not a JSON path: ${path}`);
  return path;
}

export function checkedTable(name: string): string {
  if (!identifier.test(name)) throw new Error(`not a table name: ${name}`);
  return name;
}

/**
 * An analyst query file's tables, written `{{dataset}}.name` (BigQuery, inside backticks) or
 * `{{schema}}.name` (Snowflake), as the dialect names every table of ours: validated and quoted.
 */
export function qualifiedTables(sql: string, dialect: Dialect): string {
  return sql.replace(/`?\{\{(?:dataset|schema)\}\}\.(\w+)`?/g, (_, name: string) => dialect.table(name));
}
