import { checkedPath, checkedTable, type Dialect } from '../dialect.js';
import type { SqlType } from '../driver.js';

/** Each bound value's column type. */
const DUCKDB_TYPES: Record<SqlType, string> = {
  text: 'VARCHAR',
  int: 'BIGINT',
  float: 'DOUBLE',
  bool: 'BOOLEAN',
  timestamp: 'TIMESTAMPTZ',
  date: 'DATE',
  numeric: 'DECIMAL(38, 9)',
};

export const duckdbDialect: Dialect = {
  name: 'duckdb',
  columnType: (type) => DUCKDB_TYPES[type],
  table: (name) => checkedTable(name),
  timestamp: (param) => `$${param}::TIMESTAMPTZ`,
  param: (name) => `$${name}`,
  serverTime: (plus) => (plus ? `(now() + to_milliseconds($${plus}))` : 'now()'),
  hour: (column) => `date_trunc('hour', ${column})`,
  epochMs: (expression) => `epoch_ms(${expression})`,
  epochHour: (column) => `epoch_ms(${column}) // 3600000`,
  countIf: (condition) => `count(*) FILTER (WHERE ${condition})`,
  percentile: (expression, fraction) => `quantile_cont(${expression}, ${fraction})`,
  jsonText: (expression, path) => `json_extract_string(${expression}, '${checkedPath(path)}')`,
  tryParseJson: (text) => `TRY_CAST(${text} AS JSON)`,
  regexMatches: (text, pattern, alias) => ({
    join: `unnest(regexp_extract_all(${text}, ${pattern})) AS ${alias}(${alias})`,
    match: alias,
  }),
  regexPattern: (re2) => re2,
  jsonString: (expression) => `CAST(${expression} AS VARCHAR)`,
  indexedIdIn: (alias, ids) => `${alias}.id_key IN (SELECT md5_number_lower(i.event_id) FROM (${ids}) i)`,
  keyHash: (expressions) => `hash(${expressions.join(', ')})`,
  // A cast validates the text and keeps it: json() re-serialises it in an arena per vector, and 500
  // records of 30 KB metadata ran the load out of a 160MB pool.
  parseJson: (expression) => `CAST(${expression} AS JSON)`,
  dateOfKey: (expression) => `strptime(CAST(${expression} AS VARCHAR), '%Y%m%d')::DATE`,
  createWorkTable: (table, query) => `CREATE OR REPLACE TEMP TABLE ${table} AS\n${query}`,
  inJsonList: (expression, param) => `list_contains(from_json($${param}, '["VARCHAR"]'), ${expression})`,
  extraFieldCounts: (table, where) =>
    `SELECT field, count(*) AS n FROM (SELECT unnest(json_keys(json(metadata)->'_extra_fields')) AS field
     FROM ${table} WHERE (json(metadata)->'_extra_fields') IS NOT NULL AND ${where}) GROUP BY field`,
  indexKey: (id) => ({ columns: ', id_key', values: `, md5_number_lower(${id})` }),
  // Facts carry date_key, the cheapest filter DuckDB can use to skip row groups. It is the UTC
  // day: strftime on a TIMESTAMPTZ formats the session's local date, so convert to UTC first.
  partitionFilter: (alias, from, to) =>
    `AND ${alias}.date_key BETWEEN CAST(strftime($${from}::TIMESTAMPTZ AT TIME ZONE 'UTC', '%Y%m%d') AS INTEGER) ` +
    `AND CAST(strftime($${to}::TIMESTAMPTZ AT TIME ZONE 'UTC', '%Y%m%d') AS INTEGER)`,
  rowPosition: (alias) => `${alias}.rowid`,
};
