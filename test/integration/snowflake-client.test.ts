import { CredentialRefusedError } from '../../src/util/errors.js';
import { generateKeyPairSync, createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SnowflakeClient, SnowflakeDriver } from '../../src/warehouse/snowflake/snowflake-driver.js';
import { copySql, putSql } from '../../src/warehouse/snowflake/snowflake-dialect.js';
import { SnowflakeStandIn } from '../stand-ins/snowflake/server.js';
import { Workspace } from '../helpers/workspace.js';
import { SCRATCH } from '../helpers/duckdb.js';

process.env.NO_PROXY = '127.0.0.1,localhost';
const PASSWORD = 'sf-password-that-must-never-show';
const settings = (accessUrl: string, password = PASSWORD) => ({
  account: 'aetl_test',
  user: 'loader',
  auth: { password },
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
      'CREATE TABLE t (id BIGINT, name VARCHAR, ts TIMESTAMP_TZ, flag BOOLEAN, cost DECIMAL(18,6))',
    );
    const ts = '2026-05-01T12:30:00.123Z';
    const key = '-9123456789012345678'; // a 64-bit surrogate key: a JS number would round it
    await client.query('inserting', 'INSERT INTO t VALUES (?, ?, ?, ?, ?)', [key, 'alice', ts, true, '12345.678901']);
    await client.query('inserting', 'INSERT INTO t VALUES (:1, :2, :3, :4, :5)', [2, null, null, false, '0.000001']);
    const rows = await client.query('reading', 'SELECT id, name, ts, flag, cost FROM t ORDER BY id');
    expect(rows).toHaveLength(2);
    // Column names come back lower case (Snowflake folds unquoted ones up), integers and decimals exactly.
    expect(rows[0]).toMatchObject({ id: BigInt(key), name: 'alice', flag: true, cost: '12345.678901' });
    expect((rows[0]!.ts as Date).toISOString()).toBe(ts);
    expect(rows[1]).toMatchObject({ id: 2n, name: null, ts: null, flag: false, cost: '0.000001' });
    // A DATE is its day, not an instant at midnight; a FLOAT a number.
    expect(await client.query('reading', "SELECT DATE '2026-05-01' AS d, 0.25::FLOAT AS f")).toEqual([
      { d: '2026-05-01', f: 0.25 },
    ]);
    expect(await standIn.rows('SELECT count(*) AS n FROM t')).toEqual([{ n: 2n }]);
    const engine = new SnowflakeDriver(client, { clusterByDate: false, scratch: SCRATCH });
    const [typed] = await engine.run('reading', 'SELECT id, :ts AS at_ts FROM t WHERE id = :id AND :id < 0', {
      id: { type: 'int', value: BigInt(key) },
      ts: { type: 'timestamp', value: ts },
    });
    expect(typed!.id).toBe(BigInt(key));
    expect((typed!.at_ts as Date).toISOString()).toBe(ts);
  });

  it('PUTs a file to a stage as is, and leaves the process umask alone', async () => {
    const file = ws.path('part-00001.parquet');
    writeFileSync(file, Buffer.from('PAR1 not really parquet PAR1'));
    const umask = process.umask();
    await client.put('staging the batch', putSql(file, '@"AETL"."PUBLIC"."AETL_STAGE"/aetl/p/'));
    expect(process.umask()).toBe(umask);
    const staged = join(standIn.stageRoot, 'AETL', 'PUBLIC', 'AETL_STAGE', 'aetl', 'p', basename(file));
    expect(existsSync(staged)).toBe(true);
    expect(readFileSync(staged)).toEqual(readFileSync(file));
    expect(() => putSql(file, '@x; DROP TABLE t')).toThrow(/invalid Snowflake stage location/);
  });

  it("COPY's load history would skip a re-staged file; our COPY (FORCE) loads it again", async () => {
    await standIn.rows(
      "COPY (SELECT 1::BIGINT AS id, 'bob' AS name) TO '" + ws.path('one.parquet') + "' (FORMAT parquet)",
    );
    await client.query('creating a table', 'CREATE TABLE staged (id BIGINT, name VARCHAR)');
    const location = '@"AETL"."PUBLIC"."AETL_STAGE"/aetl/copy/';
    const copyOnce = async (sql: string) => {
      await client.put('staging', putSql(ws.path('one.parquet'), location));
      return client.query('copying', sql);
    };
    const plain = copySql('staged', location).replace(/\nFORCE = TRUE/, '');
    expect((await copyOnce(plain)).map((r) => r.status)).toEqual(['LOADED']);
    expect((await copyOnce(plain)).map((r) => r.status)).toEqual(['Copy executed with 0 files processed.']);
    expect((await copyOnce(copySql('staged', location))).map((r) => r.status)).toEqual(['LOADED']);
    expect(await standIn.rows('SELECT count(*) AS n FROM staged')).toEqual([{ n: 2n }]);
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
    // A refused login is a configuration error (exit 2), naming the key to fix.
    expect(denied).toBeInstanceOf(CredentialRefusedError);
    expect(denied.message).toMatch(
      /^Snowflake refused the login connecting as loader to account aetl_test \(390100: .*\): check warehouse\.password and warehouse\.user$/,
    );
    expect(denied.message).not.toContain('wrong-password');
  });
});

describe('Snowflake key-pair login (the driver signs a JWT; the stand-in checks it with the public key)', () => {
  const pair = (passphrase?: string) =>
    generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: passphrase
        ? { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }
        : { type: 'pkcs8', format: 'pem' },
    });
  const ws = new Workspace();
  afterAll(() => ws.remove());

  it('signs in with an encrypted key from a file or a key given as text, and refuses another key', async () => {
    const user = pair('key-passphrase');
    const standIn = await SnowflakeStandIn.start({ publicKey: createPublicKey(user.publicKey) });
    try {
      const keyFile = ws.path('rsa_key.p8');
      writeFileSync(keyFile, user.privateKey);
      for (const auth of [
        { privateKeyPath: keyFile, passphrase: 'key-passphrase' },
        {
          privateKey: createPrivateKey({ key: user.privateKey, passphrase: 'key-passphrase' })
            .export({ type: 'pkcs8', format: 'pem' })
            .toString(),
        },
      ]) {
        const client = await SnowflakeClient.connect({ ...settings(standIn.url), auth });
        expect(await client.query('probing', 'SELECT 1 AS one')).toEqual([{ one: 1n }]);
        await client.close();
      }
      const stranger = { privateKey: pair().privateKey };
      const denied = (await SnowflakeClient.connect({ ...settings(standIn.url), auth: stranger }).catch(
        (e: unknown) => e,
      )) as Error;
      expect(denied).toBeInstanceOf(CredentialRefusedError);
      expect(denied.message).toMatch(/^Snowflake refused the login .*\(3901\d\d: .*check warehouse\.private_key/);
      expect(denied.message).not.toContain('PRIVATE KEY');
    } finally {
      await standIn.close();
    }
  });
});
