import { plainNumbers, withInstants } from '../warehouse/driver.js';
import { RUN_STAGES, type WarehouseQuery } from '../warehouse/warehouse.js';
import { rejectsByFieldSql } from '../checks/check-sql.js';
import { UsageError } from '../util/errors.js';

/** Quarantined records by the field their first reason names (the most common first). */
export type RejectsByField = { field: string; rejects: number; example: string }[];

/** One run's whole record, as `aetl runs show <run-id>` prints it. */
export interface RunDetail {
  run: Record<string, unknown>;
  windows: Record<string, unknown>[];
  checks: Record<string, unknown>[];
  rejectsByField: RejectsByField;
}

/**
 * One run's rejects by field, or (run null) the pipeline's outstanding ones: for `runs show`
 * and `status`, not for every run's summary (it groups the whole quarantine).
 */
export async function rejectsByField(
  warehouse: WarehouseQuery,
  pipeline: string,
  runId: string | null,
): Promise<RejectsByField> {
  const sql = rejectsByFieldSql(warehouse.dialect, runId !== null, runId === null);
  const rows = await warehouse.query(sql, runId === null ? { pipeline } : { pipeline, run_id: runId });
  return rows.map((r) => ({ field: String(r.field), rejects: Number(r.rejects), example: String(r.example) }));
}

/** Read through the warehouse's dialect, so it works on every engine; the run must be this pipeline's. */
export async function runDetail(warehouse: WarehouseQuery, pipeline: string, runId: string): Promise<RunDetail> {
  const d = warehouse.dialect;
  const t = (name: string) => d.table(name);
  const p = (name: string) => d.param(name);
  const params = { pipeline, run_id: runId };
  const [run] = await warehouse.query(
    `SELECT run_id, command, status, ${d.epochMs('started_at')} AS started_at_ms, ${d.epochMs('finished_at')} AS finished_at_ms, error, next_step,
       ${RUN_STAGES.map((stage) => `${stage}_ms`).join(', ')}
     FROM ${t('etl_run')} WHERE pipeline = ${p('pipeline')} AND run_id = ${p('run_id')}`,
    params,
  );
  if (!run) throw new UsageError(`no run ${runId} in pipeline ${pipeline} (aetl status lists the recent ones)`);
  const windows = await warehouse.query(
    `SELECT seq, ${d.epochMs('window_start')} AS window_start_ms, ${d.epochMs('window_end')} AS window_end_ms, source_count,
       read, inserted, already_present, in_batch_duplicates, conflicts, rejected, out_of_window, policy_rows,
       checkpoint_moved, checks_passed, extract_ms, load_ms
     FROM ${t('etl_run_window')} WHERE pipeline = ${p('pipeline')} AND run_id = ${p('run_id')} ORDER BY seq`,
    params,
  );
  const checks = await warehouse.query(
    `SELECT check_name, scope, status, observed, expected, message FROM ${t('dq_check_result')}
     WHERE pipeline = ${p('pipeline')} AND run_id = ${p('run_id')} ORDER BY status <> 'fail', check_name, scope`,
    params,
  );
  return {
    run: withInstants(run, ['started_at_ms', 'finished_at_ms']),
    windows: windows.map((w) => withInstants(w, ['window_start_ms', 'window_end_ms'])),
    checks: checks.map(plainNumbers),
    rejectsByField: await rejectsByField(warehouse, pipeline, runId),
  };
}
