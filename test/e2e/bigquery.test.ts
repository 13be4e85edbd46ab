import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aetl } from '../helpers/cli.js';
import { BigQueryStandIn } from '../stand-ins/bigquery/server.js';
import { expectSameStar, expectStatusAndChecks, plain, STAR } from '../helpers/remote-e2e.js';
import { Workspace } from '../helpers/workspace.js';

const NOW = '2026-05-01T12:00:00.000Z';
const LATER = '2026-05-01T12:20:00.000Z';
const TOKEN = 'ya29.e2e-token-not-for-logs';
const simulator = { seed: 11, rate_per_minute: 3, bad_record_rate: 0.003 };

describe('simulator → aetl run → BigQuery (the real client, against the stand-in)', () => {
  const duck = new Workspace();
  const bq = new Workspace();
  let standIn: BigQueryStandIn;
  let bqConfig: string;
  const runs: Awaited<ReturnType<typeof aetl>>[] = [];
  let firstRunSql: string[] = [];

  beforeAll(async () => {
    standIn = await BigQueryStandIn.start(TOKEN);
    const duckConfig = duck.writeConfig({ source: { kind: 'simulator', simulator } });
    bqConfig = bq.writeConfig({
      source: { kind: 'simulator', simulator },
      warehouse: {
        kind: 'bigquery',
        project: 'aetl-test',
        dataset: 'aetl',
        location: 'EU',
        api_endpoint: standIn.url,
        access_token: '${BQ_TOKEN}',
      },
      // No heartbeat within a run (one every 100 s): the SQL snapshot is the same however slow the machine.
      lock: { lease: '10m' },
    });
    for (const now of [NOW, LATER]) {
      runs.push(await aetl(['run', '--config', bqConfig], { AETL_NOW: now, BQ_TOKEN: TOKEN }));
      if (firstRunSql.length === 0) firstRunSql = [...standIn.statements];
      const d = await aetl(['run', '--config', duckConfig], { AETL_NOW: now });
      expect(d.code, d.stderr).toBe(0);
    }
  }, 180_000);
  afterAll(async () => {
    await standIn.close();
    duck.remove();
    bq.remove();
  });

  it('runs succeed and never print the token', () => {
    for (const run of runs) {
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout + run.stderr).not.toContain(TOKEN);
    }
    expect(runs[0]!.stdout).toContain('SUCCEEDED');
  });

  it('builds the same star schema as the DuckDB warehouse: same ids, sums, keys and dimensions', () =>
    expectSameStar((sql) => standIn.rows(sql), 'aetl.', duck.warehouse));

  it('status and on-demand checks read the BigQuery warehouse', () =>
    expectStatusAndChecks((sql) => standIn.rows(sql), 'aetl.', bqConfig, { AETL_NOW: LATER, BQ_TOKEN: TOKEN }, TOKEN));

  it('emits this SQL in a first run (each distinct statement once, run ids left out)', () => {
    const distinct = new Set(
      firstRunSql.map((sql) =>
        sql.replace(/_aetl_stage_(\w+?)_\d{8}t\d{6}z_[0-9a-f]+_\d+_/g, '_aetl_stage_$1_<run>_<seq>_'),
      ),
    );
    expect([...distinct].join('\n\n-- next statement --\n\n')).toMatchSnapshot();
  });

  it('loads in one MERGE per package, with load jobs, and drops its staging tables', async () => {
    expect(
      standIn.statements.filter((s) => s.includes('MERGE INTO `aetl-test.aetl.fact_ai_event`')).length,
    ).toBeGreaterThan(1);
    const staging = await standIn.rows(
      "SELECT table_name FROM information_schema.tables WHERE table_name LIKE '_aetl_stage%'",
    );
    expect(staging).toEqual([]);
    const [summary] = await standIn.rows(
      `SELECT count(*) AS windows, sum(inserted) AS inserted, count(*) FILTER (WHERE checks_passed) AS passed
       FROM aetl.etl_run_window`,
    );
    const facts = await standIn.rows('SELECT count(*) AS n FROM aetl.fact_ai_event');
    expect(summary!.inserted).toBe(facts[0]!.n);
    expect(summary!.passed).toBe(summary!.windows);
    const checks = await standIn.rows("SELECT DISTINCT check_name FROM aetl.dq_check_result WHERE status = 'pass'");
    expect(checks.map((c) => c.check_name)).toEqual(
      expect.arrayContaining(['duplicates', 'completeness', 'counts_balance']),
    );
  });

  it('a run killed between its load jobs and its MERGE, then re-run, ends with the same warehouse and no staging table', async () => {
    const killedWs = new Workspace();
    try {
      const config = killedWs.writeConfig({
        source: { kind: 'simulator', simulator },
        warehouse: {
          kind: 'bigquery',
          project: 'aetl-test',
          dataset: 'aetl_killed',
          api_endpoint: standIn.url,
          access_token: TOKEN,
        },
      });
      const killed = await aetl(['run', '--config', config], { AETL_NOW: NOW, AETL_FAILPOINT: 'load:after-staging:2' });
      expect(killed.code, 'the failpoint was not reached').toBeNull();
      const left = await standIn.rows(
        "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'aetl_killed' AND table_name LIKE '_aetl_stage%'",
      );
      expect(Number(left[0]!.n)).toBeGreaterThan(0);
      for (const now of [NOW, LATER]) {
        const run = await aetl(['run', '--config', config], { AETL_NOW: now });
        expect(run.code, run.stderr).toBe(0);
      }
      for (const [name, sql] of Object.entries(STAR)) {
        const afterKill = plain(await standIn.rows(sql.replaceAll('{s}', 'aetl_killed.')));
        expect(afterKill, name).toEqual(plain(await standIn.rows(sql.replaceAll('{s}', 'aetl.'))));
      }
      const staging = await standIn.rows(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'aetl_killed' AND table_name LIKE '_aetl_stage%'",
      );
      expect(staging).toEqual([]);
    } finally {
      killedWs.remove();
    }
  }, 120_000);
});
