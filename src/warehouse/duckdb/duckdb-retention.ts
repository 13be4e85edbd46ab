import { dirname } from 'node:path';
import { isoDay, isoDayOfKey } from '../../util/dates.js';
import { mkdirDurably, renameDurably } from '../../util/durable-write.js';
import { pathInside } from '../../util/safe-path.js';
import type { RetentionItem } from '../warehouse.js';
import { iso, sqlString, toNumber, type Params, type SqlRunner } from './duckdb-driver.js';

/**
 * A fact date whose rows were deleted (retention): the other pipelines' lakes
 * rewrite that partition without them (this pipeline's folders are removed).
 */
const MARK_DATE_PENDING_FOR_OTHERS_SQL = `INSERT INTO etl_lake_pending
  SELECT DISTINCT pipeline, tbl, $date::DATE, $run_id
  FROM (VALUES ('fact_ai_event'), ('fact_policy_evaluation')) AS t(tbl), etl_run
  WHERE pipeline <> $pipeline`;

/**
 * Retention on DuckDB: fact partitions (by UTC date) before the cutoff, and
 * the pipeline's ledger rows (rejects, check results, conflicts) recorded
 * before it. Facts are shared by every pipeline of the warehouse; ledger rows
 * are the pipeline's own.
 */
const FACT_TABLES = ['fact_ai_event', 'fact_policy_evaluation'] as const;
const LEDGER_TABLES = { etl_rejected_event: 'rejected_at', dq_check_result: 'checked_at', etl_conflict: 'detected_at' };

const dateKey = (day: string) => Number(day.replaceAll('-', ''));

/** The rows one plan item stands for, as a WHERE clause on its table. */
function whereOf(item: RetentionItem): { sql: string; params: Params } {
  if (item.eventDate !== null) {
    if (!(FACT_TABLES as readonly string[]).includes(item.table)) throw new Error(`not a fact table: ${item.table}`);
    return { sql: 'date_key = $key', params: { key: dateKey(item.eventDate) } };
  }
  const column = LEDGER_TABLES[item.table as keyof typeof LEDGER_TABLES];
  if (!column) throw new Error(`not a ledger table: ${item.table}`);
  return { sql: `pipeline = $pipeline AND ${column} < $cutoff::TIMESTAMPTZ`, params: {} };
}

export async function retentionPlan(runner: SqlRunner, pipeline: string, cutoffMs: number): Promise<RetentionItem[]> {
  const facts = FACT_TABLES.map(
    (table) =>
      `SELECT '${table}' AS table_name, date_key, count(*) AS n FROM ${table} WHERE date_key < $key GROUP BY date_key`,
  );
  const ledgers = Object.entries(LEDGER_TABLES).map(
    ([table, column]) =>
      `SELECT '${table}' AS table_name, NULL AS date_key, count(*) AS n FROM ${table}
       WHERE pipeline = $pipeline AND ${column} < $cutoff::TIMESTAMPTZ`,
  );
  const rows = await runner.rows(`${[...facts, ...ledgers].join('\nUNION ALL\n')}\nORDER BY table_name, date_key`, {
    key: dateKey(isoDay(cutoffMs)),
    pipeline,
    cutoff: iso(cutoffMs),
  });
  return rows
    .filter((r) => toNumber(r.n) > 0)
    .map((r) => ({
      table: String(r.table_name),
      eventDate: r.date_key === null ? null : isoDayOfKey(r.date_key),
      rows: toNumber(r.n),
    }));
}

/**
 * Archives each item to `<archive>/<table>/event_date=…/<run id>.parquet` (ledger
 * tables: `before=<cutoff>/`), written under a temporary name and renamed;
 * then deletes everything and records it in one transaction. A crash before
 * the commit deletes nothing (the archive is simply written again).
 */
export async function applyRetention(
  runner: SqlRunner,
  plan: RetentionItem[],
  context: { pipeline: string; runId: string; cutoffMs: number; archiveDir: string | null; nowMs: number },
): Promise<RetentionItem[]> {
  const base = { pipeline: context.pipeline, cutoff: iso(context.cutoffMs) };
  const done: RetentionItem[] = [];
  for (const item of plan) {
    let archivedTo: string | null = null;
    if (context.archiveDir !== null) {
      const partition = item.eventDate === null ? `before=${isoDay(context.cutoffMs)}` : `event_date=${item.eventDate}`;
      // Named by run: a later retention of the same date (late rows) adds a file, never overwrites one.
      archivedTo = pathInside(context.archiveDir, item.table, partition, `${context.runId}.parquet`);
      mkdirDurably(dirname(archivedTo));
      const where = whereOf(item);
      const tmp = `${archivedTo}.tmp`;
      await runner.exec(
        `COPY (SELECT * FROM ${item.table} WHERE ${where.sql}) TO ${sqlString(tmp)} (FORMAT parquet, COMPRESSION zstd)`,
        { ...base, ...where.params },
      );
      renameDurably(tmp, archivedTo);
    }
    done.push({ ...item, archivedTo });
  }
  await runner.transaction(async () => {
    // The other pipelines sharing these facts rewrite these partitions in their own lakes, without the old rows.
    const dates = [...new Set(done.flatMap((item) => (item.eventDate === null ? [] : [item.eventDate])))];
    for (const date of dates) {
      await runner.exec(MARK_DATE_PENDING_FOR_OTHERS_SQL, { date, run_id: context.runId, pipeline: context.pipeline });
    }
    for (const item of done) {
      const where = whereOf(item);
      await runner.exec(`DELETE FROM ${item.table} WHERE ${where.sql}`, { ...base, ...where.params });
      // The id index forgets the removed events: one re-sent now is loaded again, not taken as present.
      if (item.table === 'fact_ai_event')
        await runner.exec(`DELETE FROM etl_event_id WHERE ${where.sql}`, where.params);
      await runner.exec(
        `INSERT INTO etl_retention VALUES ($run_id, $pipeline, $table, $date::DATE, $rows, $archived, $now::TIMESTAMPTZ)`,
        {
          run_id: context.runId,
          pipeline: context.pipeline,
          table: item.table,
          date: item.eventDate,
          rows: item.rows,
          archived: item.archivedTo ?? null,
          now: iso(context.nowMs),
        },
      );
    }
  });
  return done;
}
