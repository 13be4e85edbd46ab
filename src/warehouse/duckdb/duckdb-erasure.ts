import { listValue } from '@duckdb/node-api';
import type { ErasureOutcome, ErasureRequest } from '../warehouse.js';
import { iso, type SqlRunner } from './duckdb-connection.js';
import { markPartitionsPendingSql, MARK_DIMENSIONS_PENDING_SQL } from './duckdb-sql.js';

/**
 * Erasure on DuckDB. `$ids` holds every form the user's id may be stored in.
 * Facts and policy rows go by the keys of the user's dim_user versions; rejects
 * by a payload holding one of the ids as a JSON string (a masked payload holds
 * the pseudonym). Facts and rejects of every pipeline go: the person is erased
 * from the warehouse, not from one pipeline's view of it.
 */
const USER_KEYS = 'SELECT user_key FROM dim_user WHERE list_contains($ids, user_id)';

/** In deletion order: the id index and the facts first, while dim_user still maps the ids to their keys. */
const ERASED = {
  // Out of the index too, so the user's re-sent events load again (as the unknown member).
  etl_event_id: `event_id IN (SELECT event_id FROM fact_ai_event WHERE user_key IN (${USER_KEYS}))`,
  fact_policy_evaluation: `user_key IN (${USER_KEYS})`,
  fact_ai_event: `user_key IN (${USER_KEYS})`,
  dim_user: 'list_contains($ids, user_id)',
  etl_rejected_event: 'list_bool_or(list_transform($ids, lambda id: contains(payload, to_json(id)::VARCHAR)))',
};

const USER_DATE_KEYS = `SELECT date_key FROM fact_ai_event WHERE ${ERASED.fact_ai_event}
  UNION SELECT date_key FROM fact_policy_evaluation WHERE ${ERASED.fact_policy_evaluation}`;

export async function eraseUser(runner: SqlRunner, request: ErasureRequest): Promise<ErasureOutcome> {
  const params = { ids: listValue(request.userIds), pipeline: request.pipeline, run_id: request.runId };
  return runner.transaction(async () => {
    const dates = await runner.rows(
      `SELECT strftime(strptime(date_key::VARCHAR, '%Y%m%d'), '%Y-%m-%d') AS day FROM (${USER_DATE_KEYS}) ORDER BY 1`,
      params,
    );
    // Every pipeline's lake rewrites these partitions and the dimensions without the user (publish.ts).
    await runner.exec(markPartitionsPendingSql(USER_DATE_KEYS), params);
    await runner.exec(MARK_DIMENSIONS_PENDING_SQL, params);
    const rows: Record<string, number> = {};
    for (const [table, where] of Object.entries(ERASED)) {
      rows[table] = await runner.execCount(`DELETE FROM ${table} WHERE ${where}`, params);
    }
    await runner.exec(
      `INSERT INTO etl_erasure VALUES ($run_id, $pipeline, $subject, $requested_by, $now::TIMESTAMPTZ, $rows::JSON, $partitions)`,
      {
        ...params,
        subject: request.subjectHash,
        requested_by: request.requestedBy,
        now: iso(request.nowMs),
        rows: JSON.stringify(rows),
        partitions: dates.length,
      },
    );
    return { rows, eventDates: dates.map((d) => String(d.day)) };
  });
}
