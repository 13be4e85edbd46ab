import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aetl, spawnAetl } from '../helpers/cli.js';
import { ENGINES, type EngineUnderTest } from '../helpers/engines.js';
import { lakeSnapshot, warehouseSnapshot } from '../helpers/snapshot.js';
import { workspacesForFile, type Workspace } from '../helpers/workspace.js';

/**
 * The kill matrix on every engine: a run killed (SIGKILL) at any step and
 * then re-run must leave the same warehouse and lake as a run that was never
 * interrupted, and the run ledger must call the killed run abandoned.
 */
const NOW = '2026-06-10T06:00:00Z';
const overrides = {
  // ~200 events in three windows (14:00-22:00, 21:00-05:00, 04:00-05:58) over two days, pages of 25.
  source: {
    kind: 'simulator',
    page_size: 25,
    simulator: {
      seed: 21,
      rate_per_minute: 0.2,
      bad_record_rate: 0.02,
      faults: { duplicate_share: 0.05, unordered: true },
    },
  },
  window: { initial_start: '2026-06-09T14:00:00Z', max_window: '8h' },
  checks: { max_reject_rate: 0.1 },
  // A partition holding two package files is compacted at the run's end, so a crash can hit compaction too.
  lake: { path: 'lake', compact_after_files: 1 },
};
/** The lease a crashing run takes on BigQuery and Snowflake: short, so a re-run does not wait a minute for it. */
const CRASH_LEASE = '3s';

const FAILPOINTS = {
  extractPage: 'extract:page:5', // mid-window, some pages staged
  afterManifest: 'extract:after-manifest:2', // a complete package, not loaded
  afterFacts: 'load:after-facts:2', // inside the load transaction, facts merged
  beforeCheckpoint: 'load:before-checkpoint:3', // merge and checks done, checkpoint not yet moved
  afterCommit: 'load:after-commit:2', // committed, lake not published
  // The run's first publish writes the five dimension files a fresh lake lacks: these are in the first package's.
  afterExport: 'lake:after-export:10', // a partition written to .tmp, not swapped in
  afterRename: 'lake:after-rename:8', // a partition swapped in, its pending mark not cleared
  beforeSwap: 'lake:before-swap', // a compaction's merged version built beside the current one, not swapped in
  afterSwap: 'lake:after-swap:2', // both tables' merged versions swapped in, the old one of the last not yet removed
  beforeFinish: 'run:before-finish', // everything done, run ledger still says running
};

/**
 * A run on BigQuery or Snowflake costs seconds, so each takes a share: between them they cover
 * every failpoint of the generic load, commit and lake path (on Snowflake one inside its load
 * transaction, which the kill leaves open). DuckDB takes every failpoint, the extract's too.
 */
const FAILPOINTS_OF: Record<string, string[]> = {
  duckdb: Object.values(FAILPOINTS),
  bigquery: [FAILPOINTS.afterFacts, FAILPOINTS.afterCommit, FAILPOINTS.afterRename],
  snowflake: [FAILPOINTS.beforeCheckpoint, FAILPOINTS.afterExport, FAILPOINTS.beforeFinish],
};
/**
 * Where the killed run's lease is left as if it had run on another host: no re-run can tell that its
 * process is gone, so it waits for the lease to run out. Elsewhere the re-run takes a dead local
 * process's lease at once. One failpoint per engine with a lease: the wait costs seconds.
 */
const ANOTHER_HOST = new Set([FAILPOINTS.afterCommit, FAILPOINTS.afterExport]);
/** Kills from outside, at these fractions of the uninterrupted run's time: wherever the run then is. */
const KILLS_OF: Record<string, number[]> = { duckdb: [0.3, 0.6, 0.9], bigquery: [0.5], snowflake: [] };

type Snapshot = { warehouse: Record<string, string[]>; lake: Record<string, string[]> };

const workspace = workspacesForFile();

describe.each(ENGINES)('crash at any step on $name, then re-run = uninterrupted run', ({ name, start }) => {
  const engines: EngineUnderTest[] = [];
  let expected: Snapshot;
  let referenceMs: number;

  /** A fresh warehouse (on a stand-in of its own) and its workspace; `crashing` is its config with the short lease. */
  async function fresh() {
    const ws = workspace();
    const engine = await start(ws);
    engines.push(engine);
    const config = ws.writeConfig({ ...overrides, warehouse: engine.warehouse });
    const crashing = ws.writeConfig(
      { ...overrides, warehouse: engine.warehouse, lock: { lease: CRASH_LEASE } },
      'crashing.yaml',
    );
    const cli = (args: string[], configFile = config, extra: Record<string, string> = {}) =>
      aetl([...args, '--config', configFile], { ...engine.env, AETL_NOW: NOW, ...extra }, 90_000);
    /** A re-run after a kill: it waits for a lease the killed run may still hold, then succeeds; its run id. */
    const rerun = async () => {
      const run = await cli(['run', '--wait', '1m', '--json']);
      expect(run.code, run.stderr).toBe(0);
      return (JSON.parse(run.stdout) as { run_id: string }).run_id;
    };
    return { ws, engine, crashing, cli, rerun };
  }

  const snapshot = async (ws: Workspace, engine: EngineUnderTest): Promise<Snapshot> => ({
    warehouse: await warehouseSnapshot(engine.rows),
    lake: await lakeSnapshot(ws.lake),
  });

  beforeAll(async () => {
    const { ws, engine, cli } = await fresh();
    const started = performance.now();
    const run = await cli(['run']);
    referenceMs = performance.now() - started;
    expect(run.code, run.stderr).toBe(0);
    expected = await snapshot(ws, engine);
  }, 120_000);
  afterAll(async () => {
    for (const engine of engines) await engine.close();
  });

  it('the reference run loaded several windows, rejects, duplicates and a lake', async () => {
    expect(expected.warehouse.fact_ai_event!.length).toBeGreaterThan(150);
    expect(expected.warehouse.etl_rejected_event!.length).toBeGreaterThan(2);
    expect(expected.lake.fact_ai_event).toHaveLength(expected.warehouse.fact_ai_event!.length);
    expect(expected.lake.fact_policy_evaluation).toHaveLength(expected.warehouse.fact_policy_evaluation!.length);
    expect(expected.warehouse.etl_lake_pending).toEqual([]);
  });

  it.each(FAILPOINTS_OF[name]!)('killed at %s', async (failpoint) => {
    const { ws, engine, crashing, cli, rerun } = await fresh();
    const crashed = await cli(['run'], crashing, { AETL_FAILPOINT: failpoint });
    expect(crashed.code, `the failpoint ${failpoint} was not reached: ${crashed.stderr.slice(-2000)}`).toBeNull();
    // On BigQuery and Snowflake the killed run still holds its lease; the re-run takes it over.
    const leased = engine.warehouse.kind !== 'duckdb';
    if (leased) {
      const [killed] = await engine.rows("SELECT run_id FROM {s}etl_run WHERE status = 'running'");
      const held = 'SELECT owner, token, expires_at > heartbeat_at AS unreleased FROM {s}etl_lock';
      expect(await engine.rows(held)).toEqual([{ owner: killed!.run_id, token: 1n, unreleased: true }]);
      if (ANOTHER_HOST.has(failpoint)) await engine.rows("UPDATE {s}etl_lock SET host = 'another-host'");
    }
    const runId = await rerun();
    if (leased) {
      const lease = 'SELECT owner, token, expires_at <= now() AS released FROM {s}etl_lock';
      expect(await engine.rows(lease)).toEqual([{ owner: runId, token: 2n, released: true }]);
    }
    expect(await snapshot(ws, engine)).toEqual(expected);
    const runs = await engine.rows('SELECT status FROM {s}etl_run ORDER BY started_at');
    expect(runs.map((r) => r.status)).toEqual(['abandoned', 'succeeded']);
  });

  it.each(KILLS_OF[name]!)('killed from outside with SIGKILL at %d of a run', async (fraction) => {
    const { ws, engine, crashing, rerun } = await fresh();
    const killed = spawnAetl(['run', '--config', crashing], { ...engine.env, AETL_NOW: NOW });
    // Wherever it is then (even done, on a slow machine): the re-run must end the same.
    const timer = setTimeout(() => killed.signal('SIGKILL'), fraction * referenceMs);
    await killed.done;
    clearTimeout(timer);
    await rerun();
    expect(await snapshot(ws, engine)).toEqual(expected);
  });
});
