import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Dialect } from '../dialect.js';
import { instant, int, int64, text, type Driver } from '../driver.js';

/**
 * Our own tables evolve by versioned migrations on every engine (DESIGN.md
 * decision 19): `sql/<engine>/migrations/NNN_name.sql`, applied in order,
 * each recorded in `etl_schema_version` with the file that made it.
 */
const SQL_DIR = fileURLToPath(new URL('../../../sql/', import.meta.url));

const versionOf = (file: string) => Number(file.split('_')[0]);

/** The engine's migration files, in order. */
export function migrationFiles(engine: Dialect['name']): string[] {
  return readdirSync(`${SQL_DIR}${engine}/migrations`)
    .filter((name) => /^\d{3}_[a-z0-9_]+\.sql$/.test(name))
    .sort();
}

export function migrationText(engine: Dialect['name'], file: string): string {
  return readFileSync(`${SQL_DIR}${engine}/migrations/${file}`, 'utf8');
}

function versionTableSql(d: Dialect): string {
  return `CREATE TABLE IF NOT EXISTS ${d.table('etl_schema_version')} (version ${d.columnType('int')} NOT NULL,
  name ${d.columnType('text')} NOT NULL, applied_at ${d.columnType('timestamp')} NOT NULL)`;
}

/** The migration files not applied yet, in order (the version table must exist). */
async function unapplied(driver: Driver): Promise<string[]> {
  const rows = await driver.run(
    'reading the schema version',
    `SELECT version FROM ${driver.dialect.table('etl_schema_version')}`,
  );
  const applied = new Set(rows.map((r) => Number(int64(r.version))));
  return migrationFiles(driver.dialect.name).filter((file) => !applied.has(versionOf(file)));
}

/**
 * Applies the migrations not yet applied, each followed by its version row:
 * in one transaction on DuckDB; Snowflake and BigQuery commit DDL on their
 * own, so their migrations are written to be re-runnable (`IF NOT EXISTS`
 * throughout). Returns how many ran.
 */
export async function applyMigrations(driver: Driver, nowMs: number = Date.now()): Promise<number> {
  await driver.run('creating the schema version table', versionTableSql(driver.dialect));
  const pending = await unapplied(driver);
  const d = driver.dialect;
  for (const file of pending) {
    await driver.applyMigration(file, migrationText(d.name, file), {
      sql: `INSERT INTO ${d.table('etl_schema_version')} (version, name, applied_at)
         SELECT ${d.param('version')}, ${d.param('name')}, ${d.param('now')}`,
      params: { version: int(versionOf(file)), name: text(file), now: instant(nowMs) },
    });
  }
  return pending.length;
}

/** What `applyMigrations` would apply, without applying it (`aetl doctor`); every file when the table is missing. */
export async function pendingMigrations(driver: Driver): Promise<string[]> {
  return (await driver.tableExists('etl_schema_version')) ? unapplied(driver) : migrationFiles(driver.dialect.name);
}
