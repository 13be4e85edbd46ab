import type { Dialect } from '../dialect.js';
import { day, instant, int, int64, text, type SqlParams, type SqlRow } from '../driver.js';
import type { LakePartition } from '../warehouse.js';
import { DAY_MS, isoDayOfKey } from '../../util/dates.js';

/**
 * The lake's SQL, written once against Dialect (DESIGN.md decision 2): which
 * partitions are pending, the query each partition's file is written from,
 * and clearing the marks once published. Values are bound; table names come
 * from this list only.
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
/** `yyyymmdd` of a DATE column, or NULL (a dimension): an integer reads back alike from every client. */
const dateKeyOf = (column: string) =>
  `EXTRACT(YEAR FROM ${column}) * 10000 + EXTRACT(MONTH FROM ${column}) * 100 + EXTRACT(DAY FROM ${column})`;

export function pendingPartitionsSql(d: Dialect): string {
  return `SELECT DISTINCT table_name, ${dateKeyOf('event_date')} AS date_key
FROM ${d.table('etl_lake_pending')} WHERE pipeline = ${d.param('pipeline')}`;
}

/** The pending query's rows, in table and date order. */
export function pendingPartitions(rows: SqlRow[]): LakePartition[] {
  return rows
    .map((r) => ({
      table: String(r.table_name),
      eventDate: r.date_key === null || r.date_key === undefined ? null : isoDayOfKey(int64(r.date_key)),
    }))
    .sort((a, b) => a.table.localeCompare(b.table) || (a.eventDate ?? '').localeCompare(b.eventDate ?? ''));
}

/**
 * The rows of one lake file: a fact partition (its UTC day, restricted on
 * event_ts too, so BigQuery and Snowflake prune to that day) or a whole
 * dimension. `SELECT *`: the writer takes the lake's columns by name.
 */
export function lakePartitionQuery(d: Dialect, partition: LakePartition): { sql: string; params: SqlParams } {
  const order = lakeOrder(partition.table);
  if (FACT_TABLES.includes(partition.table) !== (partition.eventDate !== null)) {
    throw new Error(`not a lake partition: ${partition.table} ${partition.eventDate ?? '(whole)'}`);
  }
  const table = d.table(partition.table);
  if (partition.eventDate === null) return { sql: `SELECT * FROM ${table} ORDER BY ${order}`, params: {} };
  const fromMs = Date.parse(`${partition.eventDate}T00:00:00Z`);
  if (Number.isNaN(fromMs)) throw new Error(`not a lake partition date: ${partition.eventDate}`);
  const p = (name: string) => d.param(name);
  return {
    sql: `SELECT * FROM ${table}
WHERE date_key = ${p('date_key')} AND event_ts >= ${p('from_ts')} AND event_ts < ${p('to_ts')}
ORDER BY ${order}`,
    params: {
      date_key: int(Number(partition.eventDate.replaceAll('-', ''))),
      from_ts: instant(fromMs),
      to_ts: instant(fromMs + DAY_MS),
    },
  };
}

/** One statement clearing the marks of every partition a publish wrote (one DML job on BigQuery, not one each). */
export function clearPendingSql(
  d: Dialect,
  pipeline: string,
  partitions: readonly LakePartition[],
): { sql: string; params: SqlParams } {
  const params: SqlParams = { pipeline: text(pipeline) };
  const which = partitions.map((partition, i) => {
    params[`table_${i}`] = text(partition.table);
    if (partition.eventDate === null) return `(table_name = ${d.param(`table_${i}`)} AND event_date IS NULL)`;
    params[`date_${i}`] = day(partition.eventDate);
    return `(table_name = ${d.param(`table_${i}`)} AND event_date = ${d.param(`date_${i}`)})`;
  });
  return {
    sql: `DELETE FROM ${d.table('etl_lake_pending')}
WHERE pipeline = ${d.param('pipeline')} AND (${which.join('\n  OR ')})`,
    params,
  };
}
