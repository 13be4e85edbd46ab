import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aetl } from '../helpers/cli.js';
import { expectSameStar, expectStatusAndChecks, plain, STAR } from '../helpers/remote-e2e.js';
import { SnowflakeStandIn } from '../stand-ins/snowflake/server.js';
import { Workspace } from '../helpers/workspace.js';

const NOW = '2026-05-01T12:00:00.000Z';
const LATER = '2026-05-01T12:20:00.000Z';
const PASSWORD = 'sf-e2e-password-not-for-logs';
const simulator = { seed: 11, rate_per_minute: 3, bad_record_rate: 0.003 };
const warehouse = (url: string, schema: string) => ({
  kind: 'snowflake',
  account: 'aetl_test',
  user: 'loader',
  password: '${SF_PASSWORD}',
  database: 'aetl',
  schema,
  warehouse: 'load_wh',
  access_url: url,
});

/** Files left in a schema's stage (the stand-in keeps a stage as a folder). */
function stagedFiles(standIn: SnowflakeStandIn, schema: string): string[] {
  const dir = join(standIn.stageRoot, 'AETL', schema, 'AETL_STAGE');
  return existsSync(dir)
    ? readdirSync(dir, { recursive: true })
        .map(String)
        .filter((f) => f.endsWith('.parquet'))
    : [];
}

const stagingTables = (standIn: SnowflakeStandIn, schema: string) =>
  standIn.rows(
    `SELECT table_name FROM information_schema.tables WHERE table_catalog = 'AETL' AND table_schema = '${schema}' AND table_name LIKE '\\_AETL\\_STAGE\\_%' ESCAPE '\\'`,
  );

describe('simulator → aetl run → Snowflake (the real snowflake-sdk driver, against the stand-in)', () => {
  const duck = new Workspace();
  const sf = new Workspace();
  let standIn: SnowflakeStandIn;
  let sfConfig: string;
  const env = { SF_PASSWORD: PASSWORD };
  const runs: Awaited<ReturnType<typeof aetl>>[] = [];
  let firstRunSql: string[] = [];

  beforeAll(async () => {
    standIn = await SnowflakeStandIn.start(PASSWORD);
    const duckConfig = duck.writeConfig({ source: { kind: 'simulator', simulator } });
    sfConfig = sf.writeConfig({
      source: { kind: 'simulator', simulator },
      warehouse: warehouse(standIn.url, 'public'),
      // No heartbeat within a run (one every 100 s): the SQL snapshot is the same however slow the machine.
      lock: { lease: '10m' },
    });
    for (const now of [NOW, LATER]) {
      runs.push(await aetl(['run', '--config', sfConfig], { AETL_NOW: now, ...env }));
      if (firstRunSql.length === 0) firstRunSql = [...standIn.statements];
      const d = await aetl(['run', '--config', duckConfig], { AETL_NOW: now });
      expect(d.code, d.stderr).toBe(0);
    }
  }, 180_000);
  afterAll(async () => {
    await standIn.close();
    duck.remove();
    sf.remove();
  });

  it('runs succeed and never print the password', () => {
    for (const run of runs) {
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout + run.stderr).not.toContain(PASSWORD);
    }
    expect(runs[0]!.stdout).toContain('SUCCEEDED');
    expect(runs[0]!.stdout).toContain('aetl_test/aetl.public');
  });

  it('builds the same star schema as the DuckDB warehouse: same ids, sums, keys and dimensions', () =>
    expectSameStar((sql) => standIn.rows(sql), 'aetl.public.', duck.warehouse));

  it('status and on-demand checks read the Snowflake warehouse', () =>
    expectStatusAndChecks((sql) => standIn.rows(sql), 'aetl.public.', sfConfig, { AETL_NOW: LATER, ...env }, PASSWORD));

  it('emits this SQL in a first run (each distinct statement once, run ids and paths left out)', () => {
    const distinct = new Set(
      firstRunSql.map((sql) =>
        sql
          .replace(/_AETL_STAGE_(\w+?)_\d{8}T\d{6}Z_[0-9A-F]+_\d+_/gi, '_AETL_STAGE_$1_<run>_<seq>_')
          .replace(/\/aetl\/(\w+)\/\d{8}T\d{6}Z-[0-9a-f]+\/\d+\//g, '/aetl/$1/<run>/<seq>/')
          .replace(/'file:\/\/[^']*\/([\w.-]+)'/g, "'file://<package>/$1'"),
      ),
    );
    expect([...distinct].join('\n\n-- next statement --\n\n')).toMatchSnapshot();
  });

  it('loads each package by PUT, COPY and one MERGE inside a transaction, then removes its files and tables', async () => {
    const merges = standIn.statements.filter((s) => s.startsWith('MERGE INTO "AETL"."PUBLIC"."FACT_AI_EVENT"'));
    expect(merges.length).toBeGreaterThan(1);
    // Each MERGE inside its own transaction (reference syncs have theirs too).
    const transactions = standIn.statements
      .join('\n')
      .split('BEGIN TRANSACTION')
      .slice(1)
      .map((t) => t.slice(0, t.indexOf('\nCOMMIT')));
    expect(transactions.filter((t) => t.includes('MERGE INTO "AETL"."PUBLIC"."FACT_AI_EVENT"')).length).toBe(
      merges.length,
    );
    // Inside each transaction: the MERGE, then the checkpoint, then COMMIT.
    const all = standIn.statements;
    const first = all.findIndex(
      (s, i) =>
        s === 'BEGIN TRANSACTION' && all.slice(i, all.indexOf('COMMIT', i)).some((t) => t.includes('_EXISTING')),
    );
    const commit = standIn.statements.indexOf('COMMIT', first);
    const inTransaction = standIn.statements.slice(first, commit).join('\n');
    expect(inTransaction).toContain('MERGE INTO');
    expect(inTransaction).toContain('INSERT INTO "AETL"."PUBLIC"."ETL_STATE"');
    expect(inTransaction).not.toMatch(/^CREATE /m); // DDL would commit the transaction early
    expect(await stagingTables(standIn, 'PUBLIC')).toEqual([]);
    expect(stagedFiles(standIn, 'PUBLIC')).toEqual([]);
    const [summary] = await standIn.rows(
      `SELECT count(*) AS windows, sum(inserted) AS inserted, count(*) FILTER (WHERE checks_passed) AS passed
       FROM aetl.public.etl_run_window`,
    );
    const [facts] = await standIn.rows('SELECT count(*) AS n FROM aetl.public.fact_ai_event');
    expect(summary!.inserted).toBe(facts!.n);
    expect(summary!.passed).toBe(summary!.windows);
  });

  it('a run killed between COPY and MERGE, then re-run, ends with the same warehouse, no duplicate, nothing staged', async () => {
    const killedWs = new Workspace();
    try {
      const config = killedWs.writeConfig({
        source: { kind: 'simulator', simulator },
        warehouse: warehouse(standIn.url, 'killed'),
      });
      const killed = await aetl(['run', '--config', config], {
        AETL_NOW: NOW,
        AETL_FAILPOINT: 'load:after-staging:2',
        ...env,
      });
      expect(killed.code, 'the failpoint was not reached').toBeNull();
      expect((await stagingTables(standIn, 'KILLED')).length).toBeGreaterThan(0);
      expect(stagedFiles(standIn, 'KILLED').length).toBeGreaterThan(0);
      for (const now of [NOW, LATER]) {
        const run = await aetl(['run', '--config', config], { AETL_NOW: now, ...env });
        expect(run.code, run.stderr).toBe(0);
      }
      for (const [name, sql] of Object.entries(STAR)) {
        const afterKill = plain(await standIn.rows(sql.replaceAll('{s}', 'aetl.killed.')));
        expect(afterKill, name).toEqual(plain(await standIn.rows(sql.replaceAll('{s}', 'aetl.public.'))));
      }
      const [dups] = await standIn.rows(
        'SELECT count(*) - count(DISTINCT event_id) AS n FROM aetl.killed.fact_ai_event',
      );
      expect(dups!.n).toBe(0n);
      expect(await stagingTables(standIn, 'KILLED')).toEqual([]);
      expect(stagedFiles(standIn, 'KILLED')).toEqual([]);
    } finally {
      killedWs.remove();
    }
  }, 120_000);
});
