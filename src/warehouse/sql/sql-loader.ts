import { storedIdsSql } from '../../checks/check-sql.js';
import type { ReferenceData } from '../../reference/reference-data.js';
import { fault, failpoint } from '../../util/failpoint.js';
import type { Dialect } from '../dialect.js';
import { instant, int, text, type Driver, type Fence, type SqlParams } from '../driver.js';
import { accountedRecords, fileCompleteness } from '../file-completeness.js';
import type { LoadCounts, LoadFacts, LoadOutcome, LoadRequest, WarehouseLoad } from '../warehouse.js';
import type { SqlChecks } from './sql-checks.js';
import type { SqlDimensions } from './sql-dimensions.js';
import { commitLoad } from './sql-load-commit.js';
import {
  batchStatsSql,
  insertRejectsSql,
  loseOneRejectSql,
  markLakePendingSql,
  markReplayedSql,
  mergeQueries,
  rejectKeyText,
  stagingTables,
  storedRejectsSql,
  type StagingTables,
} from './sql-load.js';
import type { SqlState } from './sql-state.js';

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The load role on every engine: a package's order of work (stage, measure,
 * merge, quarantine, checks, commit) written once against the driver, and
 * reference data into the SCD2 dimensions.
 */
export class SqlLoader implements WarehouseLoad {
  private readonly dialect: Dialect;

  /** `fence`: the run lock's check, run inside every transaction that changes state. */
  constructor(
    private readonly driver: Driver,
    private readonly checks: SqlChecks,
    private readonly state: SqlState,
    private readonly dims: SqlDimensions,
    private readonly fence?: Fence,
  ) {
    this.dialect = driver.dialect;
  }

  async loadPackage(request: LoadRequest): Promise<LoadOutcome> {
    const started = performance.now();
    const staging = stagingTables(request.pipeline, request.runId, request.seq);
    const { files } = request.manifest;
    const base = { pipeline: text(request.pipeline), run_id: text(request.runId), now: instant(request.nowMs) };
    try {
      await this.driver.stage(request, staging);
      const stageMs = Math.round(performance.now() - started);
      failpoint('load:after-staging');
      let stats = { rows: 0, distinctIds: 0, conflictingIds: 0 };
      let eventSpan: LoadOutcome['eventSpan'] = null;
      const hasPolicies = files.policies.length > 0;
      const merge = mergeQueries(this.dialect, staging, {
        hasPolicies,
        forceUpdate: request.forceUpdate ?? false,
        // AETL_FAULT: the lookup misses the loaded versions, as a broken anti-join would; an insert goes missing.
        missKnown: fault('load:miss-known'),
        loseInsert: fault('load:lose-insert'),
      });
      let mergeParams: SqlParams = base;
      if (files.events.length > 0) {
        const [s] = await this.driver.run('measuring the batch', batchStatsSql(this.dialect, staging.events));
        stats = {
          rows: Number(s!.row_count),
          distinctIds: Number(s!.distinct_ids),
          conflictingIds: Number(s!.conflicting_ids),
        };
        eventSpan = { fromMs: Number(s!.min_ts_ms), toMs: Number(s!.max_ts_ms) + 1 };
        const markDimensions = this.dimensionsMark(request.pipeline, request.runId);
        await this.dims.insertInferredMembers(
          { events: staging.events, policies: hasPolicies ? staging.policies : null },
          markDimensions,
        );
        await this.dims.insertMissingDates(eventSpan.fromMs, eventSpan.toMs - 1, markDimensions);
        mergeParams = {
          ...base,
          seq: int(request.seq),
          lo_ts: instant(eventSpan.fromMs),
          hi_ts: instant(eventSpan.toMs),
        };
        for (const sql of merge.prepare) await this.driver.run('preparing the merge', sql);
      }
      return await this.driver.transaction(async () => {
        let loaded = { inserted: 0, same: 0, conflicts: 0, replaced: 0, policyRows: 0 };
        let stored = { factRows: 0, present: 0 };
        let drift: { field: string; count: number }[] = [];
        if (files.events.length > 0) {
          await this.driver.runTogether('merging the batch', merge.statements, mergeParams, this.fence);
          failpoint('load:after-facts');
          const [row] = await this.driver.run('counting the merge', merge.counts, mergeParams);
          loaded = {
            inserted: Number(row!.inserted),
            same: Number(row!.same),
            conflicts: Number(row!.conflicts),
            replaced: Number(row!.replaced),
            policyRows: Number(row!.policy_rows),
          };
          const ids = `SELECT event_id, date_key FROM ${this.dialect.table(staging.winner)}`;
          const [s] = await this.checks.query(storedIdsSql(this.dialect, ids), {});
          stored = { factRows: Number(s!.fact_rows), present: Number(s!.present) };
          if (Object.keys(request.manifest.drift).length > 0) {
            const fields = await this.driver.run('counting unknown fields', merge.drift);
            drift = fields.map((f) => ({ field: String(f.field), count: Number(f.n) }));
          }
        }
        const rejected = await this.quarantine(request, staging, base);
        const counts: LoadCounts = {
          read: request.manifest.counts.read,
          inserted: loaded.inserted,
          // A later, different version of a loaded event is kept out (first loaded wins) and counted here.
          alreadyPresent: loaded.same + loaded.conflicts,
          inBatchDuplicates: stats.rows - stats.distinctIds,
          conflicts: stats.conflictingIds + loaded.conflicts + loaded.replaced,
          rejected,
          outOfWindow: request.manifest.counts.outOfWindow,
          policyRows: loaded.policyRows,
        };
        const duplicateIdsInRange = stored.factRows - stored.present;
        const completeness = await this.completeness(request, counts, stored.present);
        const checks = request.blockingChecks({ counts, duplicateIdsInRange, completeness });
        await this.checks.writeCheckResults(request.pipeline, request.runId, checks, request.nowMs);
        failpoint('load:before-checkpoint');
        const checksPassed = !checks.some((c) => c.blocking && c.status === 'fail');
        const checkpointMoved = checksPassed && request.checkpointTo !== null;
        const commit = { counts, drift, checksPassed, checkpointMoved, started };
        await commitLoad(this.driver, this.state, request, commit, this.fence);
        const accounted = accountedRecords(counts, stored.present);
        const replaced = loaded.replaced;
        return { counts, checks, checksPassed, checkpointMoved, eventSpan, replaced, accounted, stageMs };
      });
    } finally {
      await this.driver.dropStaging(request, staging);
    }
  }

  /**
   * Marks the rejects a replay loaded again (never deleting them: the quarantine is the record of what
   * arrived), then adds this package's rejects; returns how many of them are stored, measured.
   */
  private async quarantine(request: LoadRequest, staging: StagingTables, base: SqlParams): Promise<number> {
    const replayed = request.replayedRejects ?? [];
    if (replayed.length > 0) {
      await this.driver.run('marking replayed rejects', markReplayedSql(this.dialect), {
        ...base,
        keys: text(JSON.stringify(replayed.map((k) => rejectKeyText(k)))),
      });
    }
    if (request.manifest.files.rejects.length === 0) return 0;
    const window = request.manifest.window;
    await this.driver.run('quarantining rejects', insertRejectsSql(this.dialect, staging.rejects), {
      ...base,
      read_from: instant(window ? window.startMs : null),
      read_to: instant(window ? window.endMs : null),
    });
    if (fault('load:lose-reject')) await this.driver.run('losing a reject', loseOneRejectSql(this.dialect), base);
    const [n] = await this.driver.run(
      'counting the quarantined',
      storedRejectsSql(this.dialect, staging.rejects),
      base,
    );
    return Number(n!.n);
  }

  /** Window loads: the source's count against present in the window; file loads: see fileCompleteness. */
  private async completeness(
    request: LoadRequest,
    counts: LoadCounts,
    batchPresent: number,
  ): Promise<LoadFacts['completeness']> {
    const { window, sourceCount } = request.manifest;
    if (window && sourceCount !== null) {
      return {
        expected: sourceCount,
        present: await this.checks.presentCount(request.pipeline, window.startMs, window.endMs),
        scope: `window ${iso(window.startMs)} .. ${iso(window.endMs)}`,
      };
    }
    return fileCompleteness(request, counts, batchPresent);
  }

  /** SCD2 dimensions from reference data; if that changed them, the dimensions' lake files are rewritten after. */
  syncReference(reference: ReferenceData, pipeline: string, runId: string, nowMs: number): Promise<number> {
    return this.driver.transaction(() =>
      this.dims.syncReference(reference, nowMs, this.dimensionsMark(pipeline, runId)),
    );
  }

  /**
   * Marks every pipeline's dimension files for the lake, once, when first called: before a dimension
   * changes, as a kill between statements (each commits alone on BigQuery) must leave a mark, never
   * a change without one.
   */
  private dimensionsMark(pipeline: string, runId: string): () => Promise<void> {
    let marked = false;
    return async () => {
      if (marked) return;
      marked = true;
      await this.driver.run('marking the dimensions for the lake', markLakePendingSql(this.dialect, null), {
        pipeline: text(pipeline),
        run_id: text(runId),
      });
    };
  }

  async erasedSubjects(): Promise<string[]> {
    // A read-only open (dry run) may predate the migration that made the table.
    if (!(await this.driver.tableExists('etl_erasure'))) return [];
    const rows = await this.driver.run(
      'reading erased users',
      `SELECT DISTINCT subject_hash FROM ${this.dialect.table('etl_erasure')}`,
    );
    return rows.map((r) => String(r.subject_hash));
  }
}
