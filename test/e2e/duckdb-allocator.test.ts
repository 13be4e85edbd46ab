import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { REPO } from '../helpers/workspace.js';

const API = pathToFileURL(join(REPO, 'dist/warehouse/duckdb/duckdb-api.js')).href;

/**
 * Loads DuckDB as the product does, runs a statement, and prints what the environment holds afterwards;
 * `stats_print:true` makes DuckDB's jemalloc print the options it runs with when the process exits.
 */
function loadDuckDB(options: string | undefined) {
  const script = `
    const { DuckDBInstance } = await import(${JSON.stringify(API)});
    const connection = await (await DuckDBInstance.create(':memory:')).connect();
    await connection.run('SELECT 1');
    console.log(process.env.DUCKDB_JE_MALLOC_CONF ?? 'unset');`;
  const env = { ...process.env };
  delete env.DUCKDB_JE_MALLOC_CONF;
  if (options !== undefined) env.DUCKDB_JE_MALLOC_CONF = options;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' });
  expect(result.status, result.stderr).toBe(0);
  const option = (name: string) => new RegExp(`opt\\.${name}: (\\d+)`).exec(result.stderr)?.[1];
  return { env: result.stdout.trim(), dirty: option('dirty_decay_ms'), muzzy: option('muzzy_decay_ms') };
}

describe("DuckDB's allocator gives freed pages back within 200 ms", () => {
  it('applies its options under the user’s and leaves the environment as it was', () => {
    expect(loadDuckDB('stats_print:true')).toEqual({ env: 'stats_print:true', dirty: '200', muzzy: '0' });
  });

  it('lets an option the user set win', () => {
    const options = 'stats_print:true,dirty_decay_ms:700';
    expect(loadDuckDB(options)).toEqual({ env: options, dirty: '700', muzzy: '0' });
  });

  it('leaves nothing in the environment for child processes', () => {
    expect(loadDuckDB(undefined).env).toBe('unset');
  });
});
