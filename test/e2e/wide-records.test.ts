import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aetl, type CliResult } from '../helpers/cli.js';
import { query, scalar } from '../helpers/duckdb.js';
import { jsonLines, shapeA } from '../helpers/events.js';
import { Workspace } from '../helpers/workspace.js';

/**
 * Records with large metadata: DuckDB sorts a package's rows in memory for the lake, and values
 * of tens of KB do not spill, so a package is bounded by its text (`staging.package_bytes`) as well
 * as by its records. The pool is 64MB here so that a few MB show what 160MB does at scale.
 */
describe('wide records', () => {
  const ws = new Workspace();
  const RECORDS = 400;
  /** ~60 KB of hex a record that does not compress: what a prompt or a tool trace in metadata looks like. */
  const padding = (i: number) =>
    Array.from({ length: 940 }, (_, j) => createHash('sha256').update(`${i}:${j}`).digest('hex')).join('');
  /** Not in the reference data, so `forget` may erase them (one record in ten). */
  const FORGOTTEN_USER = 'wide_user_9';
  const events = Array.from({ length: RECORDS }, (_, i) =>
    shapeA(`evt-${String(i).padStart(4, '0')}`, i % 60, {
      cost_usd: (i % 7) / 1000,
      metadata: { trace: padding(i) },
      ...(i % 10 === 3 ? { user_id: FORGOTTEN_USER } : {}),
    }),
  );
  /** 300 more, refused for a decision value this release does not know until it is aliased. */
  const warned = Array.from({ length: 300 }, (_, i) =>
    shapeA(`warned-${String(i).padStart(4, '0')}`, i % 60, {
      decision: 'warned',
      metadata: { trace: padding(1000 + i) },
    }),
  );
  const config = (packageBytes: string, more: Record<string, unknown> = {}) =>
    ws.writeConfig({
      source: { kind: 'files', files: ws.path('inbox') },
      warehouse: { kind: 'duckdb', path: 'data/warehouse.duckdb', memory_limit: '64MB' },
      staging: { path: 'staging', package_bytes: packageBytes },
      ...more,
    });
  const env = { AETL_NOW: '2026-04-11T00:00:00Z' };
  const facts = () => scalar(ws.warehouse, 'SELECT count(*)::INTEGER FROM fact_ai_event');
  const ledger = () => scalar(ws.warehouse, 'SELECT count(*)::INTEGER FROM etl_file_ledger');
  let partFailed: CliResult;
  let unbounded: CliResult;
  const factsAfterFailures: unknown[] = [];
  let bounded: CliResult;
  let replayed: CliResult;
  let compacted: CliResult;

  beforeAll(async () => {
    mkdirSync(ws.path('inbox'));
    writeFileSync(ws.path('inbox', 'events.jsonl'), jsonLines(events));
    partFailed = await aetl(['run', '--config', config('4MB')], { ...env, AETL_FAULT: 'staging:part-write' });
    factsAfterFailures.push(await facts(), await ledger());
    unbounded = await aetl(['run', '--config', config('100MB')], env);
    factsAfterFailures.push(await facts(), await ledger());
    bounded = await aetl(['run', '--config', config('4MB')], env);
    writeFileSync(ws.path('inbox', 'warned.jsonl'), jsonLines(warned));
    const refused = await aetl(['run', '--config', config('4MB', { checks: { max_reject_rate: 1 } })], env);
    expect(refused.code, refused.stderr.slice(-2000)).toBe(0);
    const aliased = config('4MB', { contract: { decision_aliases: { warned: 'allow' } } });
    replayed = await aetl(['rejects', 'replay', '--all', '--config', aliased], env);
    compacted = await aetl(['compact', '--config', aliased], env);
  }, 240_000);
  afterAll(() => ws.remove());

  it('a staging part written partway fails the run naming the part, and commits nothing', () => {
    expect(partFailed.code, partFailed.stderr.slice(-2000)).toBe(1);
    expect(partFailed.stderr).toMatch(/writing the staging part \S+policies-00001\.parquet: No space left on device/);
    expect(partFailed.stderr).not.toMatch(/unhandled/i);
    expect(factsAfterFailures.slice(0, 2)).toEqual([0, 0]);
  });

  it('one package holding all of them runs out of memory and says which setting to lower', () => {
    expect(unbounded.code, unbounded.stderr.slice(-2000)).toBe(1);
    expect(unbounded.stderr).toMatch(/Out of Memory Error/);
    expect(unbounded.stderr).toMatch(/next: lower staging\.package_bytes .* or raise warehouse\.memory_limit/);
    expect(factsAfterFailures.slice(2)).toEqual([0, 0]);
  });

  it('bounded by their text they load in several packages, each record once and unaltered', async () => {
    expect(bounded.code, bounded.stderr.slice(-2000)).toBe(0);
    const loaded = await query(
      ws.warehouse,
      `SELECT count(*)::INTEGER AS n, count(DISTINCT event_id)::INTEGER AS ids, min(event_id) AS first,
         max(event_id) AS last, sum(cost_usd)::DOUBLE AS cost FROM fact_ai_event WHERE event_id LIKE 'evt-%'`,
    );
    const cost = events.reduce((sum, e) => sum + Math.round(Number(e.cost_usd) * 1e6), 0) / 1e6;
    expect(loaded).toEqual([{ n: RECORDS, ids: RECORDS, first: 'evt-0000', last: 'evt-0399', cost }]);
    const packages = await query(
      ws.warehouse,
      `SELECT package_seq, sum(strlen(CAST(metadata AS VARCHAR)))::BIGINT AS chars FROM fact_ai_event
       WHERE event_id LIKE 'evt-%' GROUP BY 1`,
    );
    // 4MB closes a package, and at most one more reader batch (4 MiB of text) is in it.
    expect(packages.length).toBeGreaterThanOrEqual(5);
    for (const { chars } of packages) expect(Number(chars)).toBeLessThanOrEqual(8 * 1024 ** 2);
    for (const i of [0, 123, 399]) {
      const stored = await scalar(
        ws.warehouse,
        `SELECT metadata->>'trace' FROM fact_ai_event WHERE event_id = 'evt-${String(i).padStart(4, '0')}'`,
      );
      expect(stored).toBe(padding(i));
    }
    expect(
      await scalar(ws.warehouse, "SELECT count(*)::INTEGER FROM fact_policy_evaluation WHERE event_id LIKE 'evt-%'"),
    ).toBe(RECORDS);
    const partition = join(ws.lake, 'fact_ai_event', 'event_date=2026-04-10');
    let lakeRows = 0;
    for (const file of readdirSync(partition)) {
      lakeRows += Number((await parquetMetadataAsync(await asyncBufferFromFile(join(partition, file)))).num_rows);
    }
    // The replay below added its rows too, and the compaction merged the files.
    expect(lakeRows).toBe(RECORDS + warned.length);
  });

  it('replayed from the quarantine they load in packages bounded the same way', async () => {
    expect(replayed.code, replayed.stderr.slice(-2000)).toBe(0);
    const loaded = await query(
      ws.warehouse,
      `SELECT count(*)::INTEGER AS n, count(DISTINCT event_id)::INTEGER AS ids, count(DISTINCT package_seq)::INTEGER AS packages
       FROM fact_ai_event WHERE event_id LIKE 'warned-%'`,
    );
    expect(loaded).toEqual([{ n: 300, ids: 300, packages: expect.any(Number) }]);
    expect(loaded[0]!.packages).toBeGreaterThanOrEqual(4);
    expect(
      await scalar(ws.warehouse, 'SELECT count(*)::INTEGER FROM etl_rejected_event WHERE replayed_at IS NULL'),
    ).toBe(0);
    expect(
      await scalar(ws.warehouse, "SELECT metadata->>'trace' FROM fact_ai_event WHERE event_id = 'warned-0042'"),
    ).toBe(padding(1042));
    expect(await ledger()).toBe(2);
  });

  it('compacted, their day is one file (unsorted: too wide to sort in the pool) holding every row unaltered', async () => {
    expect(compacted.code, compacted.stderr.slice(-2000)).toBe(0);
    const partition = join(ws.lake, 'fact_ai_event', 'event_date=2026-04-10');
    expect(readdirSync(partition)).toEqual(['data.parquet']);
    const rows = await parquetReadObjects({
      file: await asyncBufferFromFile(join(partition, 'data.parquet')),
      columns: ['event_id', 'metadata'],
      compressors,
    });
    expect(rows.length).toBe(RECORDS + warned.length);
    const byId = new Map(rows.map((r) => [String(r.event_id), r.metadata]));
    expect(byId.size).toBe(RECORDS + warned.length);
    for (const [id, i] of [
      ['evt-0007', 7],
      ['warned-0299', 1299],
    ] as const) {
      const metadata = byId.get(id);
      expect(JSON.parse(typeof metadata === 'string' ? metadata : JSON.stringify(metadata))).toEqual({
        trace: padding(i),
      });
    }
  });

  /** Every row of a lake folder's Parquet files (hyparquet), by event id: each id once. */
  const lakeRowsIn = async (dir: string) => {
    const byId = new Map<string, unknown>();
    for (const file of readdirSync(dir).filter((name) => name.endsWith('.parquet'))) {
      const rows = await parquetReadObjects({
        file: await asyncBufferFromFile(join(dir, file)),
        columns: ['event_id', 'metadata'],
        compressors,
      });
      for (const row of rows) {
        expect(byId.has(String(row.event_id)), `${String(row.event_id)} twice`).toBe(false);
        byId.set(String(row.event_id), row.metadata);
      }
    }
    return byId;
  };
  const traceOf = (metadata: unknown) =>
    (JSON.parse(typeof metadata === 'string' ? metadata : JSON.stringify(metadata)) as { trace: string }).trace;
  const kept = [...events, ...warned]
    .filter((e) => e.user_id !== FORGOTTEN_USER)
    .map((e) => String(e.id))
    .sort();
  const aliased = () => config('4MB', { contract: { decision_aliases: { warned: 'allow' } } });

  // Neither a whole day nor the quarantine's payloads fit the pool at once: they are read in slices.
  it('forgetting a user rewrites their day in the lake without them, every other row once and unaltered', async () => {
    // Its files count toward compaction: above 2 of them, the command's end merges the day again.
    const compacting = config('4MB', {
      contract: { decision_aliases: { warned: 'allow' } },
      lake: { path: 'lake', compact_after_files: 2 },
    });
    const forgotten = await aetl(['forget', '--user', FORGOTTEN_USER, '--yes', '--config', compacting], env);
    expect(forgotten.code, forgotten.stderr.slice(-2000)).toBe(0);
    expect(await facts()).toBe(kept.length);
    const partition = join(ws.lake, 'fact_ai_event', 'event_date=2026-04-10');
    expect(readdirSync(partition)).toEqual(['data.parquet']);
    const lake = await lakeRowsIn(partition);
    expect([...lake.keys()].sort()).toEqual(kept);
    expect(traceOf(lake.get('evt-0399'))).toBe(padding(399));
    expect(traceOf(lake.get('warned-0042'))).toBe(padding(1042));
  }, 120_000);

  it('retention archives that day in files per package, every row once and unaltered, then deletes it', async () => {
    const archive = ws.path('archive');
    const retained = await aetl(
      ['retention', '--older-than', '7d', '--archive', archive, '--apply', '--config', aliased()],
      { AETL_NOW: '2026-04-20T00:00:00Z' },
    );
    expect(retained.code, retained.stderr.slice(-2000)).toBe(0);
    expect(await facts()).toBe(0);
    const archived = await lakeRowsIn(join(archive, 'fact_ai_event', 'event_date=2026-04-10'));
    expect([...archived.keys()].sort()).toEqual(kept);
    expect(traceOf(archived.get('evt-0124'))).toBe(padding(124));
    expect(retained.stdout).toMatch(new RegExp(`fact_ai_event +2026-04-10 +${kept.length} +\\S+-\\*\\.parquet`));
  }, 120_000);
});
