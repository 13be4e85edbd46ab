/**
 * The few places where check SQL differs between engines. Every check query
 * is written once (check-sql.ts) against this interface, so DuckDB, BigQuery
 * and Snowflake run the same checks.
 */
export interface CheckDialect {
  readonly name: 'duckdb' | 'bigquery' | 'snowflake';
  /** A table of ours, qualified as the engine needs it. */
  table(name: string): string;
  /** A bound timestamp parameter (ISO text bound by name). */
  timestamp(param: string): string;
  /** A bound parameter's placeholder (the engine types it from its bound value). */
  param(name: string): string;
  hour(column: string): string;
  epochMs(expression: string): string;
  countIf(condition: string): string;
  percentile(expression: string, fraction: number): string;
  /** A text value inside a JSON column, at a JSONPath such as `$[0].path`. */
  jsonText(expression: string, path: string): string;
  /**
   * A predicate: the id index row `alias` names one of the ids `ids` selects (a query of
   * `event_id`). DuckDB matches on the index's fixed-width `id_key` (a cheap scan; a hash
   * collision only adds a date to look at); the others on the id, their index clustered by it.
   */
  indexedIdIn(alias: string, ids: string): string;
  /** An extra predicate that lets the engine skip partitions outside [from, to) ('' when event_ts itself prunes). */
  partitionFilter(alias: string, fromParam: string, toParam: string): string;
}

const identifier = /^[a-z_][a-z0-9_]*$/;

/** JSONPaths are ours, written in code; still, nothing but a plain path reaches the SQL text. */
function checkedPath(path: string): string {
  if (!/^\$(\[\d+\]|\.[a-z_]+)+$/.test(path)) throw new Error(`not a JSON path: ${path}`);
  return path;
}

function checked(name: string): string {
  if (!identifier.test(name)) throw new Error(`not a table name: ${name}`);
  return name;
}

export const duckdbDialect: CheckDialect = {
  name: 'duckdb',
  table: (name) => checked(name),
  timestamp: (param) => `$${param}::TIMESTAMPTZ`,
  param: (name) => `$${name}`,
  hour: (column) => `date_trunc('hour', ${column})`,
  epochMs: (expression) => `epoch_ms(${expression})`,
  countIf: (condition) => `count(*) FILTER (WHERE ${condition})`,
  percentile: (expression, fraction) => `quantile_cont(${expression}, ${fraction})`,
  jsonText: (expression, path) => `json_extract_string(${expression}, '${checkedPath(path)}')`,
  indexedIdIn: (alias, ids) => `${alias}.id_key IN (SELECT md5_number_lower(i.event_id) FROM (${ids}) i)`,
  // Facts carry date_key, the cheapest filter DuckDB can use to skip row groups. It is the UTC
  // day: strftime on a TIMESTAMPTZ formats the session's local date, so convert to UTC first.
  partitionFilter: (alias, from, to) =>
    `AND ${alias}.date_key BETWEEN CAST(strftime($${from}::TIMESTAMPTZ AT TIME ZONE 'UTC', '%Y%m%d') AS INTEGER) ` +
    `AND CAST(strftime($${to}::TIMESTAMPTZ AT TIME ZONE 'UTC', '%Y%m%d') AS INTEGER)`,
};

/** `dataset` is validated by the caller's config schema; it is quoted here with backticks. */
export function bigqueryDialect(dataset: string): CheckDialect {
  return {
    name: 'bigquery',
    table: (name) => `\`${dataset}.${checked(name)}\``,
    timestamp: (param) => `TIMESTAMP(@${param})`,
    param: (name) => `@${name}`,
    hour: (column) => `TIMESTAMP_TRUNC(${column}, HOUR)`,
    epochMs: (expression) => `UNIX_MILLIS(${expression})`,
    countIf: (condition) => `COUNTIF(${condition})`,
    percentile: (expression, fraction) => `APPROX_QUANTILES(${expression}, 100)[OFFSET(${Math.round(fraction * 100)})]`,
    jsonText: (expression, path) => `JSON_VALUE(${expression}, '${checkedPath(path)}')`,
    indexedIdIn: (alias, ids) => `${alias}.event_id IN (SELECT i.event_id FROM (${ids}) i)`,
    // Tables are partitioned on DATE(event_ts): the event_ts predicate prunes by itself.
    partitionFilter: () => '',
  };
}

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

export function snowflakeDialect(database: string, schema: string): CheckDialect {
  return {
    name: 'snowflake',
    table: (name) => snowflakeQualified(database, schema, checked(name)),
    timestamp: (param) => `TO_TIMESTAMP_TZ(:${param})`,
    param: (name) => `:${name}`,
    hour: (column) => `DATE_TRUNC('hour', ${column})`,
    epochMs: (expression) => `DATE_PART(epoch_millisecond, ${expression})`,
    countIf: (condition) => `COUNT_IF(${condition})`,
    percentile: (expression, fraction) => `PERCENTILE_CONT(${fraction}) WITHIN GROUP (ORDER BY ${expression})`,
    // Snowflake's paths have no leading `$`.
    jsonText: (expression, path) => `GET_PATH(${expression}, '${checkedPath(path).slice(1)}')::STRING`,
    indexedIdIn: (alias, ids) => `${alias}.event_id IN (SELECT i.event_id FROM (${ids}) i)`,
    partitionFilter: () => '',
  };
}
