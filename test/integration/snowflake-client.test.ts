import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SnowflakeClient } from '../../src/warehouse/snowflake/snowflake-client.js';
import { SnowflakeStandIn } from '../stand-ins/snowflake/server.js';
import { Workspace } from '../helpers/workspace.js';

process.env.NO_PROXY = '127.0.0.1,localhost';
const PASSWORD = 'sf-password-that-must-never-show';
const settings = (accessUrl: string, password = PASSWORD) => ({
  account: 'aetl_test',
  user: 'loader',
  password,
  database: 'AETL',
  schema: 'PUBLIC',
  accessUrl,
});

describe('Snowflake client against the stand-in (the real snowflake-sdk driver)', () => {
  const ws = new Workspace();
  let standIn: SnowflakeStandIn;
  let client: SnowflakeClient;

  beforeAll(async () => {
    standIn = await SnowflakeStandIn.start(PASSWORD);
    client = await SnowflakeClient.connect(settings(standIn.url));
  });
  afterAll(async () => {
    await client.close();
    await standIn.close();
    ws.remove();
  });

  it('runs DDL and DML with positional binds and reads typed rows back', async () => {
    await client.query(
      'creating a table',
      'CREATE TABLE t (id INTEGER, name VARCHAR, ts TIMESTAMP_TZ, flag BOOLEAN, cost DECIMAL(18,6))',
    );
    const ts = '2026-05-01T12:30:00.123Z';
    await client.query('inserting', 'INSERT INTO t VALUES (?, ?, ?, ?, ?)', [1, 'alice', ts, true, '12345.678901']);
    await client.query('inserting', 'INSERT INTO t VALUES (:1, :2, :3, :4, :5)', [2, null, null, false, '0.000001']);
    const rows = await client.query('reading', 'SELECT id, name, ts, flag, cost FROM t WHERE id >= ? ORDER BY id', [1]);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ ID: 1, NAME: 'alice', FLAG: true, COST: 12345.678901 });
    expect((rows[0]!.TS as Date).toISOString()).toBe(ts);
    expect(rows[1]).toMatchObject({ ID: 2, NAME: null, TS: null, FLAG: false, COST: 0.000001 });
    expect(await standIn.rows('SELECT count(*) AS n FROM t')).toEqual([{ n: 2n }]);
  });

  it('PUTs a file to a stage as is, and leaves the process umask alone', async () => {
    const file = ws.path('part-00001.parquet');
    writeFileSync(file, Buffer.from('PAR1 not really parquet PAR1'));
    const umask = process.umask();
    await client.put('staging the batch', file, 'aetl_stage');
    expect(process.umask()).toBe(umask);
    const staged = join(standIn.stageRoot, 'aetl_stage', basename(file));
    expect(existsSync(staged)).toBe(true);
    expect(readFileSync(staged)).toEqual(readFileSync(file));
    await expect(client.put('staging', file, 'x; DROP TABLE t')).rejects.toThrow(/invalid Snowflake stage name/);
  });

  it('names the purpose and the query id of a failed statement, never the password', async () => {
    const error = (await client
      .query('merging the batch', 'SELECT * FROM no_such_table')
      .catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(
      /^Snowflake merging the batch failed \(query [0-9a-f-]{36}, 002003\): SQL compilation error: /,
    );
    expect(error.message).not.toContain(PASSWORD);
    const denied = (await SnowflakeClient.connect(settings(standIn.url, 'wrong-password')).catch(
      (e: unknown) => e,
    )) as Error;
    expect(denied.message).toMatch(/^Snowflake connecting as loader to account aetl_test failed/);
    expect(denied.message).not.toContain('wrong-password');
  });
});
