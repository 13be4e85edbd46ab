import { text, withInstants, type SqlEngine } from '../driver.js';
import type { StatusReport } from '../warehouse.js';
import { SqlDrift } from './sql-drift.js';
import { isoInstant } from '../../util/dates.js';

const STAR_TABLES = [
  'fact_ai_event',
  'fact_policy_evaluation',
  'dim_user',
  'dim_gateway',
  'dim_model',
  'dim_policy',
  'dim_date',
] as const;

/** `aetl status` on every engine: recent runs with their windows' counts, table sizes, the latest checks, open rejects, drift. */
export class SqlStatus {
  private readonly drift: SqlDrift;

  constructor(private readonly engine: SqlEngine) {
    this.drift = new SqlDrift(engine);
  }

  /** The star schema's row counts, by table. */
  async tables(): Promise<Record<string, number>> {
    const t = (name: string) => this.engine.dialect.table(name);
    const counts = await this.engine.run(
      'counting table rows',
      STAR_TABLES.map((table) => `SELECT '${table}' AS name, COUNT(*) AS n FROM ${t(table)}`).join(' UNION ALL '),
    );
    return Object.fromEntries(counts.map((r) => [String(r.name), Number(r.n)]));
  }

  /** The report for a pipeline whose checkpoint (the state role's) is `checkpointMs`. */
  async report(pipeline: string, lastRuns: number, checkpointMs: number | null): Promise<StatusReport> {
    const d = this.engine.dialect;
    const t = (name: string) => d.table(name);
    const p = (name: string) => d.param(name);
    const runs = await this.engine.run(
      'reading recent runs',
      `SELECT r.run_id, r.command, r.status, ${d.epochMs('r.started_at')} AS started_at_ms,
         ${d.epochMs('r.finished_at')} AS finished_at_ms,
         ROUND((${d.epochMs('r.finished_at')} - ${d.epochMs('r.started_at')}) / 1000, 1) AS duration_s,
         r.error, r.next_step, COUNT(w.seq) AS windows,
         ${d.epochMs('MIN(w.window_start)')} AS window_start_ms, ${d.epochMs('MAX(w.window_end)')} AS window_end_ms,
         COALESCE(SUM(w.read), 0) AS read, COALESCE(SUM(w.inserted), 0) AS inserted,
         COALESCE(SUM(w.already_present), 0) AS already_present,
         COALESCE(SUM(w.in_batch_duplicates), 0) AS in_batch_duplicates, COALESCE(SUM(w.rejected), 0) AS rejected
       FROM ${t('etl_run')} r LEFT JOIN ${t('etl_run_window')} w ON w.run_id = r.run_id
       WHERE r.pipeline = ${p('pipeline')}
       GROUP BY r.run_id, r.command, r.status, r.started_at, r.finished_at, r.error, r.next_step
       ORDER BY r.started_at DESC LIMIT ${Math.max(1, Math.trunc(lastRuns))}`,
      { pipeline: text(pipeline) },
    );
    const tables = await this.tables();
    const checks = await this.engine.run(
      'reading the latest checks',
      `SELECT check_name, scope, status, observed, expected, message, ${d.epochMs('checked_at')} AS checked_at_ms
       FROM ${t('dq_check_result')}
       WHERE pipeline = ${p('pipeline')}
         AND run_id = (SELECT run_id FROM ${t('dq_check_result')} WHERE pipeline = ${p('pipeline')} ORDER BY checked_at DESC LIMIT 1)
       ORDER BY status <> 'fail', check_name`,
      { pipeline: text(pipeline) },
    );
    const [rejects] = await this.engine.run(
      'counting rejects',
      `SELECT COUNT(*) AS n FROM ${t('etl_rejected_event')} WHERE pipeline = ${p('pipeline')} AND replayed_at IS NULL`,
      { pipeline: text(pipeline) },
    );
    return {
      pipeline,
      checkpoint: isoInstant(checkpointMs),
      runs: runs.map((run) =>
        withInstants(run, ['started_at_ms', 'finished_at_ms', 'window_start_ms', 'window_end_ms']),
      ),
      tables,
      checks: checks.map((check) => withInstants(check, ['checked_at_ms'])),
      rejects: Number(rejects!.n),
      drift: await this.drift.fields(pipeline, new Set(runs.map((r) => String(r.run_id)))),
    };
  }
}
