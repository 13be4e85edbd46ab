import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aetl } from '../helpers/cli.js';
import { query } from '../helpers/duckdb.js';
import { lakeSnapshot, warehouseSnapshot } from '../helpers/snapshot.js';
import { Workspace } from '../helpers/workspace.js';

const NOW = '2026-06-10T06:00:00Z';
const OLD_DAYS = ['2026-05-01', '2026-05-02', '2026-05-03', '2026-05-04'];

describe('aetl retention', () => {
  const ws = new Workspace();
  let config: string;
  let before: Record<string, number>;

  beforeAll(async () => {
    config = ws.writeConfig({
      source: { kind: 'simulator', simulator: { seed: 4, rate_per_minute: 2 } },
      // History with a gap before the recent day: anomaly baselines would see zeros, not the subject here.
      checks: { anomalies: { enabled: false } },
    });
    const history = await aetl(['backfill', '--from', '2026-05-01', '--to', '2026-05-05', '--config', config], {
      AETL_NOW: NOW,
    });
    expect(history.code, history.stderr).toBe(0);
    const recent = await aetl(['run', '--config', config], { AETL_NOW: NOW });
    expect(recent.code, recent.stderr).toBe(0);
    const counts = await query(
      ws.warehouse,
      "SELECT strftime(event_ts, '%Y-%m-%d') AS day, count(*) AS n FROM fact_ai_event GROUP BY 1",
    );
    before = Object.fromEntries(counts.map((r) => [String(r.day), Number(r.n)]));
  }, 180_000);
  afterAll(() => ws.remove());

  it('refuses an age inside reconcile’s reach (exit 2), with --apply before any run starts', async () => {
    const young = await aetl(['retention', '--older-than', '3d', '--config', config], { AETL_NOW: NOW });
    expect(young.code).toBe(2);
    expect(young.stderr).toContain('--older-than must be at least 7d');
    const runs = await query(ws.warehouse, 'SELECT count(*)::INTEGER AS n FROM etl_run');
    const applied = await aetl(['retention', '--older-than', '3d', '--apply', '--config', config], { AETL_NOW: NOW });
    expect(applied.code).toBe(2);
    expect(await query(ws.warehouse, 'SELECT count(*)::INTEGER AS n FROM etl_run')).toEqual(runs);
  });

  it('by default is a dry run: lists what would go, with exact counts, and changes nothing', async () => {
    const warehouse = await warehouseSnapshot(ws.warehouse);
    const lake = await lakeSnapshot(ws.lake);
    const dry = await aetl(['retention', '--older-than', '30d', '--json', '--config', config], { AETL_NOW: NOW });
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout) as {
      cutoff: string;
      items: { table: string; event_date: string; rows: number }[];
    };
    expect(plan.cutoff).toBe('2026-05-11');
    const facts = plan.items.filter((i) => i.table === 'fact_ai_event');
    expect(facts.map((i) => [i.event_date, i.rows])).toEqual(OLD_DAYS.map((d) => [d, before[d]]));
    expect(plan.items.some((i) => i.table === 'fact_policy_evaluation')).toBe(true);
    expect(await warehouseSnapshot(ws.warehouse)).toEqual(warehouse);
    expect(await lakeSnapshot(ws.lake)).toEqual(lake);
  });

  it('--apply --archive: old partitions archived to Parquet, then gone from warehouse and lake; the rest untouched', async () => {
    const archive = ws.path('archive');
    const retention = (env: Record<string, string> = {}) =>
      aetl(['retention', '--older-than', '30d', '--archive', archive, '--apply', '--config', config], {
        AETL_NOW: NOW,
        ...env,
      });
    // Deletes that fail after the archive was written: nothing removed; its files stay until the next
    // retention (a remote commit whose answer was lost may still be deleting), which removes them.
    const failed = await retention({ AETL_FAULT: 'retention:deletes' });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('the deletes failed');
    const archived = OLD_DAYS.flatMap((day) => readdirSync(join(archive, 'fact_ai_event', `event_date=${day}`)));
    expect(archived).toHaveLength(OLD_DAYS.length);
    expect(await query(ws.warehouse, 'SELECT count(*) AS n FROM fact_ai_event')).toEqual([
      { n: BigInt(Object.values(before).reduce((a, b) => a + b)) },
    ]);

    const applied = await retention();
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain('removed: everything before 2026-05-11');

    const after = await query(
      ws.warehouse,
      "SELECT strftime(event_ts, '%Y-%m-%d') AS day, count(*) AS n FROM fact_ai_event GROUP BY 1",
    );
    const kept = Object.fromEntries(after.map((r) => [String(r.day), Number(r.n)]));
    const expectedKept = Object.fromEntries(Object.entries(before).filter(([day]) => !OLD_DAYS.includes(day)));
    expect(kept).toEqual(expectedKept);
    const [policies] = await query(
      ws.warehouse,
      'SELECT count(*) AS n FROM fact_policy_evaluation WHERE date_key < 20260511',
    );
    expect(policies!.n).toBe(0n);

    // The archive, read back by an independent reader: every removed event, exactly once.
    for (const day of OLD_DAYS) {
      const dir = join(archive, 'fact_ai_event', `event_date=${day}`);
      const names = readdirSync(dir);
      expect(names, day).toHaveLength(1); // the failed run's file is gone: one, named by the retention run
      const file = join(dir, names[0]!);
      const rows = await parquetReadObjects({ file: await asyncBufferFromFile(file), compressors });
      expect(rows, day).toHaveLength(before[day]!);
      expect(new Set(rows.map((r) => r.event_id)).size).toBe(before[day]);
    }
    const lakeDays = readdirSync(join(ws.lake, 'fact_ai_event')).map((d) => d.replace('event_date=', ''));
    expect(lakeDays.filter((d) => OLD_DAYS.includes(d))).toEqual([]);
    expect(lakeDays.length).toBe(Object.keys(expectedKept).length);
    expect(existsSync(join(ws.lake, 'fact_ai_event', `event_date=${Object.keys(expectedKept)[0]}`))).toBe(true);

    // Recorded: a retention run in the ledger, and what it removed.
    const runs = await query(
      ws.warehouse,
      "SELECT status FROM etl_run WHERE command = 'retention' ORDER BY started_at",
    );
    expect(runs.map((r) => r.status)).toEqual(['failed', 'succeeded']);
    const removed = await query(
      ws.warehouse,
      "SELECT strftime(event_date, '%Y-%m-%d') AS day, rows FROM etl_retention WHERE table_name = 'fact_ai_event' ORDER BY 1",
    );
    expect(removed.map((r) => [r.day, Number(r.rows)])).toEqual(OLD_DAYS.map((d) => [d, before[d]]));
  });

  it('a second --apply finds nothing to remove', async () => {
    const again = await aetl(['retention', '--older-than', '30d', '--apply', '--config', config], { AETL_NOW: NOW });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('nothing older than 2026-05-11 to remove');
  });
});
