import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Dialect } from '../dialect.js';
import { day, instant, int, int64, text, type Driver, type Fence, type SqlParams } from '../driver.js';
import type { RetentionItem } from '../warehouse.js';
import { DAY_MS, isoDay, isoDayOfKey } from '../../util/dates.js';
import { mkdirDurably, renameDurably } from '../../util/durable-write.js';
import { failpoint, fault } from '../../util/failpoint.js';
import { pathInside } from '../../util/safe-path.js';
import { dropAggregatesBeforeSql } from './sql-aggregates.js';
import { lakeOrder, type RowSelection } from './sql-lake.js';
import { exportInSlices } from './sql-sliced-export.js';
import { markLakePendingSql } from './sql-load.js';
import { insertRowsSql } from './sql-rows.js';

/**
 * Retention, written once for every engine: fact partitions (by UTC date)
 * before the cutoff, and the pipeline's ledger rows (rejects, check results,
 * conflicts) recorded before it. Facts are shared by every pipeline of the
 * warehouse; ledger rows are the pipeline's own. A fact's date_key is the UTC
 * day of its event_ts, so `event_ts < cutoff` (a UTC midnight) is exactly the
 * partitions before it, and lets every engine skip the others (BigQuery
 * partitions by DATE(event_ts)).
 */
const FACT_TABLES = ['fact_ai_event', 'fact_policy_evaluation'];
const LEDGER_TABLES: Record<string, string> = {
  etl_rejected_event: 'rejected_at',
  dq_check_result: 'checked_at',
  etl_conflict: 'detected_at',
};

const isFact = (table: string) => FACT_TABLES.includes(table);

/** A table's rows before the cutoff (binds `cutoff`, and `pipeline` for a ledger). */
function beforeCutoff(d: Dialect, table: string): string {
  if (isFact(table)) return `event_ts < ${d.param('cutoff')}`;
  const column = LEDGER_TABLES[table];
  if (!column) throw new Error(`not a table retention removes rows from: ${table}`);
  return `pipeline = ${d.param('pipeline')} AND ${column} < ${d.param('cutoff')}`;
}

/** What retention would remove: each fact partition's rows, and each ledger's, with counts (none: left out). */
export async function retentionPlan(driver: Driver, pipeline: string, cutoffMs: number): Promise<RetentionItem[]> {
  const d = driver.dialect;
  const facts = FACT_TABLES.map(
    (table) => `SELECT '${table}' AS table_name, date_key, COUNT(*) AS n FROM ${d.table(table)}
  WHERE ${beforeCutoff(d, table)} GROUP BY date_key`,
  );
  const ledgers = Object.keys(LEDGER_TABLES).map(
    (table) => `SELECT '${table}' AS table_name, NULL AS date_key, COUNT(*) AS n FROM ${d.table(table)}
  WHERE ${beforeCutoff(d, table)}`,
  );
  const rows = await driver.run(
    'planning retention',
    `${[...facts, ...ledgers].join('\nUNION ALL\n')}\nORDER BY table_name, date_key`,
    { pipeline: text(pipeline), cutoff: instant(cutoffMs) },
  );
  return rows
    .map((r) => ({
      table: String(r.table_name),
      eventDate: r.date_key === null ? null : isoDayOfKey(int64(r.date_key)),
      rows: Number(int64(r.n)),
    }))
    .filter((item) => item.rows > 0);
}

/** One plan item's rows, to archive: a fact partition's day (in the lake's order), or a ledger's rows before the cutoff. */
function itemRows(d: Dialect, item: RetentionItem, base: SqlParams): RowSelection {
  if (item.eventDate === null) return { table: item.table, where: beforeCutoff(d, item.table), params: base };
  const dayMs = Date.parse(`${item.eventDate}T00:00:00Z`);
  return {
    table: item.table,
    where: `f.event_ts >= ${d.param('day_start')} AND f.event_ts < ${d.param('day_end')}`,
    params: { day_start: instant(dayMs), day_end: instant(dayMs + DAY_MS) },
    order: lakeOrder(item.table),
  };
}

/**
 * Writes one plan item to the archive folder `dir` as `<run id>.parquet`, or,
 * rows too large to write at once (sql-sliced-export.ts), as
 * `<run id>-<n>.parquet`; each written under a temporary name and renamed.
 * Returns what the archive row records: the file, or the pattern of the files.
 */
async function archiveItem(
  driver: Driver,
  item: RetentionItem,
  base: SqlParams,
  dir: string,
  runId: string,
): Promise<string> {
  mkdirDurably(dir);
  let written = 0;
  const files = await exportInSlices(
    driver,
    `archiving ${item.table} ${item.eventDate ?? ''}`,
    itemRows(driver.dialect, item, base),
    () => pathInside(dir, `${runId}-${++written}.parquet.tmp`),
  );
  if (files.length === 1) {
    const single = pathInside(dir, `${runId}.parquet`);
    renameDurably(files[0]!, single);
    return single;
  }
  files.forEach((tmp, i) => renameDurably(tmp, pathInside(dir, `${runId}-${i + 1}.parquet`)));
  return join(dir, `${runId}-*.parquet`);
}

/** Whether an archive file was written by `runId`: `<run id>.parquet`, `<run id>-<n>.parquet`, or either's `.tmp`. */
const writtenBy = (runId: string, name: string) => name.startsWith(`${runId}.`) || name.startsWith(`${runId}-`);

/** Removes the files the runs `runIds` wrote under `archiveDir` (`<table>/<partition>/<file>`). */
function removeArchivesOf(archiveDir: string, runIds: string[]): void {
  if (runIds.length === 0 || !existsSync(archiveDir)) return;
  const dirsIn = (dir: string) => readdirSync(dir).filter((name) => statSync(join(dir, name)).isDirectory());
  for (const table of dirsIn(archiveDir)) {
    for (const partition of dirsIn(pathInside(archiveDir, table))) {
      const dir = pathInside(archiveDir, table, partition);
      for (const name of readdirSync(dir)) {
        if (runIds.some((runId) => writtenBy(runId, name))) rmSync(pathInside(dir, name), { force: true });
      }
    }
  }
}

/**
 * This pipeline's retention runs that recorded nothing: killed, or their deletes failed. What they
 * archived is still in the warehouse and is archived again; their files would hold those rows a
 * second time. The pipeline's run lock keeps its retention runs apart (a remote commit of one that
 * lost its lease is refused by the fence).
 */
async function unrecordedRuns(driver: Driver, pipeline: string): Promise<string[]> {
  const d = driver.dialect;
  const rows = await driver.run(
    'finding retention runs that recorded nothing',
    `SELECT r.run_id FROM ${d.table('etl_run')} r
  WHERE r.pipeline = ${d.param('pipeline')} AND r.command = 'retention'
    AND NOT EXISTS (SELECT 1 FROM ${d.table('etl_retention')} t WHERE t.run_id = r.run_id)`,
    { pipeline: text(pipeline) },
  );
  return rows.map((r) => String(r.run_id));
}

/**
 * Archives each item to `<archive>/<table>/event_date=…/<run id>.parquet`
 * (ledger tables: `before=<cutoff>/`), written under a temporary name and
 * renamed; then deletes everything and records it, all together, behind the
 * run lock's `fence`. A crash or failure before that deletes nothing: the
 * next retention removes what the failed run wrote and archives those rows
 * again, so the archive holds each removed row once. Not at once: a remote
 * commit whose answer was lost may still be deleting those rows.
 */
export async function applyRetention(
  driver: Driver,
  plan: RetentionItem[],
  context: { pipeline: string; runId: string; cutoffMs: number; archiveDir: string | null; nowMs: number },
  fence?: Fence,
): Promise<RetentionItem[]> {
  const d = driver.dialect;
  const base: SqlParams = { pipeline: text(context.pipeline), cutoff: instant(context.cutoffMs) };
  const done: RetentionItem[] = [];
  if (context.archiveDir !== null) {
    removeArchivesOf(context.archiveDir, await unrecordedRuns(driver, context.pipeline));
  }
  for (const item of plan) {
    let archivedTo: string | null = null;
    if (context.archiveDir !== null) {
      const partition = item.eventDate === null ? `before=${isoDay(context.cutoffMs)}` : `event_date=${item.eventDate}`;
      // Named by run: a later retention of the same date (late rows) adds files, never overwrites one.
      const dir = pathInside(context.archiveDir, item.table, partition);
      archivedTo = await archiveItem(driver, item, base, dir, context.runId);
    }
    done.push({ ...item, archivedTo });
  }
  if (done.length === 0) return done;
  failpoint('retention:after-archive');
  // By position: the column `rows` is a reserved word in BigQuery and Snowflake.
  const record = insertRowsSql(
    d,
    'etl_retention',
    done.map((item) => ({
      run_id: text(context.runId),
      pipeline: text(context.pipeline),
      table_name: text(item.table),
      event_date: item.eventDate === null ? { type: 'date', value: null } : day(item.eventDate),
      removed: int(item.rows),
      archived_to: text(item.archivedTo ?? null),
      applied_at: instant(context.nowMs),
    })),
    { byPosition: true },
  );
  const tables = [...new Set(done.map((item) => item.table))];
  const factTables = tables.filter(isFact);
  const days = factTables.map((t) => `SELECT DISTINCT date_key FROM ${d.table(t)} WHERE ${beforeCutoff(d, t)}`);
  const statements = [
    // The other pipelines sharing these facts rewrite these partitions in their own lakes, without
    // the old rows; this pipeline's lake folders before the cutoff are removed instead.
    ...(days.length > 0 ? [markLakePendingSql(d, days.join(' UNION ALL '), 'others')] : []),
    ...tables.map((table) => `DELETE FROM ${d.table(table)} WHERE ${beforeCutoff(d, table)}`),
    // The id index forgets the removed events: one re-sent now is loaded again, not taken as present.
    // So do the hourly aggregates and the verified hours (the cutoff is a UTC midnight: their hours go whole).
    ...(tables.includes('fact_ai_event')
      ? [
          `DELETE FROM ${d.table('etl_event_id')} WHERE event_ts < ${d.param('cutoff')}`,
          ...dropAggregatesBeforeSql(d, 'cutoff'),
          `DELETE FROM ${d.table('dq_verified_hour')} WHERE hour < ${d.param('cutoff')}`,
        ]
      : []),
    record.sql,
  ];
  await driver.transaction(async () => {
    if (fault('retention:deletes')) throw new Error('the deletes failed (AETL_FAULT)');
    await driver.runTogether(
      'applying retention',
      statements,
      { ...base, run_id: text(context.runId), ...record.params },
      fence,
    );
  });
  return done;
}
