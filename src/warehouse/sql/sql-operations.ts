import { failpoint } from '../../util/failpoint.js';
import { qualifiedTables } from '../dialect.js';
import { text, type Driver, type Fence, type JsonPage, type SqlParams } from '../driver.js';
import type {
  ErasureOutcome,
  ErasureRequest,
  RejectFilter,
  RejectKey,
  RetentionItem,
  StatusReport,
  StoredReject,
  WarehouseOperations,
  WarehouseState,
} from '../warehouse.js';
import type { SqlDimensions } from './sql-dimensions.js';
import { eraseUser } from './sql-erasure.js';
import { SqlRejects } from './sql-rejects.js';
import { applyRetention, retentionPlan } from './sql-retention.js';
import { SqlStatus } from './sql-status.js';

/** The operations role on every engine: the day-2 commands, each written once against the driver. */
export class SqlOperations implements WarehouseOperations {
  private readonly rejects: SqlRejects;
  private readonly statusReport: SqlStatus;

  /** `fence`: the run lock's check, run inside every transaction that changes state. */
  constructor(
    private readonly driver: Driver,
    private readonly state: Pick<WarehouseState, 'getCheckpoint'>,
    private readonly dims: SqlDimensions,
    private readonly fence?: Fence,
  ) {
    this.rejects = new SqlRejects(driver);
    this.statusReport = new SqlStatus(driver);
  }

  async status(pipeline: string, lastRuns: number): Promise<StatusReport> {
    return this.statusReport.report(pipeline, lastRuns, await this.state.getCheckpoint(pipeline));
  }

  tableCounts(): Promise<Record<string, number>> {
    return this.statusReport.tables();
  }

  listRejects(pipeline: string, filter: RejectFilter): Promise<Record<string, unknown>[]> {
    return this.rejects.list(pipeline, filter);
  }

  rejectsToReplay(
    pipeline: string,
    runId: string | null,
    after: RejectKey | null,
    limit: number,
  ): Promise<StoredReject[]> {
    return this.rejects.toReplay(pipeline, runId, after, limit);
  }

  retentionPlan(pipeline: string, cutoffMs: number): Promise<RetentionItem[]> {
    return retentionPlan(this.driver, pipeline, cutoffMs);
  }

  async applyRetention(
    pipeline: string,
    runId: string,
    cutoffMs: number,
    archiveDir: string | null,
    nowMs: number,
  ): Promise<RetentionItem[]> {
    const plan = await retentionPlan(this.driver, pipeline, cutoffMs);
    return applyRetention(this.driver, plan, { pipeline, runId, cutoffMs, archiveDir, nowMs }, this.fence);
  }

  async eraseUser(request: ErasureRequest): Promise<ErasureOutcome> {
    const outcome = await eraseUser(this.driver, request, this.fence);
    // What killed runs of any pipeline left staged may hold the user too (we hold the run lock).
    for (const pipeline of outcome.pipelines) await this.driver.dropLeftovers(pipeline);
    return outcome;
  }

  /**
   * Re-keys facts to the member versions valid at their event times; marks the partitions it touches.
   * Behind the run lock's `fence` like every change: a holder whose lease was taken over commits nothing.
   */
  rebuildDimensions(pipeline: string, runId: string): Promise<number> {
    const rekey = this.dims.rekeyQueries();
    return this.driver.transaction(async () => {
      const [row] = await this.driver.run('counting facts to re-key', rekey.count);
      failpoint('rebuild-dims:before-rekey');
      await this.driver.runTogether(
        're-keying facts',
        rekey.statements,
        { pipeline: text(pipeline), run_id: text(runId) },
        this.fence,
      );
      return Number(row!.n);
    });
  }

  analystQuery(sql: string, params: SqlParams, pageRows: number): AsyncIterable<JsonPage> {
    const qualified = qualifiedTables(sql, this.driver.dialect);
    return this.driver.streamJson('running an analyst query', qualified, params, pageRows);
  }
}
