import type { Dialect } from '../dialect.js';
import { instant, int, int64, text, type SqlParams, type SqlRow } from '../driver.js';
import type { LakePartition } from '../warehouse.js';
import { DAY_MS, isoDayOfKey } from '../../util/dates.js';

/**
 * The lake's SQL, written once against Dialect (DESIGN.md decision 2): which
 * marks are pending, the query each file is written from (one package's rows,
 * or a whole partition), and clearing the marks once published. Values are
 * bound; table names come from this list only.
 */

/** Each star table the lake holds, with the order its files list rows in: facts by event time, as DuckDB's. */
const LAKE_ORDER: Record<string, string> = {
  fact_ai_event: 'event_ts, event_id',
  fact_policy_evaluation: 'event_ts, event_id, ordinal',
  dim_user: 'user_key',
  dim_gateway: 'gateway_key',
  dim_model: 'model_key',
  dim_policy: 'policy_key',
  dim_date: 'date_key',
};

/** The ORDER BY of a lake table's files. */
export function lakeOrder(table: string): string {
  const order = LAKE_ORDER[table];
  if (order === undefined) throw new Error(`not a lake table: ${table}`);
  return order;
}

const FACT_TABLES = ['fact_ai_event', 'fact_policy_evaluation'];
export const isFactTable = (table: string) => FACT_TABLES.includes(table);
/** `yyyymmdd` of a DATE column, or NULL (a dimension): an integer reads back alike from every client. */
const dateKeyOf = (column: string) =>
  `EXTRACT(YEAR FROM ${column}) * 10000 + EXTRACT(MONTH FROM ${column}) * 100 + EXTRACT(DAY FROM ${column})`;

export function pendingPartitionsSql(d: Dialect): string {
  return `SELECT DISTINCT table_name, ${dateKeyOf('event_date')} AS date_key, run_id, package_seq
FROM ${d.table('etl_lake_pending')} WHERE pipeline = ${d.param('pipeline')}`;
}

/** The pending query's rows, in table, date and package order. */
export function pendingPartitions(rows: SqlRow[]): LakePartition[] {
  const absent = (value: unknown) => value === null || value === undefined;
  return rows
    .map((r) => ({
      table: String(r.table_name),
      eventDate: absent(r.date_key) ? null : isoDayOfKey(int64(r.date_key)),
      runId: String(r.run_id),
      packageSeq: absent(r.package_seq) ? null : Number(int64(r.package_seq)),
    }))
    .sort(
      (a, b) =>
        a.table.localeCompare(b.table) ||
        (a.eventDate ?? '').localeCompare(b.eventDate ?? '') ||
        a.runId.localeCompare(b.runId) ||
        (a.packageSeq ?? 0) - (b.packageSeq ?? 0),
    );
}

/**
 * Rows of one table to write to one or more Parquet files: `FROM <table> f WHERE <where>`, so that
 * a day too large to write at once can be cut into the packages that loaded it (`sql-sliced-export.ts`).
 */
export interface RowSelection {
  table: string;
  where: string;
  params: SqlParams;
  /** ORDER BY, if the file has an order. */
  order?: string;
}

/** A selection as one query. `SELECT *`: the writer takes the lake's columns by name. */
export function selectionSql(d: Dialect, rows: RowSelection): string {
  return `SELECT * FROM ${d.table(rows.table)} f
WHERE ${rows.where}${
    rows.order === undefined
      ? ''
      : `
ORDER BY ${rows.order}`
  }`;
}

/**
 * The rows of one lake file. A package's file: the rows that package
 * inserted into the partition. A whole partition: its UTC day (restricted on
 * event_ts too, so BigQuery and Snowflake prune to that day) without the rows
 * of packages whose own files are still pending (they are added as those
 * files, and a package committed meanwhile adds its file later: never twice),
 * or a whole dimension.
 */
export function lakePartitionRows(d: Dialect, pipeline: string, partition: LakePartition): RowSelection {
  if (FACT_TABLES.includes(partition.table) !== (partition.eventDate !== null)) {
    throw new Error(`not a lake partition: ${partition.table} ${partition.eventDate ?? '(whole)'}`);
  }
  const table = partition.table;
  const order = lakeOrder(table);
  if (partition.eventDate === null) return { table, where: 'TRUE', params: {}, order };
  const fromMs = Date.parse(`${partition.eventDate}T00:00:00Z`);
  if (Number.isNaN(fromMs)) throw new Error(`not a lake partition date: ${partition.eventDate}`);
  const p = (name: string) => d.param(name);
  const day = {
    date_key: int(Number(partition.eventDate.replaceAll('-', ''))),
    from_ts: instant(fromMs),
    to_ts: instant(fromMs + DAY_MS),
  };
  const inDay = `f.date_key = ${p('date_key')} AND f.event_ts >= ${p('from_ts')} AND f.event_ts < ${p('to_ts')}`;
  if (partition.packageSeq !== null) {
    return {
      table,
      where: `${inDay} AND f.run_id = ${p('run_id')} AND f.package_seq = ${p('package_seq')}`,
      params: { ...day, run_id: text(partition.runId), package_seq: int(partition.packageSeq) },
      order,
    };
  }
  return {
    table,
    where: `${inDay}
  AND NOT EXISTS (SELECT 1 FROM ${d.table('etl_lake_pending')} m
                  WHERE m.pipeline = ${p('pipeline')} AND m.table_name = ${p('table_name')}
                    AND ${dateKeyOf('m.event_date')} = ${p('date_key')}
                    AND m.run_id = f.run_id AND m.package_seq = f.package_seq)`,
    params: { ...day, pipeline: text(pipeline), table_name: text(partition.table) },
    order,
  };
}

/** A mark as one text, the same in SQL (`markKeySql`) and here: table, yyyymmdd or '', run id, seq or ''. */
export function markKey(partition: LakePartition): string {
  const date = partition.eventDate?.replaceAll('-', '') ?? '';
  return `${partition.table}/${date}/${partition.runId}/${partition.packageSeq ?? ''}`;
}

const markKeySql = `CONCAT(table_name, '/', COALESCE(CAST(${dateKeyOf('event_date')} AS STRING), ''), '/', run_id, '/',
  COALESCE(CAST(package_seq AS STRING), ''))`;

/**
 * One statement clearing exactly the marks a publish read (one DML job on
 * BigQuery, whatever their number): a mark another run added meanwhile stays
 * for the next publish.
 */
export function clearPendingSql(
  d: Dialect,
  pipeline: string,
  partitions: readonly LakePartition[],
): { sql: string; params: SqlParams } {
  return {
    sql: `DELETE FROM ${d.table('etl_lake_pending')}
WHERE pipeline = ${d.param('pipeline')} AND ${d.inJsonList(markKeySql, 'marks')}`,
    params: { pipeline: text(pipeline), marks: text(JSON.stringify(partitions.map(markKey))) },
  };
}
