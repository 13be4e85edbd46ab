import type { Dialect } from '../dialect.js';
import { instant, int, int64, text, type Driver, type Fence, type SqlParams } from '../driver.js';
import type { ErasureOutcome, ErasureRequest } from '../warehouse.js';
import { isoDayOfKey } from '../../util/dates.js';
import { isOutOfMemory } from '../../util/errors.js';
import { boundDateKeysSql, recomputeAggregatesSql } from './sql-aggregates.js';
import { markLakePendingSql, pipelinesSql } from './sql-load.js';
import { eachRangeInHalves, inPositionRange, positionRanges, type PositionRange } from './sql-sliced-export.js';

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
function rejectsNamingUserSql(d: Dialect, ids: number, rejectsToRead?: (alias: string) => string): string {
  const p = (name: string) => d.param(name);
  // A slice is read before anything else: filtered after the regex joins, every payload would be searched first.
  const rejects =
    rejectsToRead === undefined
      ? `${d.table('etl_rejected_event')} r`
      : `(SELECT q.payload_hash, q.payload FROM ${d.table('etl_rejected_event')} q WHERE ${rejectsToRead('q')}) r`;
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
 * What goes, in deletion order (`rejects`: the WHERE clause of the rejects
 * that name the user): what names the user's events first, while
 * dim_user still maps the ids to their keys. Each entry is a table and the
 * WHERE clause of its rows, counted and then deleted with the same text.
 */
function erasedRowsSql(d: Dialect, ids: number, rejects: string): [string, string][] {
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
    ['etl_rejected_event', rejects],
  ];
}

/** The days of the user's fact and policy rows, as `date_key`. */
function userDateKeysSql(d: Dialect, erased: Map<string, string>): string {
  const keys = (table: string) => `SELECT date_key FROM ${d.table(table)} WHERE ${erased.get(table)}`;
  return `SELECT DISTINCT date_key FROM (${keys('fact_ai_event')} UNION ALL ${keys('fact_policy_evaluation')}) u`;
}

/**
 * The payload hashes of the rejects that name the user, the quarantine read a
 * few rows at a time by position (sql-sliced-export.ts), and a range that
 * still does not fit in halves: a scan of wide payloads (up to 64 KiB each)
 * does not fit the pool at once, and the search's decoding multiplies them
 * (BENCHMARKS.md "Wide records").
 */
async function rejectsNamingUserInSlices(
  driver: Driver,
  ids: number,
  params: SqlParams,
  ranges: PositionRange[],
): Promise<string[]> {
  const hashes = new Set<string>();
  await eachRangeInHalves(ranges, async (range) => {
    const inRange = (alias: string) => inPositionRange(driver.dialect, alias, range);
    const rows = await driver.run(
      'finding the rejects that name the user',
      `SELECT DISTINCT payload_hash FROM (${rejectsNamingUserSql(driver.dialect, ids, inRange)}) x`,
      params,
    );
    for (const row of rows) hashes.add(String(row.payload_hash));
  });
  return [...hashes].sort();
}

/**
 * Erases the user in one transaction (`eraseUserAt`), searching the
 * quarantine within it. Where that search does not fit the engine's memory,
 * the rejects that name the user are found first, a few at a time, and the
 * transaction deletes those: an engine that runs out of memory so is DuckDB,
 * whose file has no other writer while this run holds it.
 */
export async function eraseUser(driver: Driver, request: ErasureRequest, fence?: Fence): Promise<ErasureOutcome> {
  const d = driver.dialect;
  const ids = request.userIds.length;
  const params = erasureParams(d, request);
  try {
    return await eraseUserAt(driver, request, `payload_hash IN (${rejectsNamingUserSql(d, ids)})`, params, fence);
  } catch (error) {
    if (!isOutOfMemory(error)) throw error;
    const ranges = await positionRanges(driver, { table: 'etl_rejected_event', where: 'TRUE', params: {} });
    if (ranges === null) throw error;
    const hashes = await rejectsNamingUserInSlices(driver, ids, params, ranges);
    const rejects = d.inJsonList('payload_hash', 'reject_hashes');
    return eraseUserAt(driver, request, rejects, { ...params, reject_hashes: text(JSON.stringify(hashes)) }, fence);
  }
}

/** The values every erasure statement binds: the user's ids and the search's patterns. */
function erasureParams(d: Dialect, request: ErasureRequest): SqlParams {
  return {
    pipeline: text(request.pipeline),
    run_id: text(request.runId),
    space: text(SPACE),
    key_end: text(`${JSON_SPACE}:`),
    string_token: text(d.regexPattern(STRING_TOKEN)),
    bare_user_value: text(d.regexPattern(BARE_USER_VALUE)),
    user_key: text(d.regexPattern(`^${USER_KEY}`)),
    ...Object.fromEntries(request.userIds.map((id, i) => [`id_${i}`, text(id)])),
  };
}

/**
 * Counts what goes, then marks the lake partitions and dimensions of every
 * pipeline, deletes, and records the request in etl_erasure (the rows per
 * table, a hash of the user, never the id): the changes all together, behind
 * the run lock's `fence`. `rejects`: the WHERE clause of the rejects that go.
 */
async function eraseUserAt(
  driver: Driver,
  request: ErasureRequest,
  rejects: string,
  params: SqlParams,
  fence?: Fence,
): Promise<ErasureOutcome> {
  const d = driver.dialect;
  const erased = erasedRowsSql(d, request.userIds.length, rejects);
  const where = new Map(erased);
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
