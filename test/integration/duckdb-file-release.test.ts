import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDBDriver } from '../../src/warehouse/duckdb/duckdb-driver.js';
import { SCRATCH } from '../helpers/duckdb.js';
import { REPO, workspacesForFile } from '../helpers/workspace.js';

const workspace = workspacesForFile();

/** Another process (DuckDB locks files per process) opens the file read-only: its count, or DuckDB's error. */
function readElsewhere(file: string): string {
  const script = `
    const { DuckDBInstance } = await import('@duckdb/node-api');
    try {
      const instance = await DuckDBInstance.create(${JSON.stringify(file)}, { access_mode: 'READ_ONLY' });
      const reader = await (await instance.connect()).runAndReadAll('SELECT count(*) FROM t');
      console.log(String(reader.getRows()[0][0]));
    } catch (error) {
      console.log(error.message);
    }`;
  return execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO }).toString().trim();
}

describe('the DuckDB driver holds its file only while statements use it', () => {
  let driver: DuckDBDriver;
  let file: string;
  beforeAll(async () => {
    file = workspace().path('held.duckdb');
    driver = await DuckDBDriver.open(file, SCRATCH);
    await driver.run('setup', 'CREATE TABLE t AS SELECT range AS x FROM range(3)');
  });
  afterAll(() => driver.close());

  it('another process can open the file once the driver is idle (DETACH released the OS lock), not while a transaction runs', async () => {
    await sleep(300); // past the idle release
    expect(readElsewhere(file)).toBe('3');
    await driver.transaction(async () => {
      await driver.run('insert', 'INSERT INTO t VALUES (3)');
      expect(readElsewhere(file)).toMatch(/Could not set lock on file/);
    });
    await sleep(300);
    // The committed row was checkpointed into the file on DETACH: the other process sees it.
    expect(readElsewhere(file)).toBe('4');
    expect(await driver.run('count', 'SELECT count(*)::INTEGER AS n FROM t')).toEqual([{ n: 4 }]);
  });
});
