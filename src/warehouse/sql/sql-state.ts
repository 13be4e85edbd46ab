import { RUN_STAGES, type AcceptedLoss, type RunEnd, type RunRecord, type WarehouseState } from '../warehouse.js';
import { redactNullable } from '../../util/redact.js';
import { instant, int, text, type Driver, type Fence } from '../driver.js';

/**
 * The pipeline's own state in the warehouse (the state role): the run ledger,
 * and the checkpoint and file ledger as readers see them and `aetl state`
 * sets them (loads commit theirs in their own transaction, sql-load-commit.ts).
 * Inserts are `INSERT ... SELECT`, never `VALUES`: Snowflake refuses
 * expressions such as PARSE_JSON or casts of binds in a VALUES list.
 */
export class SqlState implements WarehouseState {
  /** `fence`: the run lock's check, run inside the transaction of `aetl state`. */
  constructor(
    private readonly engine: Driver,
    private readonly fence?: Fence,
  ) {}

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
       WHERE pipeline = ${this.p('pipeline')} AND checks_passed AND window_start IS NOT NULL
         AND source_count IS NOT NULL`, // a window counts once its last package, the one with the count, is in
      { pipeline: text(pipeline) },
    );
    return row?.from_ms == null ? null : { fromMs: Number(row.from_ms), toMs: Number(row.to_ms) };
  }

  async lastWindow(pipeline: string): Promise<{ fromMs: number; toMs: number } | null> {
    const [row] = await this.engine.run(
      'reading the last window',
      `SELECT ${this.ms('window_start')} AS from_ms, ${this.ms('window_end')} AS to_ms FROM ${this.t('etl_run_window')}
       WHERE pipeline = ${this.p('pipeline')} AND window_start IS NOT NULL
       ORDER BY committed_at DESC, seq DESC LIMIT 1`, // a run's windows share its clock: seq orders them
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
         AND w.window_start IS NOT NULL AND w.source_count IS NOT NULL`, // only a window's last package has the count
      { pipeline: text(pipeline), command: text(command) },
    );
    return new Set(rows.map((r) => `${Number(r.s)}-${Number(r.e)}`));
  }

  async setState(
    pipeline: string,
    runId: string,
    checkpointMs: number | null,
    clearFileLedger: boolean,
    nowMs: number,
  ): Promise<void> {
    const statements = [
      `DELETE FROM ${this.t('etl_state')} WHERE pipeline = ${this.p('pipeline')}`,
      ...(checkpointMs !== null
        ? [
            `INSERT INTO ${this.t('etl_state')} (pipeline, checkpoint, run_id, updated_at)
             SELECT ${this.p('pipeline')}, ${this.p('checkpoint')}, ${this.p('run_id')}, ${this.p('now')}`,
          ]
        : []),
      ...(clearFileLedger ? [`DELETE FROM ${this.t('etl_file_ledger')} WHERE pipeline = ${this.p('pipeline')}`] : []),
    ];
    await this.engine.transaction(() =>
      this.engine.runTogether(
        'setting the pipeline state',
        statements,
        {
          pipeline: text(pipeline),
          run_id: text(runId),
          now: instant(nowMs),
          ...(checkpointMs === null ? {} : { checkpoint: instant(checkpointMs) }),
        },
        this.fence,
      ),
    );
  }

  async acceptLoss(loss: AcceptedLoss): Promise<void> {
    await this.engine.transaction(() =>
      this.engine.runTogether(
        'recording an accepted loss',
        [
          `INSERT INTO ${this.t('etl_accepted_loss')} (pipeline, from_ts, to_ts, reason, accepted_by, run_id, accepted_at)
           SELECT ${['pipeline', 'from', 'to', 'reason', 'by', 'run_id', 'now'].map((n) => this.p(n)).join(', ')}`,
        ],
        {
          pipeline: text(loss.pipeline),
          from: instant(loss.fromMs),
          to: instant(loss.toMs),
          reason: text(loss.reason),
          by: text(loss.acceptedBy),
          run_id: text(loss.runId),
          now: instant(loss.acceptedMs),
        },
        this.fence,
      ),
    );
  }

  async acceptedLosses(pipeline: string): Promise<AcceptedLoss[]> {
    const rows = await this.engine.run(
      'reading accepted losses',
      `SELECT ${this.ms('from_ts')} AS from_ms, ${this.ms('to_ts')} AS to_ms, reason, accepted_by, run_id,
         ${this.ms('accepted_at')} AS accepted_ms
       FROM ${this.t('etl_accepted_loss')} WHERE pipeline = ${this.p('pipeline')} ORDER BY accepted_at, from_ts`,
      { pipeline: text(pipeline) },
    );
    return rows.map((r) => ({
      pipeline,
      fromMs: Number(r.from_ms),
      toMs: Number(r.to_ms),
      reason: String(r.reason),
      acceptedBy: String(r.accepted_by),
      runId: String(r.run_id),
      acceptedMs: Number(r.accepted_ms),
    }));
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

  /** Also drops what those runs staged: under the run lock, no live run owns any of it. */
  async abandonUnfinishedRuns(pipeline: string, nowMs: number): Promise<void> {
    await this.engine.run(
      'marking abandoned runs',
      `UPDATE ${this.t('etl_run')} SET status = 'abandoned', finished_at = ${this.p('now')},
         error = 'the process ended before the run finished (crash, kill or power loss); later runs redo its work'
       WHERE pipeline = ${this.p('pipeline')} AND status = 'running'`,
      { pipeline: text(pipeline), now: instant(nowMs) },
    );
    await this.engine.dropLeftovers(pipeline);
  }

  async finishRun({ runId, status, error, nextStep, finishedMs, timings }: RunEnd): Promise<void> {
    const stageColumns = RUN_STAGES.map((stage) => `, ${stage}_ms = ${this.p(`${stage}_ms`)}`).join('');
    const stageValues = Object.fromEntries(RUN_STAGES.map((stage) => [`${stage}_ms`, int(timings?.[stage] ?? null)]));
    await this.engine.run(
      'recording the run end',
      `UPDATE ${this.t('etl_run')} SET status = ${this.p('status')}, error = ${this.p('error')},
         next_step = ${this.p('next_step')}, finished_at = ${this.p('finished')}${stageColumns}
       WHERE run_id = ${this.p('run_id')}`,
      {
        run_id: text(runId),
        status: text(status),
        error: text(redactNullable(error)),
        next_step: text(redactNullable(nextStep)),
        finished: instant(finishedMs),
        ...stageValues,
      },
    );
  }
}
