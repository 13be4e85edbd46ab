import type { Dialect } from '../dialect.js';

/**
 * Lake partitions to rewrite (etl_lake_pending, DESIGN.md decision 2). The
 * star tables are shared by every pipeline of the warehouse and each keeps
 * its own lake, so a change shows as pending in all of them. Written with
 * `UNION ALL` and constant SELECTs: BigQuery has no bare UNION and no VALUES.
 * Binds `pipeline` and `run_id`.
 */
const FACT_TABLES = ['fact_ai_event', 'fact_policy_evaluation'];
const DIMENSION_TABLES = ['dim_user', 'dim_gateway', 'dim_model', 'dim_policy', 'dim_date'];

const names = (values: string[]) => values.map((v) => `SELECT '${v}' AS tbl`).join(' UNION ALL ');

/** `all`: every pipeline that ran here, and this one; `others`: all but this one. */
function pipelinesSql(d: Dialect, which: 'all' | 'others'): string {
  const ran = `SELECT pipeline AS p FROM ${d.table('etl_run')}`;
  return which === 'all'
    ? `SELECT DISTINCT p FROM (SELECT ${d.param('pipeline')} AS p UNION ALL ${ran}) known`
    : `SELECT DISTINCT p FROM (${ran}) known WHERE p <> ${d.param('pipeline')}`;
}

/** Both fact tables' partitions of the days a query (of `date_key`) returns. */
export function markFactPartitionsPendingSql(d: Dialect, dateKeys: string, which: 'all' | 'others'): string {
  return `INSERT INTO ${d.table('etl_lake_pending')} (pipeline, table_name, event_date, run_id)
SELECT DISTINCT pl.p, tb.tbl, dd.date, ${d.param('run_id')}
FROM (${dateKeys}) k
JOIN ${d.table('dim_date')} dd ON dd.date_key = k.date_key
CROSS JOIN (${names(FACT_TABLES)}) tb
CROSS JOIN (${pipelinesSql(d, which)}) pl`;
}

/** Dimensions are small and written to the lake whole (no event date). */
export function markDimensionsPendingSql(d: Dialect): string {
  return `INSERT INTO ${d.table('etl_lake_pending')} (pipeline, table_name, event_date, run_id)
SELECT pl.p, tb.tbl, CAST(NULL AS DATE), ${d.param('run_id')}
FROM (${names(DIMENSION_TABLES)}) tb
CROSS JOIN (${pipelinesSql(d, 'all')}) pl`;
}

/** Every pipeline of the warehouse (its lakes, its staging leftovers), this one included, as `p`. */
export function everyPipelineSql(d: Dialect): string {
  return `${pipelinesSql(d, 'all')} ORDER BY p`;
}
