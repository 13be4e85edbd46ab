import type { Dialect } from '../dialect.js';

/**
 * Lake partitions to rewrite (etl_lake_pending, DESIGN.md decision 2), in
 * every pipeline's lake: the star tables are shared, so a change one
 * pipeline makes shows in all of them. Set operations are `UNION ALL` and
 * constant tables are SELECTs: BigQuery has neither a bare UNION nor VALUES.
 */
function everyPipeline(d: Dialect): string {
  return `SELECT DISTINCT p FROM (SELECT ${d.param('pipeline')} AS p UNION ALL SELECT pipeline AS p FROM ${d.table('etl_run')}) known`;
}

const constants = (names: string[]) => names.map((name) => `SELECT '${name}' AS tbl`).join(' UNION ALL ');

/** Both fact tables' partitions of the days a query (of `date_key`) returns; binds `pipeline` and `run_id`. */
export function markFactPartitionsPendingSql(d: Dialect, dateKeys: string): string {
  return `INSERT INTO ${d.table('etl_lake_pending')} (pipeline, table_name, event_date, run_id)
SELECT DISTINCT pl.p, t.tbl, dd.date, ${d.param('run_id')}
FROM (${dateKeys}) k
JOIN ${d.table('dim_date')} dd ON dd.date_key = k.date_key
CROSS JOIN (${constants(['fact_ai_event', 'fact_policy_evaluation'])}) t
CROSS JOIN (${everyPipeline(d)}) pl`;
}

/** Dimensions are small and written to the lake whole (no event date); binds `pipeline` and `run_id`. */
export function markDimensionsPendingSql(d: Dialect): string {
  return `INSERT INTO ${d.table('etl_lake_pending')} (pipeline, table_name, event_date, run_id)
SELECT pl.p, t.tbl, CAST(NULL AS DATE), ${d.param('run_id')}
FROM (${constants(['dim_user', 'dim_gateway', 'dim_model', 'dim_policy', 'dim_date'])}) t
CROSS JOIN (${everyPipeline(d)}) pl`;
}
