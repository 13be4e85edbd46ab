import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema, type Config } from '../../src/config/schema.js';
import { createLogger } from '../../src/log/logger.js';
import { connectWarehouse } from '../../src/pipeline/open-warehouse.js';
import { acquireRunLock } from '../../src/pipeline/run-lock.js';
import { LeaseLostError } from '../../src/state/lease-lock.js';
import { LockHeldError, type HeldLock } from '../../src/state/lock.js';
import type { Warehouse } from '../../src/warehouse/warehouse.js';
import { BigQueryStandIn } from '../stand-ins/bigquery/server.js';
import { SnowflakeStandIn } from '../stand-ins/snowflake/server.js';

/**
 * The run lock's lease on both remote engines, through the real clients and
 * the stand-ins (one suite, parametrised by engine): taking, waiting, release,
 * takeover, and the fence that refuses a commit once the lease was taken over.
 */
process.env.NO_PROXY = '127.0.0.1,localhost';
const SECRET = 'lease-test-secret';
const logger = createLogger('silent');
const T0 = Date.parse('2026-05-01T00:00:00Z');

interface Engine {
  name: string;
  start(): Promise<BigQueryStandIn | SnowflakeStandIn>;
  warehouse(url: string): Record<string, unknown>;
  /** The lock table, as the stand-in's DuckDB names it. */
  lockTable: string;
  /** What the engine received for a refused `setState`, from its transaction's start: the fence comes first. */
  refusedTransaction: RegExp;
}

const ENGINES: Engine[] = [
  {
    name: 'BigQuery',
    start: () => BigQueryStandIn.start(SECRET),
    warehouse: (url) => ({
      kind: 'bigquery',
      project: 'proj-lease',
      dataset: 'etl',
      api_endpoint: url,
      access_token: SECRET,
    }),
    lockTable: 'etl.etl_lock',
    // One script: the UPDATE, then RAISE unless it changed one row, then the state's writes.
    refusedTransaction:
      /^BEGIN TRANSACTION;\s+UPDATE `proj-lease\.etl\.etl_lock` SET .* WHERE pipeline = @lease_pipeline AND owner = @lease_owner AND token = @lease_token;\s+IF @@row_count <> 1 THEN RAISE USING MESSAGE = '[^']+'; END IF;\s+DELETE FROM `proj-lease\.etl\.etl_state`/s,
  },
  {
    name: 'Snowflake',
    start: () => SnowflakeStandIn.start(SECRET),
    warehouse: (url) => ({
      kind: 'snowflake',
      account: 'aetl_test',
      user: 'loader',
      password: SECRET,
      database: 'AETL',
      access_url: url,
    }),
    lockTable: '"AETL"."PUBLIC"."ETL_LOCK"',
    // Statement by statement: BEGIN, the UPDATE (0 rows), the read naming the new holder, ROLLBACK.
    refusedTransaction:
      /^BEGIN TRANSACTION\n+UPDATE "AETL"\."PUBLIC"\."ETL_LOCK" SET .*\n+SELECT owner, .*\n+ROLLBACK$/s,
  },
];

describe.each(ENGINES)('the run lock lease on $name (real client, stand-in)', (engine) => {
  let standIn: BigQueryStandIn | SnowflakeStandIn;
  const held: HeldLock[] = [];
  const warehouses: Warehouse[] = [];
  const config = (lease = '60s'): Config =>
    configSchema.parse({ source: { kind: 'simulator' }, warehouse: engine.warehouse(standIn.url), lock: { lease } });
  const take = async (runId: string, waitMs = 0, lease?: string) => {
    const lock = await acquireRunLock(config(lease), logger, runId, 'run', waitMs);
    held.push(lock);
    return lock;
  };
  const lease = async () => {
    const [row] = await standIn.rows(
      `SELECT owner, token, pid, expires_at > now() AS live FROM ${engine.lockTable} WHERE pipeline = 'default'`,
    );
    return row;
  };
  /** A warehouse whose state-changing transactions check `lock`'s lease. */
  const fencedBy = async (lock: HeldLock) => {
    const warehouse = await connectWarehouse(config(), logger, lock.fence);
    warehouses.push(warehouse);
    return warehouse;
  };

  beforeAll(async () => {
    standIn = await engine.start();
  });
  afterAll(async () => {
    for (const w of warehouses) await w.close();
    for (const lock of held) await lock.release();
    await standIn.close();
  });

  it('a second run waits for the lease, then gives up naming the holder; a released lease is taken with the next token', async () => {
    const a = await take('run-a'); // also creates the lock table on a warehouse without one
    expect(await lease()).toMatchObject({ owner: 'run-a', token: 1n, pid: BigInt(process.pid), live: true });
    const started = Date.now();
    const refused = (await take('run-b', 400).catch((e: unknown) => e)) as LockHeldError;
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(refused).toBeInstanceOf(LockHeldError);
    expect(refused.message).toMatch(
      new RegExp(
        `^another run holds the lock etl_lock of pipeline default in ${engine.name} .*` +
          `\\(run run-a, pid ${process.pid} on ${hostname()}, since \\d{4}-\\d\\d-\\d\\dT.*Z\\); .*--skip-if-locked`,
      ),
    );
    await a.release();
    // Released, not deleted: the row stays, expired, so tokens never start again at 1.
    expect(await lease()).toMatchObject({ owner: 'run-a', token: 1n, live: false });
    const b = await take('run-b');
    expect(await lease()).toMatchObject({ owner: 'run-b', token: 2n, live: true });
    await b.release();
  });

  it('a holder whose lease ran out and was taken over cannot commit: the fence refuses, nothing is written', async () => {
    const a = await take('run-c');
    const asA = await fencedBy(a);
    await asA.migrate();
    await asA.setState('default', 'run-c', T0, false, T0);
    expect(await asA.getCheckpoint('default')).toBe(T0);
    // As if run-c were paused past its lease: its heartbeat did not come.
    await standIn.rows(`UPDATE ${engine.lockTable} SET expires_at = now() - INTERVAL 1 SECOND`);
    const b = await take('run-d');
    expect(await lease()).toMatchObject({ owner: 'run-d', token: 4n });

    const refused = (await asA
      .setState('default', 'run-c', T0 + 3_600_000, false, T0)
      .catch((e: unknown) => e)) as Error;
    expect(refused).toBeInstanceOf(LeaseLostError);
    expect(refused.message).toMatch(
      /^the run lock lease of pipeline default was taken over by run run-d, pid \d+ on .*\(token 4; this run had 3\).*nothing of this transaction was committed/,
    );
    expect(a.lost).toBe(true);
    expect(await asA.getCheckpoint('default')).toBe(T0);
    const sent = standIn.statements;
    const begun = sent.findLastIndex((s) => s.startsWith('BEGIN TRANSACTION'));
    expect(sent.slice(begun, begun + 4).join('\n\n')).toMatch(engine.refusedTransaction);

    const asB = await fencedBy(b);
    await asB.setState('default', 'run-d', T0 + 7_200_000, false, T0);
    expect(await asB.getCheckpoint('default')).toBe(T0 + 7_200_000);
    // The loser's release leaves the new holder's lease alone.
    await a.release();
    expect(await lease()).toMatchObject({ owner: 'run-d', token: 4n, live: true });
    await b.release();
  });

  it('a live lease whose holder is a dead process of this host is taken over at once', async () => {
    const a = await take('run-e');
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    await standIn.rows(`UPDATE ${engine.lockTable} SET pid = ${gone}`);
    const b = await take('run-f');
    expect(await lease()).toMatchObject({ owner: 'run-f', token: 6n, live: true });
    await a.release();
    await b.release();
  });

  it('heartbeats renew the lease; one that finds another holder marks the lease lost', async () => {
    const a = await take('run-g', 0, '1200ms'); // a beat every 200 ms
    const [before] = await standIn.rows(`SELECT epoch_ms(expires_at) AS ms FROM ${engine.lockTable}`);
    await sleep(700);
    const [after] = await standIn.rows(`SELECT epoch_ms(expires_at) AS ms FROM ${engine.lockTable}`);
    expect(Number(after!.ms)).toBeGreaterThan(Number(before!.ms));
    await standIn.rows(`UPDATE ${engine.lockTable} SET owner = 'run-h', token = token + 1`);
    for (let i = 0; i < 100 && !a.lost; i++) await sleep(20);
    expect(a.lost).toBe(true);
    expect(await lease()).toMatchObject({ owner: 'run-h', token: 8n });
  });
});
