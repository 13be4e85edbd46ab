import {
  forgetVerifiedHoursSql,
  dimensionsPrintSql,
  hourPrintsSql,
  presentCountSql,
  renewVerifiedDimensionsSql,
} from '../../checks/check-sql.js';
import { HOUR_MS } from '../../util/dates.js';
import { redact } from '../../util/redact.js';
import type { Dialect } from '../dialect.js';
import { bool, float, instant, int, int64, text, typedParams, type SqlEngine } from '../driver.js';
import type { CheckResult, HourPrint, WarehouseChecks } from '../warehouse.js';
import { SqlDrift } from './sql-drift.js';
import { insertRowsSql } from './sql-rows.js';

/** Rows per statement: Snowflake binds each value (BigQuery and DuckDB get one parameter). */
const CHECK_ROWS_PER_INSERT = 500;

const iso = (ms: number) => new Date(ms).toISOString();

/** The whole hours a span meets, as `from` and `to` (verified hours are recorded per hour). */
const wholeHours = (span: { fromMs: number; toMs: number }) => ({
  from: iso(Math.floor(span.fromMs / HOUR_MS) * HOUR_MS),
  to: iso(Math.ceil(span.toMs / HOUR_MS) * HOUR_MS),
});

/** The checks role on every engine: check SQL run with plain values, what they measure, and their results. */
export class SqlChecks implements WarehouseChecks {
  readonly dialect: Dialect;
  private readonly drift: SqlDrift;

  constructor(private readonly engine: SqlEngine) {
    this.dialect = engine.dialect;
    this.drift = new SqlDrift(engine);
  }

  query(sql: string, params: Record<string, string | number | null>): Promise<Record<string, unknown>[]> {
    return this.engine.run('running a check', sql, typedParams(params));
  }

  async presentCount(pipeline: string, fromMs: number, toMs: number): Promise<number> {
    const [row] = await this.query(presentCountSql(this.dialect), { pipeline, from: iso(fromMs), to: iso(toMs) });
    return Number(row!.present);
  }

  newDriftFields(pipeline: string, runId: string): Promise<{ field: string; count: number; type: string }[]> {
    return this.drift.firstSeenBy(pipeline, runId);
  }

  async hourPrints(span: { fromMs: number; toMs: number }): Promise<HourPrint[]> {
    const rows = await this.query(hourPrintsSql(this.dialect), wholeHours(span));
    return rows.map((r) => ({
      hourMs: Number(r.hour_ms),
      facts: int64(r.facts),
      loadedSum: int64(r.loaded_sum),
      loadedMaxMs: Number(r.loaded_max_ms),
      firstMs: Number(r.first_ms),
      lastMs: Number(r.last_ms),
      dimensions: int64(r.dimensions),
    }));
  }

  async dimensionsPrint(): Promise<bigint> {
    const [row] = await this.query(dimensionsPrintSql(this.dialect), {});
    return int64(row!.n);
  }

  async markVerifiedHours(
    span: { fromMs: number; toMs: number },
    passed: boolean,
    prints: readonly HourPrint[],
    runId: string,
    nowMs: number,
  ): Promise<void> {
    const params = typedParams(wholeHours(span));
    await this.engine.run('forgetting verified hours', forgetVerifiedHoursSql(this.dialect), params);
    const verified = passed ? prints.filter((h) => h.firstMs >= span.fromMs && h.lastMs < span.toMs) : [];
    for (let i = 0; i < verified.length; i += CHECK_ROWS_PER_INSERT) {
      const rows = verified.slice(i, i + CHECK_ROWS_PER_INSERT).map((h) => ({
        hour: instant(h.hourMs),
        facts: int(h.facts),
        loaded_sum: int(h.loadedSum),
        loaded_max: instant(h.loadedMaxMs),
        dimensions: int(h.dimensions),
        verified_at: instant(nowMs),
        run_id: text(runId),
      }));
      const { sql, params: values } = insertRowsSql(this.dialect, 'dq_verified_hour', rows);
      await this.engine.run('recording verified hours', sql, values);
    }
  }

  async renewVerifiedDimensions(span: { fromMs: number; toMs: number }, dimensions: bigint): Promise<void> {
    await this.engine.run('renewing the dimensions of verified hours', renewVerifiedDimensionsSql(this.dialect), {
      ...typedParams(wholeHours(span)),
      dimensions: int(dimensions),
    });
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
    const { sql, params } = insertRowsSql(this.dialect, 'dq_check_result', rows);
    await this.engine.run('recording check results', sql, params);
  }
}
