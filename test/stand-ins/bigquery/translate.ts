import { rewriteCalls } from '../sql-calls.js';

/**
 * BigQuery SQL as we emit it → DuckDB SQL, for the test stand-in only. It
 * covers the constructs our own statements use, nothing more: backtick
 * names (the project part dropped: a dataset is a DuckDB schema), BigQuery
 * type names, the few functions we call, table options DuckDB has no use
 * for, `MERGE` without `INTO`, `@name` parameters, and the one piece of
 * scripting we emit: `IF <condition> THEN RAISE USING MESSAGE = '...'; END IF`
 * on one line (a SELECT calling DuckDB's error(), which fails the script, so
 * the server rolls its transaction back as BigQuery does) over `@@row_count`
 * (a DuckDB variable the server sets after every statement).
 */
const TYPES: [RegExp, string][] = [
  [/\bINT64\b/g, 'BIGINT'],
  [/\bFLOAT64\b/g, 'DOUBLE'],
  [/\bBOOL\b/g, 'BOOLEAN'],
  [/\bSTRING\b/g, 'VARCHAR'],
  [/\bBIGNUMERIC\b/g, 'DECIMAL(38,18)'],
  [/\bNUMERIC\b/g, 'DECIMAL(38,9)'],
  [/\bTIMESTAMP\b(?!\s*')/g, 'TIMESTAMPTZ'],
  [/\bBYTES\b/g, 'BLOB'],
];

/** BigQuery functions we call, by their DuckDB names. */
const FUNCTIONS: [RegExp, string][] = [
  [/\bSAFE\.PARSE_JSON\s*\(/gi, 'safe_parse_json('], // a macro (server.ts), before PARSE_JSON's rule
  [/\bTIMESTAMP_ADD\s*\(\s*(.+?)\s*,\s*INTERVAL\s+(\S+)\s+MILLISECOND\s*\)/gi, '($1 + to_milliseconds($2))'],
  [/\bUNIX_MILLIS\s*\(/gi, 'epoch_ms('],
  [/\bPARSE_JSON\s*\(/gi, 'json('],
  [/\bJSON_VALUE\s*\(/gi, 'json_extract_string('],
  [/\bCURRENT_TIMESTAMP\s*\(\s*\)/gi, 'now()'],
  [/\bTIMESTAMP\s*\(\s*@(\w+)\s*\)/g, 'CAST(@$1 AS TIMESTAMP)'],
  [/\bUNIX_DATE\s*\(/gi, "date_diff('day', DATE '1970-01-01', "],
  [/\bCOUNTIF\s*\(/gi, 'count_if('],
  [/\bTIMESTAMP_TRUNC\s*\(\s*([^,]+?)\s*,\s*HOUR\s*\)/g, "date_trunc('hour', $1)"],
  [/\bJSON_QUERY\s*\(/gi, 'json_extract('],
  [/\bJSON_KEYS\s*\(/gi, 'bq_json_keys('], // a macro of the stand-in's (server.ts)
  // With a time zone, whose literal follows this piece of code: 'UTC' stays the zone argument.
  [/\bTIMESTAMP_TRUNC\s*\(\s*([^,]+?)\s*,\s*HOUR\s*,(?=\s*$)/g, 'time_bucket(INTERVAL 1 HOUR, $1,'],
  [/\bTIMESTAMP_SUB\s*\(\s*([^,()]+?)\s*,\s*(INTERVAL \d+ \w+)\s*\)/g, '($1 - $2)'],
  [/\bUNIX_SECONDS\s*\(/gi, 'epoch('],
  [/\bGENERATE_ARRAY\s*\(/gi, 'generate_series('], // both ends included in each (a test's rows)
  [/\bFARM_FINGERPRINT\s*\(/gi, 'hash('], // another 64-bit hash: the checks only compare hashes with each other
];

function quoteName(name: string): string {
  const parts = name.split('.');
  const kept = parts.length === 3 ? parts.slice(1) : parts; // project.dataset.table → dataset.table
  return kept.map((part) => `"${part.replace(/"/g, '""')}"`).join('.');
}

/** Replaces outside string literals only. */
function outsideStrings(sql: string, replace: (code: string) => string): string {
  return sql
    .split(/('(?:[^'\\]|\\.)*')/)
    .map((piece, i) => (i % 2 === 1 ? piece : replace(piece)))
    .join('');
}

/** `APPROX_QUANTILES(x, 100)[OFFSET(n)]` or `[SAFE_OFFSET(n)]` → `quantile_cont(x, n/100)`; x may hold parentheses. */
function quantiles(code: string): string {
  const head = 'APPROX_QUANTILES(';
  let out = '';
  let at = 0;
  for (let start = code.indexOf(head); start !== -1; start = code.indexOf(head, at)) {
    let depth = 1;
    let i = start + head.length;
    for (; depth > 0; i++) depth += code[i] === '(' ? 1 : code[i] === ')' ? -1 : 0;
    const inner = code.slice(start + head.length, i - 1);
    const tail = /^\[(?:SAFE_)?OFFSET\((\d+)\)\]/.exec(code.slice(i))!;
    const expression = inner.slice(0, inner.lastIndexOf(','));
    out += `${code.slice(at, start)}quantile_cont(${expression}, ${Number(tail[1]) / 100})`;
    at = i + tail[0].length;
  }
  return out + code.slice(at);
}

/**
 * `x IN UNNEST(array)` is a subquery in DuckDB; `UNNEST(array) AS name`, a value table in
 * BigQuery, names its one column in DuckDB: `AS name(name)`.
 */
function unnests(sql: string): string {
  const inUnnest = rewriteCalls(sql, 'IN UNNEST(', (inner) => ({ text: `IN (SELECT unnest(${inner}))`, consumed: 0 }));
  return rewriteCalls(inUnnest, 'UNNEST(', (inner, rest) => {
    const alias = /^\s+AS\s+(\w+)\b(?!\s*\()/.exec(rest);
    return alias
      ? { text: `UNNEST(${inner}) AS ${alias[1]}(${alias[1]})`, consumed: alias[0].length }
      : { text: `UNNEST(${inner})`, consumed: 0 };
  });
}

/** A dataset's INFORMATION_SCHEMA.COLUMNS with BigQuery's type names. */
function columnsView(dataset: string): string {
  return `(SELECT table_name, column_name,
     CASE data_type WHEN 'BIGINT' THEN 'INT64' WHEN 'INTEGER' THEN 'INT64' WHEN 'VARCHAR' THEN 'STRING'
       WHEN 'DOUBLE' THEN 'FLOAT64' WHEN 'BOOLEAN' THEN 'BOOL' WHEN 'TIMESTAMP WITH TIME ZONE' THEN 'TIMESTAMP'
       WHEN 'DECIMAL(38,9)' THEN 'NUMERIC' ELSE data_type END AS data_type
   FROM information_schema.columns WHERE table_schema = '${dataset.replace(/'/g, "''")}')`;
}

/** `IF <condition> THEN RAISE USING MESSAGE = '<text>'; END IF`, written on one line. */
const RAISE_IF = /^(\s*)IF\s+(.+?)\s+THEN\s+RAISE\s+USING\s+MESSAGE\s*=\s*('(?:[^'\\]|\\.)*')\s*;\s*END\s+IF\b/gim;

export function toDuckDB(sql: string): string {
  // Comments go first: an apostrophe in one would read as a string literal (ours hold no `--` in strings).
  const uncommented = sql
    .replace(/--[^\n]*/g, '')
    .replace(RAISE_IF, '$1SELECT CASE WHEN $2 THEN error($3) END')
    .replace(/@@row_count\b/gi, "getvariable('row_count')");
  return outsideStrings(unnests(uncommented), (code) => {
    let out = quantiles(code).replace(/`([^`]+)`/g, (_, name: string) => quoteName(name));
    for (const [pattern, replacement] of [...FUNCTIONS, ...TYPES]) out = out.replace(pattern, replacement);
    out = out
      .replace(/\bPARTITION BY\s+DATE\s*\([^)]*\)/gi, '')
      .replace(/\bCLUSTER BY\s+[\w\s,]+?(?=;|$|\bOPTIONS\b)/gi, '')
      .replace(/\bOPTIONS\s*\([^)]*\)/gi, '')
      .replace(/\bMERGE\s+(?!INTO\b)/gi, 'MERGE INTO ')
      .replace(/\bCOMMIT TRANSACTION\b/gi, 'COMMIT')
      .replace(/@(\w+)/g, '$$$1')
      .replace(/"[^"]+"\."([^"]+)"\.INFORMATION_SCHEMA\.COLUMNS/g, (_, dataset: string) => columnsView(dataset));
    return out;
  });
}
