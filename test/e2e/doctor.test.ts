import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulatorSettingsFrom } from '../../src/config/schema.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/simulator.js';
import { aetl, type CliResult } from '../helpers/cli.js';
import { BigQueryStandIn } from '../stand-ins/bigquery/server.js';
import { query } from '../helpers/duckdb.js';
import { bigqueryWarehouse } from '../helpers/engines.js';
import { shippedReference, Workspace } from '../helpers/workspace.js';
import { serveLocal } from '../helpers/local-server.js';

const NOW = '2026-05-01T12:00:00Z';
const RIGHT_TOKEN = 'the-right-token';
const WRONG_TOKEN = 'sk-doctor-7c41e0-RECOGNISABLE';

type Check = { check: string; status: string; detail: string };

/** The JSON report of a doctor run, by check name. */
function checksOf(result: CliResult): Record<string, Check> {
  const report = JSON.parse(result.stdout) as { checks: Check[]; ok: boolean };
  expect(report.ok).toBe(result.code === 0);
  return Object.fromEntries(report.checks.map((c) => [c.check, c]));
}

/** A loopback port nothing listens on: one the system just handed out and took back. */
async function closedPort(): Promise<number> {
  const server = await serveLocal();
  await server.close();
  return Number(new URL(server.url).port);
}

const doctor = (config: string, env: Record<string, string> = {}) =>
  aetl(['doctor', '--json', '--config', config], { AETL_NOW: NOW, ...env });

/** What a doctor run must leave as it was: rows, runs, state, and no scratch table. */
async function warehouseState(file: string): Promise<unknown> {
  return query(
    file,
    `SELECT (SELECT count(*) FROM fact_ai_event) AS facts, (SELECT count(*) FROM etl_run) AS runs,
            (SELECT max(checkpoint)::VARCHAR FROM etl_state) AS checkpoint,
            (SELECT list(table_name ORDER BY table_name) FROM duckdb_tables()) AS tables`,
  );
}

describe('aetl doctor', () => {
  const ws = new Workspace();
  let simulator: RunningSimulator;
  let healthy: string;

  beforeAll(async () => {
    const settings = simulatorSettingsFrom({ seed: 5, rate_per_minute: 1 });
    simulator = await startSimulator(settings, shippedReference(), () => Date.parse(NOW), { token: RIGHT_TOKEN });
    healthy = ws.writeConfig({ source: { kind: 'simulator', simulator: { seed: 5, rate_per_minute: 2 } } });
    const run = await aetl(['run', '--config', healthy], { AETL_NOW: NOW });
    expect(run.code, run.stderr).toBe(0);
  }, 60_000);
  afterAll(async () => {
    await simulator.close();
    ws.remove();
  });

  it('a fresh DuckDB + simulator setup passes and creates no database', async () => {
    const fresh = new Workspace();
    try {
      const result = await doctor(fresh.writeConfig());
      expect(result.code, result.stderr).toBe(0);
      const checks = checksOf(result);
      expect(checks.warehouse).toMatchObject({ status: 'pass', detail: expect.stringContaining('not created yet') });
      expect(checks.migrations!.status).toBe('skipped');
      expect(existsSync(fresh.warehouse)).toBe(false);
    } finally {
      fresh.remove();
    }
  });

  it('a loaded DuckDB warehouse passes every check and keeps its data and state', async () => {
    const before = await warehouseState(ws.warehouse);
    const result = await doctor(healthy);
    expect(result.code, result.stderr).toBe(0);
    const checks = checksOf(result);
    for (const c of Object.values(checks)) expect(['pass', 'skipped', 'warn'], c.check).toContain(c.status);
    const passing = ['config', 'source', 'warehouse', 'migrations', 'scratch table', 'lake', 'staging', 'run lock'];
    for (const name of [...passing, 'reference users', 'reference gateways', 'reference models']) {
      expect(checks[name]!.status, name).toBe('pass');
    }
    expect(checks['clock skew']!.status).toBe('skipped');
    expect(await warehouseState(ws.warehouse)).toEqual(before);

    const human = await aetl(['doctor', '--config', healthy], { AETL_NOW: NOW });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^check\s+status\s+detail\n/);
    expect(human.stdout).toMatch(/scratch table\s+pass\s+create, insert, MERGE and drop succeeded/);
  });

  it('a missing reference CSV, a malformed one and an unwritable staging folder each fail, saying what to fix', async () => {
    writeFileSync(ws.path('models.csv'), 'model,provider,input_price_per_1k\nm-1,acme,not-a-price\n');
    writeFileSync(ws.path('staging-file'), 'not a folder');
    const config = ws.writeConfig(
      {
        reference: { users: ws.path('no-such-users.csv'), models: ws.path('models.csv') },
        staging: { path: 'staging-file/staging' },
      },
      'bad-paths.yaml',
    );
    const result = await doctor(config);
    expect(result.code).toBe(1);
    const checks = checksOf(result);
    expect(checks['reference users']).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/^reference\.users: cannot read .*no-such-users\.csv \(ENOENT\); fix the path/),
    });
    expect(checks['reference models']).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('line 2: input_price_per_1k must be a decimal number, got "not-a-price"'),
    });
    expect(checks['reference gateways']!.status).toBe('skipped');
    expect(checks.staging).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(
        /^staging\.path .*staging-file\/staging is not writable \(ENOTDIR\): point staging\.path at/,
      ),
    });
    expect(checks.lake!.status).toBe('pass');
  });

  it('a wrong token and an unwritable lake both fail (exit 1); the token shows nowhere', async () => {
    writeFileSync(ws.path('a-file'), 'not a folder');
    const config = ws.writeConfig(
      {
        source: { kind: 'events_api', url: simulator.url, token: '${AETL_SOURCE_TOKEN}' },
        lake: { path: 'a-file/lake' },
      },
      'wrong-token.yaml',
    );
    const env = { AETL_SOURCE_TOKEN: WRONG_TOKEN };
    const result = await doctor(config, env);
    expect(result.code).toBe(1);
    const checks = checksOf(result);
    expect(checks.source).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/^token rejected: .*HTTP 401/),
    });
    expect(checks['clock skew']!.status).toBe('skipped');
    expect(checks.lake).toMatchObject({ status: 'fail', detail: expect.stringContaining(ws.path('a-file/lake')) });
    expect(checks.warehouse!.status).toBe('pass');

    const human = await aetl(['doctor', '--config', config, '--log-level', 'debug'], { AETL_NOW: NOW, ...env });
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/source\s+fail\s+token rejected/);
    for (const output of [result, human]) expect(output.stdout + output.stderr).not.toContain(WRONG_TOKEN);
  });

  it('the right token passes the source and the clock; a closed port is unreachable', async () => {
    const right = ws.writeConfig(
      { source: { kind: 'events_api', url: simulator.url, token: '${AETL_SOURCE_TOKEN}' } },
      'right-token.yaml',
    );
    const ok = checksOf(await doctor(right, { AETL_SOURCE_TOKEN: RIGHT_TOKEN }));
    expect(ok.source).toMatchObject({ status: 'pass', detail: expect.stringContaining('token accepted') });
    expect(ok['clock skew']!.status).toBe('pass');

    const closed = ws.writeConfig(
      { source: { kind: 'events_api', url: `http://127.0.0.1:${await closedPort()}`, token: RIGHT_TOKEN } },
      'closed.yaml',
    );
    const result = await doctor(closed);
    expect(result.code).toBe(1);
    expect(checksOf(result).source).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/^unreachable: .*ECONNREFUSED/),
    });
  });

  it('reports pending migrations and the lock holder (live or stale) as warnings', async () => {
    const lockFile = `${ws.warehouse}.lock`;
    const owner = (pid: number) =>
      JSON.stringify({ token: 't', pid, host: hostname(), runId: 'r-doctor', command: 'run', acquiredAt: NOW });
    const instance = await DuckDBInstance.create(ws.warehouse);
    const connection = await instance.connect();
    const versions = (
      await connection.runAndReadAll('SELECT count(*)::INTEGER AS n FROM etl_schema_version')
    ).getRowObjectsJS();
    await connection.run('DELETE FROM etl_schema_version WHERE version = 6');
    connection.closeSync();
    instance.closeSync();
    try {
      writeFileSync(lockFile, owner(process.pid));
      const live = await doctor(healthy);
      expect(live.code, live.stderr).toBe(0);
      const checks = checksOf(live);
      // A live run has the file: doctor does not open it (it would get in the run's way).
      expect(checks.warehouse).toMatchObject({ status: 'warn', detail: expect.stringContaining('a run holds it') });
      expect(checks.migrations).toMatchObject({ status: 'skipped' });
      expect(checks['run lock']).toMatchObject({
        status: 'warn',
        detail: expect.stringContaining(`pid ${process.pid}`),
      });
      expect(checks['run lock']!.detail).toContain('held by a live run');

      // The pid of a process that has exited: its lock is stale.
      const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
      writeFileSync(lockFile, owner(dead));
      const stale = checksOf(await doctor(healthy));
      expect(stale['run lock']).toMatchObject({
        status: 'warn',
        detail: expect.stringContaining('the next run will take it over'),
      });
      expect(stale.migrations).toMatchObject({
        status: 'warn',
        detail: '1 pending (006_retention.sql): the next run applies them',
      });
      // Doctor applied nothing: the deleted version is still missing.
      expect(await query(ws.warehouse, 'SELECT count(*)::INTEGER AS n FROM etl_schema_version')).toEqual([
        { n: Number(versions[0]!.n) - 1 },
      ]);
    } finally {
      rmSync(lockFile, { force: true });
    }
  });

  it('a DuckDB file held open by another process fails the warehouse check', async () => {
    const instance = await DuckDBInstance.create(ws.warehouse);
    try {
      const result = await doctor(healthy);
      expect(result.code).toBe(1);
      const checks = checksOf(result);
      expect(checks.warehouse).toMatchObject({
        status: 'fail',
        detail: expect.stringContaining('is in use by another process'),
      });
      expect(checks['scratch table']!.status).toBe('skipped');
    } finally {
      instance.closeSync();
    }
  });

  it('on BigQuery (the stand-in): connects and queries without migrating; the rest is skipped, not failed', async () => {
    const token = 'ya29.doctor-token-not-for-logs';
    const standIn = await BigQueryStandIn.start(token);
    try {
      const config = ws.writeConfig({ warehouse: bigqueryWarehouse(standIn.url) }, 'bigquery.yaml');
      const result = await doctor(config, { BQ_TOKEN: token });
      expect(result.code, result.stderr).toBe(0);
      const checks = checksOf(result);
      expect(checks.warehouse!.status).toBe('pass');
      for (const name of ['migrations', 'scratch table']) expect(checks[name]!.status, name).toBe('skipped');
      expect(checks.lake!.status).toBe('pass'); // the lake is at lake.path whatever the warehouse
      expect(checks['run lock']).toEqual({
        check: 'run lock',
        status: 'pass',
        detail: 'free (etl_lock of pipeline default in BigQuery aetl-test.aetl: never taken)',
      });
      expect(standIn.statements).toEqual(['SELECT 1 AS ok']); // no migration, no DDL
      expect(result.stdout + result.stderr).not.toContain(token);

      const refused = await doctor(config, { BQ_TOKEN: 'ya29.a-wrong-token' });
      expect(refused.code).toBe(1);
      expect(checksOf(refused).warehouse!.status).toBe('fail');

      // A live lease, as a run on another host holds it: named, with its token and expiry.
      await standIn.rows(`CREATE SCHEMA IF NOT EXISTS aetl;
        CREATE TABLE aetl.etl_lock AS SELECT 'default' AS pipeline, 'run-x' AS owner, 'host-b' AS host,
          4242::BIGINT AS pid, 'run' AS command, now() AS acquired_at, now() AS heartbeat_at,
          now() + INTERVAL 1 MINUTE AS expires_at, 7::BIGINT AS token`);
      await standIn.captureTable('aetl-test', 'aetl', 'etl_lock');
      const held = checksOf(await doctor(config, { BQ_TOKEN: token }))['run lock']!;
      expect(held.status).toBe('warn');
      expect(held.detail).toMatch(
        /^held by a live run \(run run-x, pid 4242 on host-b, since \S+Z, token 7; lease until \S+Z\): runs wait for it or skip/,
      );
    } finally {
      await standIn.close();
    }
  });
});
