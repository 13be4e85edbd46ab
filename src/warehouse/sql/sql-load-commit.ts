import { bool, instant, int, text, type Driver, type Fence, type SqlParams } from '../driver.js';
import type { LoadCounts, LoadRequest, WarehouseState } from '../warehouse.js';
import { commitStatements } from './sql-load.js';

/** What a load commits once its blocking checks are judged. */
export interface LoadCommit {
  counts: LoadCounts;
  /** Unknown source fields the load inserted, with how many records carried each. */
  drift: { field: string; count: number }[];
  checksPassed: boolean;
  checkpointMoved: boolean;
  /** `performance.now()` when the load began: its duration is recorded. */
  started: number;
}

/**
 * The last step of a load, inside its transaction (after `fence`): the
 * checkpoint (never backwards), the file ledger (only when the checks
 * passed), the unknown fields and the run's window record, all together.
 */
export async function commitLoad(
  driver: Driver,
  state: Pick<WarehouseState, 'getCheckpoint'>,
  request: LoadRequest,
  commit: LoadCommit,
  fence?: Fence,
): Promise<void> {
  const { manifest } = request;
  const { counts, drift } = commit;
  const files = commit.checksPassed ? manifest.sourceFiles : [];
  const params: SqlParams = {
    pipeline: text(request.pipeline),
    run_id: text(request.runId),
    now: instant(request.nowMs),
    seq: int(request.seq),
    window_start: instant(manifest.window?.startMs ?? null),
    window_end: instant(manifest.window?.endMs ?? null),
    source_count: int(manifest.sourceCount),
    read: int(counts.read),
    inserted: int(counts.inserted),
    already_present: int(counts.alreadyPresent),
    in_batch_duplicates: int(counts.inBatchDuplicates),
    conflicts: int(counts.conflicts),
    rejected: int(counts.rejected),
    out_of_window: int(counts.outOfWindow),
    policy_rows: int(counts.policyRows),
    checkpoint_moved: bool(commit.checkpointMoved),
    checks_passed: bool(commit.checksPassed),
    drift: text(JSON.stringify(manifest.drift)),
    extract_ms: int(request.extractMs),
    load_ms: int(Math.round(performance.now() - commit.started)),
  };
  if (commit.checkpointMoved) {
    const old = await state.getCheckpoint(request.pipeline);
    // The checkpoint never moves backwards (decision 5).
    params.checkpoint = instant(Math.max(old ?? request.checkpointTo!, request.checkpointTo!));
  }
  drift.forEach((field, i) => {
    params[`drift_field_${i}`] = text(field.field);
    params[`drift_count_${i}`] = int(field.count);
    params[`drift_type_${i}`] = text(manifest.drift[field.field]?.type ?? 'unknown');
  });
  files.forEach((file, i) => {
    params[`path_${i}`] = text(file.path);
    params[`size_${i}`] = int(file.size);
    params[`sha256_${i}`] = text(file.sha256);
  });
  await driver.runTogether(
    'committing the load',
    commitStatements(driver.dialect, {
      checkpoint: commit.checkpointMoved,
      files: files.length,
      driftFields: drift.length,
    }),
    params,
    fence,
  );
}
