import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RunFailedError } from '../../util/errors.js';
import type { SqlState } from '../sql/sql-state.js';
import type { BigQueryClient } from './bigquery-client.js';
import { tableRef } from './bigquery-sql.js';

const DDL_FILE = fileURLToPath(new URL('../../../sql/bigquery/ddl.sql', import.meta.url));

/**
 * Creates the dataset and our tables if missing (`sql/bigquery/ddl.sql`, one
 * script); once they exist, checks they still match it. Returns how many
 * schema versions were applied.
 */
export async function migrateBigQuery(client: BigQueryClient, state: SqlState): Promise<number> {
  const { project, dataset } = client.settings;
  await client.ensureDataset();
  const applied = await state.applySchemaOnce(
    `CREATE TABLE IF NOT EXISTS ${tableRef(client.settings, 'etl_schema_version')} (version INT64 NOT NULL, name STRING NOT NULL, applied_at TIMESTAMP NOT NULL)`,
    async () => {
      const ddl = readFileSync(DDL_FILE, 'utf8').replaceAll('{{dataset}}', `${project}.${dataset}`);
      await client.query('creating the warehouse tables', ddl);
    },
  );
  if (applied === 0) await checkDrift(client);
  return applied;
}

/**
 * Our tables as they are against the DDL: a column someone dropped, added as
 * another type or renamed stops the run here, named, rather than failing a
 * MERGE halfway (columns added by someone else are left alone).
 */
async function checkDrift(client: BigQueryClient): Promise<void> {
  const { project, dataset } = client.settings;
  const rows = await client.query(
    'reading our table schemas',
    `SELECT table_name, column_name, data_type FROM \`${project}.${dataset}\`.INFORMATION_SCHEMA.COLUMNS`,
  );
  const actual = new Map(rows.map((r) => [`${String(r.table_name)}.${String(r.column_name)}`, String(r.data_type)]));
  const problems: string[] = [];
  for (const [table, columns] of expectedColumns(readFileSync(DDL_FILE, 'utf8'))) {
    for (const [column, type] of columns) {
      const found = actual.get(`${table}.${column}`);
      if (found === undefined) problems.push(`${table}.${column} is missing (expected ${type})`);
      else if (found !== type) problems.push(`${table}.${column} is ${found}, expected ${type}`);
    }
  }
  if (problems.length > 0) {
    throw new RunFailedError(
      `the BigQuery dataset ${project}.${dataset} has drifted from our schema (sql/bigquery/ddl.sql): ` +
        `${problems.join('; ')}. Restore these columns, or load into a new dataset`,
    );
  }
}

/** Each table's columns and types as our DDL declares them (one column per line, as the file is written). */
export function expectedColumns(ddl: string): Map<string, [string, string][]> {
  const tables = new Map<string, [string, string][]>();
  for (const match of ddl.matchAll(/CREATE TABLE IF NOT EXISTS `\{\{dataset\}\}\.(\w+)` \(([\s\S]*?)\n\)/g)) {
    const columns = [...match[2]!.matchAll(/^\s+(\w+)\s+([A-Z0-9]+)/gm)].map((c) => [c[1]!, c[2]!] as [string, string]);
    tables.set(match[1]!, columns);
  }
  return tables;
}
