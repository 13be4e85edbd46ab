import type { Dialect } from '../dialect.js';
import { instant, int, int64, text, type Driver, type Fence, type SqlParams } from '../driver.js';
import type { ErasureOutcome, ErasureRequest } from '../warehouse.js';
import { isoDayOfKey } from '../../util/dates.js';
import { boundDateKeysSql, recomputeAggregatesSql } from './sql-aggregates.js';
import { markLakePendingSql, pipelinesSql } from './sql-load.js';

/**
 * `aetl forget`, written once for every engine. The user's id is bound in
 * every form the warehouse may hold it (`id_0`, `id_1`: raw, pseudonym).
 * Facts and policy rows go by the keys of the user's dim_user versions, the
 * id index and conflicts by the facts' event ids, rejects by what their
 * payload says once decoded. Rows of every pipeline go: the person is erased
 * from the warehouse, not from one pipeline's view of it.
 */

/** JSON's whitespace (between a key and its colon), and what RE2's `\s` stands for. */
const JSON_SPACE = ' \t\n\r';
const SPACE = ' \t\n\f\r';
/** Every complete JSON string in a text, escapes included, with the colon after it when it is a key. */
const STRING_TOKEN = String.raw`"(?:[^"\\]|\\.)*"` + `(?:[${JSON_SPACE}]*:)?`;
/** A bare (unquoted) value after a user key, and the key before it. `]` first: a literal in RE2 and POSIX. */
const USER_KEY = `"user(?:_id)?"[${SPACE}]*:[${SPACE}]*`;
const BARE_USER_VALUE = `${USER_KEY}[^]${SPACE}",}]+`;

function idList(d: Dialect, ids: number): string {
  return Array.from({ length: ids }, (_, i) => d.param(`id_${i}`)).join(', ');
}

/**
 * The payload hashes of the rejects that name the user, in any JSON spelling
 * (`jos\u00e9`, `\u006aosé`): JSON's own decoding makes them one string
 * before comparing, trimmed as the contract trims ids. Valid JSON: a user
 * field of either shape (`user_id`, `user`) holding the id as any scalar
 * (`42` too), or any string value anywhere (metadata included; keys are not
 * values). Not JSON (a broken line, a payload cut at the size limit): any
 * complete string token of the text, decoded, or a bare value after a user
 * key; an id cut in half by the damage cannot be recognised. The hash is of
 * the whole payload, so rows sharing one name the user alike.
 */
function rejectsNamingUserSql(d: Dialect, ids: number): string {
  const p = (name: string) => d.param(name);
  const rejects = `${d.table('etl_rejected_event')} r`;
  const json = d.tryParseJson('r.payload');
  const isId = (textExpression: string) => `TRIM(${textExpression}, ${p('space')}) IN (${idList(d, ids)})`;
  const decoded = (jsonText: string) => d.jsonText(d.tryParseJson(jsonText), '$');
  const token = d.regexMatches('r.payload', p('string_token'), 'tok');
  const bare = d.regexMatches('r.payload', p('bare_user_value'), 'bare');
  return `SELECT r.payload_hash FROM ${rejects}
  WHERE ${json} IS NOT NULL AND (${isId(d.jsonText(json, '$.user_id'))} OR ${isId(d.jsonText(json, '$.user'))})
UNION ALL
SELECT r.payload_hash FROM ${rejects}, ${token.join}
  WHERE (${json} IS NULL OR ${token.match} NOT LIKE '%:')
    AND ${isId(decoded(`RTRIM(${token.match}, ${p('key_end')})`))}
UNION ALL
SELECT r.payload_hash FROM ${rejects}, ${bare.join}
  WHERE ${json} IS NULL AND ${isId(decoded(`REGEXP_REPLACE(${bare.match}, ${p('user_key')}, '')`))}`;
}

/**
 * What goes, in deletion order: what names the user's events first, while
 * dim_user still maps the ids to their keys. Each entry is a table and the
 * WHERE clause of its rows, counted and then deleted with the same text.
 */
function erasedRowsSql(d: Dialect, ids: number): [string, string][] {
  const userKeys = `SELECT user_key FROM ${d.table('dim_user')} WHERE user_id IN (${idList(d, ids)})`;
  const userEventIds = `SELECT event_id FROM ${d.table('fact_ai_event')} WHERE user_key IN (${userKeys})`;
  return [
    // Out of the id index too, so the user's re-sent events load again (as the unknown member).
    ['etl_event_id', `event_id IN (${userEventIds})`],
    ['etl_conflict', `event_id IN (${userEventIds})`],
    ['fact_policy_evaluation', `user_key IN (${userKeys})`],
    ['fact_ai_event', `user_key IN (${userKeys})`],
    ['dim_user', `user_id IN (${idList(d, ids)})`],
    // The reject's event_id and reasons come from its payload: a payload that names the user takes them along.
    ['etl_rejected_event', `payload_hash IN (${rejectsNamingUserSql(d, ids)})`],
  ];
}

/** The days of the user's fact and policy rows, as `date_key`. */
function userDateKeysSql(d: Dialect, erased: Map<string, string>): string {
  const keys = (table: string) => `SELECT date_key FROM ${d.table(table)} WHERE ${erased.get(table)}`;
  return `SELECT DISTINCT date_key FROM (${keys('fact_ai_event')} UNION ALL ${keys('fact_policy_evaluation')}) u`;
}

/**
 * Counts what goes, then marks the lake partitions and dimensions of every
 * pipeline, deletes, and records the request in etl_erasure (the rows per
 * table, a hash of the user, never the id): the changes all together, behind
 * the run lock's `fence`.
 */
export async function eraseUser(driver: Driver, request: ErasureRequest, fence?: Fence): Promise<ErasureOutcome> {
  const d = driver.dialect;
  const erased = erasedRowsSql(d, request.userIds.length);
  const where = new Map(erased);
  const params: SqlParams = {
    pipeline: text(request.pipeline),
    run_id: text(request.runId),
    space: text(SPACE),
    key_end: text(`${JSON_SPACE}:`),
    string_token: text(d.regexPattern(STRING_TOKEN)),
    bare_user_value: text(d.regexPattern(BARE_USER_VALUE)),
    user_key: text(d.regexPattern(`^${USER_KEY}`)),
    ...Object.fromEntries(request.userIds.map((id, i) => [`id_${i}`, text(id)])),
  };
  const dateKeys = userDateKeysSql(d, where);
  return driver.transaction(async () => {
    const [counted] = await driver.run(
      'counting the user’s rows',
      `SELECT ${erased.map(([table, w]) => `(SELECT COUNT(*) FROM ${d.table(table)} WHERE ${w}) AS ${table}`).join(',\n')}`,
      params,
    );
    const rows = Object.fromEntries(erased.map(([table]) => [table, Number(int64(counted![table]))]));
    const days = await driver.run('finding the user’s days', `${dateKeys} ORDER BY date_key`, params);
    const pipelines = await driver.run('listing the pipelines', `${pipelinesSql(d, 'all')} ORDER BY p`, params);
    const record = `INSERT INTO ${d.table('etl_erasure')}
  (run_id, pipeline, subject_hash, requested_by, applied_at, rows_removed, partitions)
SELECT ${['run_id', 'pipeline', 'subject', 'requested_by', 'now'].map((name) => d.param(name)).join(', ')},
  ${d.parseJson(d.param('rows'))}, ${d.param('partitions')}`;
    await driver.runTogether(
      'erasing the user',
      [
        // Every pipeline's lake rewrites these partitions and the dimensions without the user.
        markLakePendingSql(d, dateKeys),
        markLakePendingSql(d, null),
        ...erased.map(([table, w]) => `DELETE FROM ${d.table(table)} WHERE ${w}`),
        // The hourly aggregates of the user's days, computed again without the user's events.
        ...(days.length > 0 ? recomputeAggregatesSql(d, boundDateKeysSql(d, days.length)) : []),
        record,
      ],
      {
        ...params,
        ...Object.fromEntries(days.map((day, i) => [`day_${i}`, int(Number(int64(day.date_key)))])),
        subject: text(request.subjectHash),
        requested_by: text(request.requestedBy),
        now: instant(request.nowMs),
        rows: text(JSON.stringify(rows)),
        partitions: int(days.length),
      },
      fence,
    );
    return {
      rows,
      eventDates: days.map((day) => isoDayOfKey(int64(day.date_key))),
      pipelines: pipelines.map((row) => String(row.p)),
    };
  });
}
