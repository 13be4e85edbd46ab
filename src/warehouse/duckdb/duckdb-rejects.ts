import type { RejectFilter, RejectKey, StoredReject } from '../warehouse.js';
import { plainNumbers } from '../warehouse.js';
import type { Params, SqlRunner } from './duckdb-driver.js';

/**
 * The quarantine on DuckDB for `aetl rejects`: listing it, reading what a
 * replay re-validates, and marking the records a replay loaded (never
 * deleting them: the quarantine is the record of what arrived).
 */
export async function listRejects(
  runner: SqlRunner,
  pipeline: string,
  filter: RejectFilter,
): Promise<Record<string, unknown>[]> {
  const rows = await runner.rows(
    `SELECT run_id, rejected_at::VARCHAR AS rejected_at, source_location, source_ref, event_id,
            reasons->>'$[0].path' AS field, reasons->>'$[0].message' AS reason, json_array_length(reasons) AS reasons,
            payload_bytes, payload_truncated, replayed_at::VARCHAR AS replayed_at, replayed_run_id
     FROM etl_rejected_event
     WHERE pipeline = $pipeline
       AND ($run_id IS NULL OR run_id = $run_id)
       AND ($reason IS NULL OR contains(lower(reasons::VARCHAR), lower($reason)))
       AND ($replayed OR replayed_at IS NULL)
     ORDER BY rejected_at DESC, source_location, source_ref
     LIMIT $limit`,
    { pipeline, run_id: filter.runId, reason: filter.reason, replayed: filter.replayed, limit: filter.limit },
  );
  return rows.map(plainNumbers);
}

/** One page of the quarantine in key order (keyset paging: memory stays bounded however many there are). */
export async function rejectsToReplay(
  runner: SqlRunner,
  pipeline: string,
  runId: string | null,
  after: RejectKey | null,
  limit: number,
): Promise<StoredReject[]> {
  const rows = await runner.rows(
    `SELECT source_location, source_ref, payload_hash, payload, reasons::VARCHAR AS reasons, payload_truncated
     FROM etl_rejected_event
     WHERE pipeline = $pipeline AND replayed_at IS NULL AND ($run_id IS NULL OR run_id = $run_id)
       AND ($after_location IS NULL OR (source_location, payload_hash) > ($after_location, $after_hash))
     ORDER BY source_location, payload_hash
     LIMIT $limit`,
    {
      pipeline,
      run_id: runId,
      after_location: after?.sourceLocation ?? null,
      after_hash: after?.payloadHash ?? null,
      limit,
    },
  );
  return rows.map((r) => ({
    sourceLocation: String(r.source_location),
    sourceRef: String(r.source_ref),
    payloadHash: String(r.payload_hash),
    payload: String(r.payload),
    reasonPaths: (JSON.parse(String(r.reasons)) as { path: string }[]).map((reason) => reason.path),
    truncated: r.payload_truncated === true,
  }));
}

/** Marks replayed rejects inside the load's transaction: the keys are bound as one JSON list. */
export async function markReplayed(runner: SqlRunner, keys: RejectKey[], params: Params): Promise<void> {
  if (keys.length === 0) return;
  await runner.exec(
    `UPDATE etl_rejected_event r SET replayed_at = $now::TIMESTAMPTZ, replayed_run_id = $run_id
     FROM (SELECT unnest(from_json($keys, '[{"l":"VARCHAR","h":"VARCHAR"}]'), recursive := true)) k
     WHERE r.pipeline = $pipeline AND r.source_location = k.l AND r.payload_hash = k.h AND r.replayed_at IS NULL`,
    { ...params, keys: JSON.stringify(keys.map((k) => ({ l: k.sourceLocation, h: k.payloadHash }))) },
  );
}
