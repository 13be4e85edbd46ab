import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config/schema.js';
import { openDuckDB, sqlString, type Row } from '../warehouse/duckdb/duckdb-driver.js';
import { UsageError } from '../util/errors.js';
import { duckdbSettings, duckdbWarehouse } from '../pipeline/open-warehouse.js';

const LAKE_VIEWS = fileURLToPath(new URL('../../sql/duckdb/lake_views.sql', import.meta.url));

/**
 * `aetl query <file.sql> [--param k=v]... [--lake]`: runs an analyst query
 * (named `$parameters`, bound, never spliced) against the warehouse opened
 * read-only, or against the Parquet lake through the lake views.
 */
export async function runQuery(
  config: Config,
  file: string,
  params: Record<string, string>,
  lake: boolean,
): Promise<Row[]> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const missing = [
    ...new Set([...text.replace(/--.*$/gm, '').matchAll(/\$([a-z_][a-z0-9_]*)/gi)].map((m) => m[1]!)),
  ].filter((name) => !(name in params));
  if (missing.length > 0) throw new UsageError(`${file} needs ${missing.map((m) => `--param ${m}=...`).join(' ')}`);
  const warehouse = duckdbWarehouse(config, 'query');
  const db = await openDuckDB(lake ? ':memory:' : warehouse.path, duckdbSettings(config, warehouse, !lake));
  try {
    if (lake) {
      // A function replacement, so a `$` in the path stays literal.
      const prefix = sqlString(`${config.lake.path}/`).slice(0, -1);
      await db.connection.run(readFileSync(LAKE_VIEWS, 'utf8').replaceAll("'data/lake/", () => prefix));
    }
    const used = Object.fromEntries(Object.entries(params).filter(([name]) => text.includes(`$${name}`)));
    const reader = await db.connection.runAndReadAll(text, used);
    return reader.getRowObjectsJson() as Row[];
  } finally {
    db.close();
  }
}
