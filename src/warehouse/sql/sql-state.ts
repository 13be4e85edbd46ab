import type { CheckResult, RunRecord, RunStatus } from '../warehouse.js';
import { redact, redactNullable } from '../../util/redact.js';
import { bool, float, instant, text, type SqlEngine } from '../driver.js';
import { insertRowsSql } from './sql-rows.js';

/** Rows per statement: Snowflake binds a check result's 11 values each (BigQuery gets one array parameter). */
const CHECK_ROWS_PER_INSERT = 500;

/**
 * The pipeline's own state in the warehouse: run ledger,
 * the checkpoint and file ledger as readers see them, and check results.
 * Inserts are `INSERT ... SELECT`, never `VALUES`: Snowflake refuses
 * expressions such as PARSE_JSON or casts of binds in a VALUES list.
 */
export class SqlState {
  constructor(private readonly engine: SqlEngine) {}

  private t(table: string): string {
    return this.engine.dialect.table(table);
  }

  private p(name: string): string {
    return this.engine.dialect.param(name);
  }

  private ms(expression: string): string {
    return this.engine.dialect.epochMs(expression);
  }

  async getCheckpoint(pipeline: string): Promise<number | null> {
    const rows = await this.engine.run(
      'reading the checkpoint',
      `SELECT ${this.ms('checkpoint')} AS ms FROM ${this.t('etl_state')} WHERE pipeline = ${this.p('pipeline')}`,
      { pipeline: text(pipeline) },
    );
    return rows[0] ? Number(rows[0].ms) : null;
  }

  async loadedFiles(pipeline: string): Promise<Map<string, string>> {
    const rows = await this.engine.run(
      'reading the file ledger',
      `SELECT path, sha256 FROM ${this.t('etl_file_ledger')} WHERE pipeline = ${this.p('pipeline')}`,
      { pipeline: text(pipeline) },
    );
    return new Map(rows.map((r) => [String(r.path), String(r.sha256)]));
  }

  async loadedSpan(pipeline: string): Promise<{ fromMs: number; toMs: number } | null> {
    const [row] = await this.engine.run(
      'reading the loaded span',
      `SELECT ${this.ms('MIN(window_start)')} AS from_ms, ${this.ms('MAX(window_end)')} AS to_ms
       FROM ${this.t('etl_run_window')}
       WHERE pipeline = ${this.p('pipeline')} AND checks_passed AND window_start IS NOT NULL`,
      { pipeline: text(pipeline) },
    );
    return row?.from_ms == null ? null : { fromMs: Number(row.from_ms), toMs: Number(row.to_ms) };
  }

  async lastWindow(pipeline: string): Promise<{ fromMs: number; toMs: number } | null> {
    const [row] = await this.engine.run(
      'reading the last window',
      `SELECT ${this.ms('window_start')} AS from_ms, ${this.ms('window_end')} AS to_ms FROM ${this.t('etl_run_window')}
       WHERE pipeline = ${this.p('pipeline')} AND window_start IS NOT NULL ORDER BY committed_at DESC LIMIT 1`,
      { pipeline: text(pipeline) },
    );
    return row ? { fromMs: Number(row.from_ms), toMs: Number(row.to_ms) } : null;
  }

  async completedWindows(pipeline: string, command: string): Promise<Set<string>> {
    const rows = await this.engine.run(
      'reading completed windows',
      `SELECT DISTINCT ${this.ms('w.window_start')} AS s, ${this.ms('w.window_end')} AS e
       FROM ${this.t('etl_run_window')} w JOIN ${this.t('etl_run')} r ON r.run_id = w.run_id
       WHERE w.pipeline = ${this.p('pipeline')} AND r.command = ${this.p('command')} AND w.checks_passed
         AND w.window_start IS NOT NULL`,
      { pipeline: text(pipeline), command: text(command) },
    );
    return new Set(rows.map((r) => `${Number(r.s)}-${Number(r.e)}`));
  }

  /** The statements of `aetl state` (the caller runs them together). */
  setStateStatements(checkpoint: boolean, clearFileLedger: boolean): string[] {
    return [
      `DELETE FROM ${this.t('etl_state')} WHERE pipeline = ${this.p('pipeline')}`,
      ...(checkpoint
        ? [
            `INSERT INTO ${this.t('etl_state')} (pipeline, checkpoint, run_id, updated_at)
             SELECT ${this.p('pipeline')}, ${this.p('checkpoint')}, ${this.p('run_id')}, ${this.p('now')}`,
          ]
        : []),
      ...(clearFileLedger ? [`DELETE FROM ${this.t('etl_file_ledger')} WHERE pipeline = ${this.p('pipeline')}`] : []),
    ];
  }

  async startRun(run: RunRecord): Promise<void> {
    await this.engine.run(
      'recording the run start',
      `INSERT INTO ${this.t('etl_run')} (run_id, pipeline, command, status, started_at)
       SELECT ${this.p('run_id')}, ${this.p('pipeline')}, ${this.p('command')}, 'running', ${this.p('started')}`,
      {
        run_id: text(run.runId),
        pipeline: text(run.pipeline),
        command: text(run.command),
        started: instant(run.startedMs),
      },
    );
  }

  async abandonUnfinishedRuns(pipeline: string, nowMs: number): Promise<void> {
    await this.engine.run(
      'marking abandoned runs',
      `UPDATE ${this.t('etl_run')} SET status = 'abandoned', finished_at = ${this.p('now')},
         error = 'the process ended before the run finished (crash, kill or power loss); later runs redo its work'
       WHERE pipeline = ${this.p('pipeline')} AND status = 'running'`,
      { pipeline: text(pipeline), now: instant(nowMs) },
    );
  }

  async finishRun(runId: string, status: RunStatus, error: string | null, finishedMs: number): Promise<void> {
    await this.engine.run(
      'recording the run end',
      `UPDATE ${this.t('etl_run')} SET status = ${this.p('status')}, error = ${this.p('error')},
         finished_at = ${this.p('finished')}
       WHERE run_id = ${this.p('run_id')}`,
      { run_id: text(runId), status: text(status), error: text(redactNullable(error)), finished: instant(finishedMs) },
    );
  }

  /** Appends check results (history is never overwritten), every value bound. */
  async writeCheckResults(pipeline: string, runId: string, results: CheckResult[], nowMs: number): Promise<void> {
    for (let i = 0; i < results.length; i += CHECK_ROWS_PER_INSERT) {
      await this.insertCheckResults(pipeline, runId, results.slice(i, i + CHECK_ROWS_PER_INSERT), nowMs);
    }
  }

  private async insertCheckResults(
    pipeline: string,
    runId: string,
    results: CheckResult[],
    nowMs: number,
  ): Promise<void> {
    const rows = results.map((check) => ({
      run_id: text(runId),
      pipeline: text(pipeline),
      check_name: text(check.name),
      scope: text(check.scope),
      status: text(check.status),
      blocking: bool(check.blocking),
      observed: float(check.observed === null || !Number.isFinite(check.observed) ? null : check.observed),
      expected: text(check.expected),
      message: text(redact(check.message)),
      checked_at: instant(nowMs),
      bucket: instant(check.bucket ?? null),
    }));
    const { sql, params } = insertRowsSql(this.engine.dialect, 'dq_check_result', rows);
    await this.engine.run('recording check results', sql, params);
  }
}
