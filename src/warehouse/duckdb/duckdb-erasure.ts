import { listValue } from '@duckdb/node-api';
import type { ErasureOutcome, ErasureRequest } from '../warehouse.js';
import { iso, type SqlRunner } from './duckdb-driver.js';
import { markLakePendingSql } from '../sql/sql-load.js';
import { duckdbDialect } from './duckdb-dialect.js';

/**
 * Erasure on DuckDB. `$ids` holds every form the user's id may be stored in.
 * Facts and policy rows go by the keys of the user's dim_user versions, their
 * conflicts by the facts' event ids; rejects by what their payload says once
 * parsed (REJECT_NAMES_USER). Facts and rejects of every pipeline go: the
 * person is erased from the warehouse, not from one pipeline's view of it.
 */
const USER_KEYS = 'SELECT user_key FROM dim_user WHERE list_contains($ids, user_id)';

/** Trimmed as the contract and `forget` trim ids (DuckDB's one-argument trim keeps tabs and newlines). */
const TRIMMED = (text: string) => `trim(${text}, E' \\t\\n\\r')`;
const IS_ID = (text: string) => `list_contains($ids, ${TRIMMED(text)})`;

/** Every complete JSON string in a text (escapes included), and the bare value after a user key. */
const STRING_TOKEN = String.raw`'"(?:[^"\\]|\\.)*"'`;
const BARE_USER_VALUE = String.raw`'"user(?:_id)?"\s*:\s*([^\s",}\]]+)'`;

/**
 * A rejected payload names the user, in any JSON spelling (`jos\u00e9`,
 * `\u006aosé`): JSON's own decoding makes them one string before comparing.
 * Valid JSON: a user field of either shape (`user_id`, `user`) holding the id
 * as any scalar (`42` too), or any string value anywhere equal to it (metadata
 * included). Not JSON (a broken line, a payload cut at the size limit): any
 * complete JSON string token of the text, decoded, or a bare value after a
 * user key; an id cut in half by the damage cannot be recognised.
 * json_tree gets 'null' for text that is not JSON, since DuckDB evaluates the
 * subquery for every row whatever the CASE.
 */
const REJECT_NAMES_USER = `CASE WHEN json_valid(payload) THEN
    ${IS_ID(`json_extract_string(payload, '$.user_id')`)} OR ${IS_ID(`json_extract_string(payload, '$.user')`)}
    OR EXISTS (SELECT 1 FROM json_tree(CASE WHEN json_valid(payload) THEN payload ELSE 'null' END) t
               WHERE t.type = 'VARCHAR' AND ${IS_ID(`t.value ->> '$'`)})
  ELSE list_has_any($ids, list_transform(
    regexp_extract_all(payload, ${STRING_TOKEN}) || regexp_extract_all(payload, ${BARE_USER_VALUE}, 1),
    lambda token: ${TRIMMED(`CASE WHEN json_valid(token) THEN json_extract_string(token, '$') END`)}))
  END`;

const USER_EVENT_IDS = `SELECT event_id FROM fact_ai_event WHERE user_key IN (${USER_KEYS})`;

/** In deletion order: what names the user's events first, while dim_user still maps the ids to their keys. */
const ERASED = {
  // Out of the id index too, so the user's re-sent events load again (as the unknown member).
  etl_event_id: `event_id IN (${USER_EVENT_IDS})`,
  etl_conflict: `event_id IN (${USER_EVENT_IDS})`,
  fact_policy_evaluation: `user_key IN (${USER_KEYS})`,
  fact_ai_event: `user_key IN (${USER_KEYS})`,
  dim_user: 'list_contains($ids, user_id)',
  // The reject's event_id and reasons come from its payload: a payload that names the user takes them along.
  etl_rejected_event: REJECT_NAMES_USER,
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
    await runner.exec(markLakePendingSql(duckdbDialect, USER_DATE_KEYS), params);
    await runner.exec(markLakePendingSql(duckdbDialect, null), params);
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
    const pipelines = await runner.rows(
      'SELECT $pipeline AS p UNION SELECT DISTINCT pipeline FROM etl_run ORDER BY 1',
      params,
    );
    return { rows, eventDates: dates.map((d) => String(d.day)), pipelines: pipelines.map((p) => String(p.p)) };
  });
}
