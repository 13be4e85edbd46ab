import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RunFailedError } from '../../util/errors.js';
import type { CheckResult, RunRecord, RunStatus } from '../warehouse.js';
import type { BigQueryClient, BigQueryParam } from './bigquery-client.js';
import { tableRef, type Dataset } from './bigquery-sql.js';

const DDL_FILE = fileURLToPath(new URL('../../../sql/bigquery/ddl.sql', import.meta.url));
/** The DDL file is schema version 1; later changes come as numbered migrations beside it. */
const SCHEMA_VERSION = 1;
/** BigQuery takes at most 10,000 parameters per query; a check result binds 8. */
const CHECK_ROWS_PER_INSERT = 500;

const text = (value: string | null): BigQueryParam => ({ type: 'STRING', value });
const int = (value: number | null): BigQueryParam => ({ type: 'INT64', value });
const float = (value: number | null): BigQueryParam => ({ type: 'FLOAT64', value });
const bool = (value: boolean): BigQueryParam => ({ type: 'BOOL', value });
const instant = (ms: number | null): BigQueryParam => ({
  type: 'TIMESTAMP',
  value: ms === null ? null : new Date(ms).toISOString(),
});

/**
 * The pipeline's own state in BigQuery: schema version, run ledger, the
 * checkpoint and file ledger as readers see them, and check results. The
 * star-schema load lives in bigquery-load.ts.
 */
export class BigQueryState {
  constructor(
    private readonly client: BigQueryClient,
    private readonly ds: Dataset,
  ) {}

  private t(table: string): string {
    return tableRef(this.ds, table);
  }

  /** Creates the dataset and our tables if missing; returns how many schema versions were applied. */
  async migrate(): Promise<number> {
    await this.client.ensureDataset();
    await this.client.query(
      'creating the schema version table',
      `CREATE TABLE IF NOT EXISTS ${this.t('etl_schema_version')} (version INT64 NOT NULL, name STRING NOT NULL, applied_at TIMESTAMP NOT NULL)`,
    );
    const applied = await this.client.query(
      'reading the schema version',
      `SELECT version FROM ${this.t('etl_schema_version')} WHERE version = @version`,
      { version: int(SCHEMA_VERSION) },
    );
    if (applied.length > 0) {
      await this.checkDrift();
      return 0;
    }
    const ddl = readFileSync(DDL_FILE, 'utf8').replaceAll('{{dataset}}', `${this.ds.project}.${this.ds.dataset}`);
    await this.client.query('creating the warehouse tables', ddl);
    await this.client.query(
      'recording the schema version',
      `INSERT INTO ${this.t('etl_schema_version')} (version, name, applied_at) VALUES (@version, 'ddl.sql', CURRENT_TIMESTAMP())`,
      { version: int(SCHEMA_VERSION) },
    );
    return 1;
  }

  /**
   * Our tables as they are against the DDL: a column someone dropped, added as
   * another type or renamed stops the run here, named, rather than failing a
   * MERGE halfway (columns added by someone else are left alone).
   */
  private async checkDrift(): Promise<void> {
    const rows = await this.client.query(
      'reading our table schemas',
      `SELECT table_name, column_name, data_type
       FROM \`${this.ds.project}.${this.ds.dataset}\`.INFORMATION_SCHEMA.COLUMNS`,
    );
    const actual = new Map(rows.map((r) => [`${String(r.table_name)}.${String(r.column_name)}`, String(r.data_type)]));
    const problems: string[] = [];
    for (const [table, columns] of expectedColumns(readFileSync(DDL_FILE, 'utf8'))) {
      for (const [column, type] of columns) {
        const found = actual.get(`${table}.${column}`);
        if (found === undefined) problems.push(`${table}.${column} is missing (expected ${type})`);
        else if (found !== type) problems.push(`${table}.${column} is ${found}, expected ${type}`);
      }
    }
    if (problems.length > 0) {
      throw new RunFailedError(
        `the BigQuery dataset ${this.ds.project}.${this.ds.dataset} has drifted from our schema (sql/bigquery/ddl.sql): ` +
          `${problems.join('; ')}. Restore these columns, or load into a new dataset`,
      );
    }
  }

  async getCheckpoint(pipeline: string): Promise<number | null> {
    const rows = await this.client.query(
      'reading the checkpoint',
      `SELECT UNIX_MILLIS(checkpoint) AS ms FROM ${this.t('etl_state')} WHERE pipeline = @pipeline`,
      { pipeline: text(pipeline) },
    );
    return rows[0] ? Number(rows[0].ms) : null;
  }

  async loadedFiles(pipeline: string): Promise<Map<string, string>> {
    const rows = await this.client.query(
      'reading the file ledger',
      `SELECT path, sha256 FROM ${this.t('etl_file_ledger')} WHERE pipeline = @pipeline`,
      { pipeline: text(pipeline) },
    );
    return new Map(rows.map((r) => [String(r.path), String(r.sha256)]));
  }

  async loadedSpan(pipeline: string): Promise<{ fromMs: number; toMs: number } | null> {
    const [row] = await this.client.query(
      'reading the loaded span',
      `SELECT UNIX_MILLIS(MIN(window_start)) AS from_ms, UNIX_MILLIS(MAX(window_end)) AS to_ms
       FROM ${this.t('etl_run_window')} WHERE pipeline = @pipeline AND checks_passed AND window_start IS NOT NULL`,
      { pipeline: text(pipeline) },
    );
    return row?.from_ms == null ? null : { fromMs: Number(row.from_ms), toMs: Number(row.to_ms) };
  }

  async lastWindow(pipeline: string): Promise<{ fromMs: number; toMs: number } | null> {
    const [row] = await this.client.query(
      'reading the last window',
      `SELECT UNIX_MILLIS(window_start) AS from_ms, UNIX_MILLIS(window_end) AS to_ms FROM ${this.t('etl_run_window')}
       WHERE pipeline = @pipeline AND window_start IS NOT NULL ORDER BY committed_at DESC LIMIT 1`,
      { pipeline: text(pipeline) },
    );
    return row ? { fromMs: Number(row.from_ms), toMs: Number(row.to_ms) } : null;
  }

  async completedWindows(pipeline: string, command: string): Promise<Set<string>> {
    const rows = await this.client.query(
      'reading completed windows',
      `SELECT DISTINCT UNIX_MILLIS(w.window_start) AS s, UNIX_MILLIS(w.window_end) AS e
       FROM ${this.t('etl_run_window')} w JOIN ${this.t('etl_run')} r ON r.run_id = w.run_id
       WHERE w.pipeline = @pipeline AND r.command = @command AND w.checks_passed AND w.window_start IS NOT NULL`,
      { pipeline: text(pipeline), command: text(command) },
    );
    return new Set(rows.map((r) => `${Number(r.s)}-${Number(r.e)}`));
  }

  async startRun(run: RunRecord): Promise<void> {
    await this.client.query(
      'recording the run start',
      `INSERT INTO ${this.t('etl_run')} (run_id, pipeline, command, status, started_at)
       VALUES (@run_id, @pipeline, @command, 'running', @started)`,
      {
        run_id: text(run.runId),
        pipeline: text(run.pipeline),
        command: text(run.command),
        started: instant(run.startedMs),
      },
    );
  }

  async abandonUnfinishedRuns(pipeline: string, nowMs: number): Promise<void> {
    await this.client.query(
      'marking abandoned runs',
      `UPDATE ${this.t('etl_run')} SET status = 'abandoned', finished_at = @now,
         error = 'the process ended before the run finished (crash, kill or power loss); later runs redo its work'
       WHERE pipeline = @pipeline AND status = 'running'`,
      { pipeline: text(pipeline), now: instant(nowMs) },
    );
  }

  async finishRun(runId: string, status: RunStatus, error: string | null, finishedMs: number): Promise<void> {
    await this.client.query(
      'recording the run end',
      `UPDATE ${this.t('etl_run')} SET status = @status, error = @error, finished_at = @finished WHERE run_id = @run_id`,
      { run_id: text(runId), status: text(status), error: text(error), finished: instant(finishedMs) },
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
    const params: Record<string, BigQueryParam> = {
      run_id: text(runId),
      pipeline: text(pipeline),
      checked_at: instant(nowMs),
    };
    const rows = results.map((check, i) => {
      params[`name_${i}`] = text(check.name);
      params[`scope_${i}`] = text(check.scope);
      params[`status_${i}`] = text(check.status);
      params[`blocking_${i}`] = bool(check.blocking);
      params[`observed_${i}`] = float(
        check.observed === null || !Number.isFinite(check.observed) ? null : check.observed,
      );
      params[`expected_${i}`] = text(check.expected);
      params[`message_${i}`] = text(check.message);
      params[`bucket_${i}`] = instant(check.bucket ?? null);
      return `(@run_id, @pipeline, @name_${i}, @scope_${i}, @status_${i}, @blocking_${i}, @observed_${i}, @expected_${i},
        @message_${i}, @checked_at, @bucket_${i})`;
    });
    await this.client.query(
      'recording check results',
      `INSERT INTO ${this.t('dq_check_result')}
         (run_id, pipeline, check_name, scope, status, blocking, observed, expected, message, checked_at, bucket)
       VALUES ${rows.join(',\n')}`,
      params,
    );
  }
}

/** Each table's columns and types as our DDL declares them (one column per line, as the file is written). */
export function expectedColumns(ddl: string): Map<string, [string, string][]> {
  const tables = new Map<string, [string, string][]>();
  for (const match of ddl.matchAll(/CREATE TABLE IF NOT EXISTS `\{\{dataset\}\}\.(\w+)` \(([\s\S]*?)\n\)/g)) {
    const columns = [...match[2]!.matchAll(/^\s+(\w+)\s+([A-Z0-9]+)/gm)].map((c) => [c[1]!, c[2]!] as [string, string]);
    tables.set(match[1]!, columns);
  }
  return tables;
}
