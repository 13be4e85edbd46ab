import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Dialect } from '../warehouse/dialect.js';
import { bool, day, float, instant, int, numeric, text, type SqlParams, type SqlType } from '../warehouse/driver.js';
import { parseCliInstant } from '../util/dates.js';
import { UsageError } from '../util/errors.js';

/**
 * An analyst query file for `aetl query`: found by name in the engine's own
 * `sql/<dialect>/queries/` or at a path, its comments removed, its parameters
 * checked against the values given and typed as its `-- params:` header
 * declares them, all before any warehouse is opened.
 */
export const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));

type Engine = Dialect['name'];

/** A placeholder as each dialect's `param()` writes it. */
const SIGIL: Record<Engine, string> = { duckdb: '$', bigquery: '@', snowflake: ':' };

/** The header's type names (BigQuery's, which read the same in every dialect) and how each is bound. */
const TYPES: Record<string, SqlType> = {
  STRING: 'text',
  INT64: 'int',
  FLOAT64: 'float',
  BOOL: 'bool',
  TIMESTAMP: 'timestamp',
  DATE: 'date',
  NUMERIC: 'numeric',
};

export interface QueryFile {
  /** The shipped query's name, or the path as given. */
  label: string;
  /** The SQL without comments. */
  sql: string;
  params: SqlParams;
}

export function queryFile(query: string, engine: Engine, given: Record<string, string>): QueryFile {
  const { file, label } = locate(query, engine);
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const sql = withoutComments(source);
  return { label, sql, params: boundParams(label, declaredParams(source), placeholders(sql, SIGIL[engine]), given) };
}

/** A path as given (kept working), else a shipped query's name; another engine's shipped file is refused. */
function locate(query: string, engine: Engine): { file: string; label: string } {
  const shipped = /^(duckdb|bigquery|snowflake)\/queries\/(\w+)\.sql$/.exec(relative(SQL_DIR, resolve(query)));
  if (shipped && shipped[1] !== engine) {
    throw new UsageError(`${query} is the ${shipped[1]} version; on ${engine} run: aetl query ${shipped[2]}`);
  }
  if (existsSync(query) || !/^\w+$/.test(query)) return { file: query, label: query };
  const dir = `${SQL_DIR}${engine}/queries/`;
  const file = `${dir}${query}.sql`;
  if (!existsSync(file)) {
    const names = readdirSync(dir).map((f) => f.replace(/\.sql$/, ''));
    throw new UsageError(`no file ${query} and no shipped query of that name (${names.join(', ')})`);
  }
  return { file, label: query };
}

/** String literals, quoted names and comments, matched where each starts (so `--` in a string is no comment). */
const LEXEMES = /('(?:[^'\\]|\\.|'')*'|"(?:[^"]|"")*"|`[^`]*`|--[^\n]*|\/\*[\s\S]*?\*\/)/;

/** Comments hold prose (`:from`, apostrophes) that a placeholder scan or an engine's bind parser would misread. */
export function withoutComments(sql: string): string {
  return sql
    .split(LEXEMES)
    .map((piece, i) => (i % 2 === 1 && /^(--|\/\*)/.test(piece) ? ' ' : piece))
    .join('')
    .trim();
}

/** The `-- params: from TIMESTAMP, to TIMESTAMP` header, in its order. */
export function declaredParams(source: string): Map<string, SqlType> {
  const declared = new Map<string, SqlType>();
  for (const [, list] of source.matchAll(/^--\s*params:(.*)$/gm)) {
    for (const item of list!.split(',')) {
      const [name, type, ...rest] = item.trim().split(/\s+/);
      const sqlType = TYPES[type?.toUpperCase() ?? ''];
      if (!name || !sqlType || rest.length > 0 || !/^[A-Za-z_]\w*$/.test(name)) {
        throw new UsageError(
          `"-- params:" declares "name TYPE, ...", TYPE one of ${Object.keys(TYPES).join(', ')}; got "${item.trim()}"`,
        );
      }
      declared.set(name, sqlType);
    }
  }
  return declared;
}

/** The names the SQL binds (outside literals and quoted names; not `::` casts, `@@` variables or `$1`). */
export function placeholders(sql: string, sigil: string): string[] {
  const pattern = new RegExp(`(?<![\\w:$@])\\${sigil}([A-Za-z_]\\w*)`, 'g');
  const code = sql.split(LEXEMES).filter((_, i) => i % 2 === 0);
  return [...new Set(code.flatMap((piece) => [...piece.matchAll(pattern)].map((m) => m[1]!)))];
}

/**
 * Every declared or used parameter needs a value (others given are left unbound, so one set of
 * values serves every query). Values are checked here and bound as their declared type (an
 * undeclared one as text, as before headers existed).
 */
export function boundParams(
  label: string,
  declared: Map<string, SqlType>,
  used: string[],
  given: Record<string, string>,
): SqlParams {
  const names = [...new Set([...declared.keys(), ...used])];
  const missing = names.filter((name) => !(name in given));
  if (missing.length > 0) throw new UsageError(`${label} needs ${missing.map((m) => `--param ${m}=...`).join(' ')}`);
  return Object.fromEntries(names.map((name) => [name, typed(name, declared.get(name) ?? 'text', given[name]!)]));
}

function typed(name: string, type: SqlType, value: string): SqlParams[string] {
  const refuse = (expected: string) =>
    new UsageError(`--param ${name}: expected ${expected}, got ${JSON.stringify(value)}`);
  switch (type) {
    case 'text':
      return text(value);
    case 'timestamp': {
      const ms = parseCliInstant(value);
      if (ms === undefined) throw refuse('a date (2026-04-01, UTC midnight) or an ISO timestamp');
      return instant(ms);
    }
    case 'date':
      if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || parseCliInstant(value) === undefined) throw refuse('a date');
      return day(value);
    case 'int':
      if (!/^-?\d+$/.test(value)) throw refuse('a whole number');
      return int(BigInt(value));
    case 'float':
      if (!Number.isFinite(Number(value)) || value.trim() === '') throw refuse('a number');
      return float(Number(value));
    case 'numeric':
      if (!/^-?\d+(\.\d+)?$/.test(value)) throw refuse('a decimal number');
      return numeric(value);
    case 'bool':
      if (value !== 'true' && value !== 'false') throw refuse('true or false');
      return bool(value === 'true');
  }
}
