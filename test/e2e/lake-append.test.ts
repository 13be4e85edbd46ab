import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aetl, spawnAetl, stopped } from '../helpers/cli.js';
import { query, queryWith } from '../helpers/duckdb.js';
import { jsonLines, shapeA } from '../helpers/events.js';
import { REFERENCE_PATHS, Workspace } from '../helpers/workspace.js';

/**
 * DESIGN.md decision 2 (revised): each committed package adds one file per
 * lake partition it touched, holding the rows it inserted; a publish killed
 * after a file's rename writes the same name again; compaction (by hand, or
 * at a run's end once a partition holds too many files) merges a
 * partition's files into one while readers count the same rows throughout.
 */
const NOW = '2026-05-01T12:00:00Z'; // windows over 2026-04-30 12:00 .. 2026-05-01 11:58, one across midnight
const LATER = '2026-05-01T12:20:00Z';
const TODAY = 'event_date=2026-05-01';
const FACTS = { fact_ai_event: 'event_id', fact_policy_evaluation: "event_id || '#' || ordinal" };
type Fact = keyof typeof FACTS;

const partitions = (ws: Workspace, table: Fact) => readdirSync(join(ws.lake, table)).sort();
const files = (ws: Workspace, table: Fact, partition: string) => readdirSync(join(ws.lake, table, partition)).sort();

/** A lake file's row ids (hyparquet, an independent reader), sorted. */
async function fileIds(path: string, table: Fact): Promise<string[]> {
  const rows = await parquetReadObjects({ file: await asyncBufferFromFile(path), compressors });
  return rows
    .map((r) => (table === 'fact_ai_event' ? String(r.event_id) : `${String(r.event_id)}#${r.ordinal}`))
    .sort();
}

/** The warehouse's row ids of one partition, by the package that inserted them (`<run id>-<seq>.parquet`). */
async function idsByPackage(ws: Workspace, table: Fact, partition: string): Promise<Record<string, string[]>> {
  const key = Number(partition.slice('event_date='.length).replaceAll('-', ''));
  const rows = await query(
    ws.warehouse,
    `SELECT run_id || '-' || package_seq || '.parquet' AS file, list(${FACTS[table]} ORDER BY ${FACTS[table]}) AS ids
     FROM ${table} WHERE date_key = ${key} GROUP BY ALL ORDER BY file`,
  );
  return Object.fromEntries(rows.map((r) => [String(r.file), (r.ids as string[]).map(String)]));
}

/** Every row id of a fact table, in the lake (through the table folder, as a reader globs it) and in the warehouse. */
async function lakeAndWarehouse(ws: Workspace, table: Fact): Promise<{ lake: string[]; warehouse: string[] }> {
  const lake = await queryWith(
    ':memory:',
    `SELECT ${FACTS[table]} AS id FROM read_parquet('${ws.lake}/${table}/**/*.parquet') ORDER BY id`,
    {},
  );
  const warehouse = await query(ws.warehouse, `SELECT ${FACTS[table]} AS id FROM ${table} ORDER BY id`);
  return { lake: lake.map((r) => String(r.id)), warehouse: warehouse.map((r) => String(r.id)) };
}

/** Each fact_ai_event partition of the lake: its files and rows, counted by DuckDB through the table folder. */
async function lakeRows(ws: Workspace): Promise<{ date: string; files: number; rows: number }[]> {
  const rows = await queryWith(
    ':memory:',
    `SELECT strftime(event_date, '%Y-%m-%d') AS date, count(DISTINCT filename)::INTEGER AS files, count(*)::INTEGER AS rows
     FROM read_parquet('${ws.lake}/fact_ai_event/*/*.parquet', hive_partitioning = true, filename = true)
     GROUP BY ALL ORDER BY date`,
    {},
  );
  return rows.map((r) => ({ date: String(r.date), files: Number(r.files), rows: Number(r.rows) }));
}

/** Counts the lake's facts in a loop, as an analyst's DuckDB would, until stopped: every answer it got. */
function readerLoop(lake: string): { stop(): Promise<{ counts: number[]; errors: string[] }> } {
  let running = true;
  const counts: number[] = [];
  const errors: string[] = [];
  const loop = (async () => {
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    while (running) {
      try {
        const reader = await connection.runAndReadAll(
          `SELECT count(*) FROM read_parquet('${lake}/fact_ai_event/**/*.parquet')`,
        );
        counts.push(Number(reader.getRows()[0]![0]));
      } catch (error) {
        errors.push((error as Error).message);
      }
    }
    connection.closeSync();
    instance.closeSync();
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { counts, errors };
    },
  };
}

describe('the lake grows by one file per package and compacts atomically', () => {
  const ws = new Workspace();
  let config: string;
  /** The first run's packages that inserted rows, by the name their lake files carry. */
  let packages: string[];

  beforeAll(async () => {
    config = ws.writeConfig();
    const run = await aetl(['run', '--json', '--config', config], { AETL_NOW: NOW });
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as {
      run_id: string;
      windows: { seq: number; counts: { inserted: number } }[];
    };
    packages = summary.windows.filter((w) => w.counts.inserted > 0).map((w) => `${summary.run_id}-${w.seq}.parquet`);
  }, 120_000);
  afterAll(() => ws.remove());

  it('each package added one file to each partition it touched, holding exactly the rows it inserted', async () => {
    for (const table of Object.keys(FACTS) as Fact[]) {
      expect(partitions(ws, table)).toEqual(['event_date=2026-04-30', TODAY]);
      const names: string[] = [];
      for (const partition of partitions(ws, table)) {
        const expected = await idsByPackage(ws, table, partition);
        expect(files(ws, table, partition)).toEqual(Object.keys(expected));
        for (const [file, ids] of Object.entries(expected)) {
          expect(await fileIds(join(ws.lake, table, partition, file), table), file).toEqual(ids);
        }
        names.push(...Object.keys(expected));
      }
      // Every package has its file, in each day it loaded (the one across midnight in both).
      expect([...new Set(names)].sort()).toEqual([...packages].sort());
      expect(names.length).toBe(packages.length + 1);
    }
  });

  it('a publish killed after a package file was renamed in writes the same name again: no row twice', async () => {
    // Publish order: the package's fact_ai_event file first (the dimensions have not changed since the first run).
    const killed = await aetl(['run', '--config', config], { AETL_NOW: LATER, AETL_FAILPOINT: 'lake:after-rename:1' });
    expect(killed.code, 'the failpoint was not reached').toBeNull();
    expect(await query(ws.warehouse, 'SELECT count(*)::INTEGER AS n FROM etl_lake_pending')).not.toEqual([{ n: 0 }]);
    const before = files(ws, 'fact_ai_event', TODAY);
    const added = before.filter((name) => name.startsWith(LATER.replace(/[-:]/g, '').slice(0, 15)));
    expect(added).toHaveLength(1);
    const inode = statSync(join(ws.lake, 'fact_ai_event', TODAY, added[0]!)).ino;

    const rerun = await aetl(['run', '--config', config], { AETL_NOW: LATER });
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(files(ws, 'fact_ai_event', TODAY)).toEqual(Object.keys(await idsByPackage(ws, 'fact_ai_event', TODAY)));
    expect(files(ws, 'fact_ai_event', TODAY)).toEqual(before);
    expect(statSync(join(ws.lake, 'fact_ai_event', TODAY, added[0]!)).ino).not.toBe(inode);
    for (const table of Object.keys(FACTS) as Fact[]) {
      const { lake, warehouse } = await lakeAndWarehouse(ws, table);
      expect(lake, table).toEqual(warehouse);
      expect(new Set(lake).size).toBe(lake.length);
    }
    expect(await query(ws.warehouse, 'SELECT count(*)::INTEGER AS n FROM etl_lake_pending')).toEqual([{ n: 0 }]);
  }, 120_000);

  it('aetl compact merges each partition into one file; a reader counts the same rows before, during and after', async () => {
    const before = await lakeRows(ws);
    const total = before.reduce((sum, p) => sum + p.rows, 0);
    const reader = readerLoop(ws.lake);
    // Stopped with the merged version of fact_ai_event built beside the current one, not yet swapped in.
    const compact = spawnAetl(['compact', '--json', '--config', config], {
      AETL_NOW: LATER,
      AETL_FAILPOINT: 'lake:before-swap',
      AETL_FAILPOINT_SIGNAL: 'SIGSTOP',
    });
    await stopped(compact);
    const [current, next] = readdirSync(join(ws.lake, '.versions', 'fact_ai_event')).sort();
    expect(readdirSync(join(ws.lake, '.versions', 'fact_ai_event', next!, TODAY))).toEqual(['data.parquet']);
    expect(await lakeRows(ws)).toEqual(before);
    compact.signal('SIGCONT');
    const done = await compact.done;
    const { counts, errors } = await reader.stop();
    expect(done.code, done.stderr).toBe(0);
    expect(counts.length).toBeGreaterThan(0);
    expect(counts.filter((n) => n !== total)).toEqual([]);
    // A query that listed the files just before a swap and opened them after it fails, never miscounts.
    for (const error of errors) expect(error).toMatch(/No such file|No files found|Cannot open file/i);

    const { compacted } = (JSON.parse(done.stdout) as { detail: { compacted: Record<string, unknown>[] } }).detail;
    expect(compacted.filter((p) => p.table === 'fact_ai_event')).toEqual(
      before
        .filter((p) => p.files > 1)
        .map((p) => ({ table: 'fact_ai_event', event_date: p.date, files: p.files, rows: p.rows })),
    );
    expect(await lakeRows(ws)).toEqual(before.map((p) => ({ ...p, files: 1 })));
    for (const table of Object.keys(FACTS) as Fact[]) {
      for (const partition of partitions(ws, table)) expect(files(ws, table, partition)).toEqual(['data.parquet']);
      const { lake, warehouse } = await lakeAndWarehouse(ws, table);
      expect(lake, table).toEqual(warehouse);
    }
    expect(current).toBeDefined();
    expect(readdirSync(join(ws.lake, '.versions', 'fact_ai_event'))).toEqual([next]);
  }, 120_000);
});

describe('a run compacts each crowded partition once, at its end', () => {
  const ws = new Workspace();
  const DAYS = ['event_date=2026-04-10', 'event_date=2026-04-11'];
  const LATER_DAY = 'event_date=2026-04-12';
  /** Packages of 1,000 records from every JSONL file under in/; a partition with more than `compactAfterFiles` files is crowded. */
  const config = (compactAfterFiles: number) =>
    ws.writeConfig(
      {
        source: { kind: 'files', files: ws.path('in', '*.jsonl') },
        staging: { path: 'staging', package_records: 1000 },
        lake: { path: 'lake', compact_after_files: compactAfterFiles },
      },
      `compact-after-${compactAfterFiles}.yaml`,
    );
  /** `count` events alternating between the days of `april` (each package adds a file to each of them). */
  const addFile = (name: string, count: number, april = [10, 11]) =>
    writeFileSync(
      ws.path('in', `${name}.jsonl`),
      jsonLines(
        Array.from({ length: count }, (_, i) =>
          shapeA(`${name}-${i}`, 0, {
            timestamp: new Date(Date.UTC(2026, 3, april[i % april.length], 8) + i * 1000).toISOString(),
            input_tokens: 100 + (i % 50),
            cost_usd: (i % 100) / 1000,
          }),
        ),
      ),
    );
  const versions = (table: Fact) => readdirSync(join(ws.lake, '.versions', table)).sort();
  /** The partitions marked for the next command's end to check (src/lake/due.ts). */
  const due = (table: Fact) => readdirSync(join(ws.lake, '.due', table)).sort();
  const run = (compactAfterFiles: number, env: Record<string, string> = {}) =>
    aetl(['run', '--json', '--config', config(compactAfterFiles)], env);

  /** Each partition is one file holding exactly the warehouse's rows: ids of both tables, and the facts' sums (hyparquet). */
  async function expectCompactedAsWarehouse(days = DAYS): Promise<void> {
    for (const table of Object.keys(FACTS) as Fact[]) {
      for (const day of days) {
        expect(files(ws, table, day)).toEqual(['data.parquet']);
        const ids = Object.values(await idsByPackage(ws, table, day))
          .flat()
          .sort();
        expect(await fileIds(join(ws.lake, table, day, 'data.parquet'), table), `${table} ${day}`).toEqual(ids);
      }
    }
    for (const day of days) {
      const rows = await parquetReadObjects({
        file: await asyncBufferFromFile(join(ws.lake, 'fact_ai_event', day, 'data.parquet')),
        compressors,
      });
      const lake = {
        micros: rows.reduce((sum, r) => sum + Math.round(Number(r.cost_usd) * 1e6), 0),
        tokens: rows.reduce((sum, r) => sum + Number(r.input_tokens), 0),
      };
      const [warehouse] = await query(
        ws.warehouse,
        `SELECT sum(cost_usd * 1000000)::BIGINT AS micros, sum(input_tokens)::BIGINT AS tokens
         FROM fact_ai_event WHERE date_key = ${day.slice('event_date='.length).replaceAll('-', '')}`,
      );
      expect(lake, day).toEqual({ micros: Number(warehouse!.micros), tokens: Number(warehouse!.tokens) });
    }
  }

  let first: string;
  beforeAll(async () => {
    mkdirSync(ws.path('in'));
    addFile('a', 4000);
    const loaded = await run(2);
    expect(loaded.code, loaded.stderr).toBe(0);
    first = (JSON.parse(loaded.stdout) as { run_id: string }).run_id;
  }, 120_000);
  afterAll(() => ws.remove());

  it('four packages into partitions allowed two files: one compaction per table, after the last publish', async () => {
    // Each compaction swaps in a table's next version: version 2 is the only one there has been since the first.
    for (const table of Object.keys(FACTS) as Fact[]) expect([versions(table), due(table)]).toEqual([['000002'], []]);
    await expectCompactedAsWarehouse();
  });

  it('a run killed in its end compaction leaves every package file in place', async () => {
    addFile('b', 2000);
    const killed = await run(2, { AETL_FAILPOINT: 'lake:before-swap' });
    expect(killed.code, 'the failpoint was not reached').toBeNull();
    // fact_ai_event's merged version was built beside the current one, not swapped in; the other's not begun.
    expect(versions('fact_ai_event')).toEqual(['000002', '000003']);
    expect(versions('fact_policy_evaluation')).toEqual(['000002']);
    // What the next command's end reads to find them.
    for (const table of Object.keys(FACTS) as Fact[]) expect(due(table)).toEqual(DAYS);
    for (const table of Object.keys(FACTS) as Fact[]) {
      // The current version holds the first run's compaction and each package of the killed run.
      for (const day of DAYS) {
        const added = Object.keys(await idsByPackage(ws, table, day)).filter((file) => !file.startsWith(first));
        expect(added).toHaveLength(2);
        expect(files(ws, table, day)).toEqual([...added, 'data.parquet']);
      }
    }
  }, 120_000);

  it('the next run compacts what that run left, and a partition of its own mid-run past 4 × compact_after_files', async () => {
    // Five packages into a day of their own under compact_after_files 1 (a cap of 4): the fifth file is over
    // the cap, merged into one there (version 3); the killed run's partitions, marked due, are merged at the end (4).
    addFile('c', 5000, [12]);
    const loaded = await run(1);
    expect(loaded.code, loaded.stderr).toBe(0);
    for (const table of Object.keys(FACTS) as Fact[]) expect(versions(table)).toEqual(['000004']);
    await expectCompactedAsWarehouse([...DAYS, LATER_DAY]);
    for (const table of Object.keys(FACTS) as Fact[]) expect(due(table)).toEqual([]);
  }, 120_000);

  it('an end compaction that fails keeps the command outcome and its marks; the next command compacts', async () => {
    // A file DuckDB cannot read, in a partition marked due: the compaction fails, the lake stays as it was.
    const garbage = join(ws.lake, 'fact_ai_event', LATER_DAY, 'zz-not-parquet.parquet');
    writeFileSync(garbage, 'not parquet');
    writeFileSync(join(ws.lake, '.due', 'fact_ai_event', LATER_DAY), '');
    const failed = await run(1);
    expect(failed.code, failed.stderr).toBe(0);
    expect(failed.stderr).toContain('lake compaction failed');
    expect(due('fact_ai_event')).toEqual([LATER_DAY]);
    expect(files(ws, 'fact_ai_event', LATER_DAY)).toEqual(['data.parquet', 'zz-not-parquet.parquet']);

    rmSync(garbage);
    const next = await run(1);
    expect(next.code, next.stderr).toBe(0);
    expect(due('fact_ai_event')).toEqual([]);
    await expectCompactedAsWarehouse([...DAYS, LATER_DAY]);
  }, 120_000);
});

describe('the dimension files are rewritten after a change to a dimension, and only then', () => {
  const ws = new Workspace();
  afterAll(() => ws.remove());
  const file = (name: string, users: string[]) =>
    writeFileSync(
      ws.path('inbox', name),
      jsonLines(users.map((user, i) => shapeA(`${name}-${i}`, i, { user_id: user }))),
    );
  /** Runs over the inbox's new files; the whole-table rewrites of each publish (the five dimensions, or fewer). */
  const rewrites = async (config: string) => {
    const run = await aetl(['run', '--log-level', 'debug', '--config', config], { AETL_NOW: NOW });
    expect(run.code, run.stderr).toBe(0);
    return run.stderr
      .split('\n')
      .filter((line) => line.includes('"lake published"'))
      .map((line) => (JSON.parse(line) as { whole: number }).whole);
  };

  it('by the package that added a member, by the reference data, or for a file that is missing; not otherwise', async () => {
    mkdirSync(ws.path('inbox'));
    const reference = Object.fromEntries(
      Object.entries(REFERENCE_PATHS).map(([kind, path]) => {
        copyFileSync(path, ws.path(`${kind}.csv`));
        return [kind, ws.path(`${kind}.csv`)];
      }),
    );
    file('a.jsonl', ['user_001', 'brand_new_1']);
    file('b.jsonl', ['user_001', 'user_002']);
    file('c.jsonl', ['brand_new_2', 'user_002']);
    const config = ws.writeConfig({ source: { kind: 'files', files: ws.path('inbox') }, reference });
    // The run's first publish finds a fresh lake without them; then a.jsonl: the reference data went in (and
    // brand_new_1); b.jsonl: nothing new; c.jsonl: brand_new_2.
    expect(await rewrites(config)).toEqual([5, 5, 0, 5]);
    const users = await parquetReadObjects({
      file: await asyncBufferFromFile(join(ws.lake, 'dim_user', 'data.parquet')),
      compressors,
    });
    const inferred = users.filter((u) => u.is_inferred).map((u) => String(u.user_id));
    expect(inferred.sort()).toEqual(['brand_new_1', 'brand_new_2']);

    // The next run, with the same reference data and known members only, leaves them alone (a check too).
    const model = join(ws.lake, 'dim_model', 'data.parquet');
    const written = statSync(model).mtimeMs;
    file('d.jsonl', ['user_001']);
    expect(await rewrites(config)).toEqual([0]);
    const check = await aetl(['check', '--config', config], { AETL_NOW: NOW });
    expect(check.code, check.stderr).toBe(0);
    expect(statSync(model).mtimeMs).toBe(written);

    // A file removed by hand comes back at the next publish (the run's first), alone.
    rmSync(model);
    file('e.jsonl', ['user_002']);
    expect(await rewrites(config)).toEqual([1, 0]);
    const models = await parquetReadObjects({ file: await asyncBufferFromFile(model), compressors });
    expect(models.map((m) => String(m.model))).toContain('gpt-4o');

    // A change to the reference data, with known members only: the run's reference sync marks them.
    const usersCsv = ws.path('users.csv');
    writeFileSync(usersCsv, readFileSync(usersCsv, 'utf8').replace('user_002,search,', 'user_002,payments,'));
    file('f.jsonl', ['user_002']);
    expect(await rewrites(config)).toEqual([5]);
    const lakeUsers = await parquetReadObjects({
      file: await asyncBufferFromFile(join(ws.lake, 'dim_user', 'data.parquet')),
      compressors,
    });
    expect(lakeUsers.filter((u) => u.user_id === 'user_002' && u.is_current).map((u) => u.team)).toEqual(['payments']);
  });
});
