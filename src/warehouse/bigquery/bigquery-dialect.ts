import { checkedPath, checkedTable, type Dialect } from '../dialect.js';
import type { SqlType } from '../driver.js';

/** Each bound value's column type (the driver sends parameters with these types too). */
export const BIGQUERY_TYPES = {
  text: 'STRING',
  int: 'INT64',
  float: 'FLOAT64',
  bool: 'BOOL',
  timestamp: 'TIMESTAMP',
  date: 'DATE',
  numeric: 'NUMERIC',
} as const satisfies Record<SqlType, string>;

/** `dataset` is validated by the caller's config schema; it is quoted here with backticks. */
export function bigqueryDialect(dataset: string): Dialect {
  return {
    name: 'bigquery',
    columnType: (type) => BIGQUERY_TYPES[type],
    table: (name) => `\`${dataset}.${checkedTable(name)}\``,
    timestamp: (param) => `TIMESTAMP(@${param})`,
    param: (name) => `@${name}`,
    serverTime: (plus) =>
      plus ? `TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL @${plus} MILLISECOND)` : 'CURRENT_TIMESTAMP()',
    hour: (column) => `TIMESTAMP_TRUNC(${column}, HOUR)`,
    epochMs: (expression) => `UNIX_MILLIS(${expression})`,
    epochHour: (column) => `DIV(UNIX_MILLIS(${column}), 3600000)`,
    countIf: (condition) => `COUNTIF(${condition})`,
    // SAFE_OFFSET: NULL, never an index error, where a group's array is short (its values all NULL).
    percentile: (expression, fraction) =>
      `APPROX_QUANTILES(${expression}, 100)[SAFE_OFFSET(${Math.round(fraction * 100)})]`,
    jsonText: (expression, path) => `JSON_VALUE(${expression}, '${checkedPath(path)}')`,
    // Numbers beyond FLOAT64's precision are rounded, not refused: the text is still JSON.
    tryParseJson: (text) => `SAFE.PARSE_JSON(${text}, wide_number_mode => 'round')`,
    regexMatches: (text, pattern, alias) => ({
      join: `UNNEST(REGEXP_EXTRACT_ALL(${text}, ${pattern})) AS ${alias}`,
      match: alias,
    }),
    // RE2, as ours; a capturing group would make REGEXP_EXTRACT_ALL return the group, not the match.
    regexPattern: (re2) => re2,
    jsonString: (expression) => `TO_JSON_STRING(${expression})`,
    indexedIdIn: (alias, ids) => `${alias}.event_id IN (SELECT i.event_id FROM (${ids}) i)`,
    // FARM_FINGERPRINT takes one text: the values joined (a separator only makes collisions rarer).
    keyHash: (expressions) =>
      `FARM_FINGERPRINT(CONCAT(${expressions.map((e) => `CAST(${e} AS STRING)`).join(", '|', ")}))`,
    parseJson: (expression) => `PARSE_JSON(${expression})`,
    dateOfKey: (expression) => `PARSE_DATE('%Y%m%d', CAST(${expression} AS STRING))`,
    createWorkTable: (table, query) => `CREATE OR REPLACE TABLE ${table} AS\n${query}`,
    inJsonList: (expression, param) => `${expression} IN UNNEST(JSON_VALUE_ARRAY(@${param}))`,
    extraFieldCounts: (table, where) =>
      `SELECT field, COUNT(*) AS n FROM ${table} t, UNNEST(JSON_KEYS(JSON_QUERY(PARSE_JSON(t.metadata), '$._extra_fields'), 1)) AS field
       WHERE ${where} GROUP BY field`,
    indexKey: () => ({ columns: '', values: '' }),
    // Tables are partitioned on DATE(event_ts): the event_ts predicate prunes by itself.
    partitionFilter: () => '',
    rowPosition: () => null,
  };
}

/** BigQuery's own SQL: statements wrapped into one script transaction (the load's statements are shared). */
/** Statements as one multi-statement transaction: BigQuery commits all of them or none. */
export function transactionScript(statements: string[]): string {
  return `BEGIN TRANSACTION;\n\n${statements.map((s) => `${s};\n\n`).join('')}COMMIT TRANSACTION;`;
}

/**
 * A script statement failing with `message` unless the DML just before it changed exactly one
 * row: inside a transaction, the error rolls the whole script back. `message` is ours (plain text).
 */
export function requireOneRowChanged(message: string): string {
  if (!/^[\w :,.-]+$/.test(message)) throw new Error(`not a plain message: ${message}`);
  return `IF @@row_count <> 1 THEN RAISE USING MESSAGE = '${message}'; END IF`;
}
