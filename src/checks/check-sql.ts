import type { Dialect } from '../warehouse/dialect.js';

/**
 * Every check query, written once against Dialect. Each selects only
 * the columns it needs and filters on the time range (and the dialect's
 * partition filter), so warehouses prune instead of scanning.
 * Parameters are bound by name: from, to (ISO timestamps), pipeline, run_id.
 */
const inRange = (d: Dialect, alias: string) =>
  `${alias}.event_ts >= ${d.timestamp('from')} AND ${alias}.event_ts < ${d.timestamp('to')} ${d.partitionFilter(alias, 'from', 'to')}`;

export const ACCEPTED_DECISIONS = ['allow', 'block', 'redact', 'escalate'] as const;
export const ACCEPTED_POLICY_RESULTS = ['pass', 'block', 'redact', 'escalate', 'flag', 'triggered'] as const;
/**
 * `column` is none of `values`, written as one `<>` per value, not NOT IN: DuckDB filters the scan
 * by such comparisons (on a column's dictionary), 0.31 s against 0.085 s over 10M facts.
 */
const noneOf = (column: string, values: readonly string[]) => values.map((v) => `${column} <> '${v}'`).join(' AND ');

/**
 * Hourly volume, blocks, cost (with its sum of squares) and the latency bucket holding the p99, in
 * total or per gateway, from the hourly aggregates (sparse: empty hours are absent). `from` and
 * `to` are whole hours.
 */
export function hourlyMetricsSql(d: Dialect, byGateway: boolean): string {
  const scope = byGateway ? 'a.gateway_id' : `'total'`;
  const where = (alias: string) =>
    `${alias}.hour >= ${d.timestamp('from')} AND ${alias}.hour < ${d.timestamp('to')}${byGateway ? ` AND ${alias}.gateway_id <> ''` : ''}`;
  return `WITH m AS (
  SELECT a.hour, ${scope} AS scope, SUM(a.events) AS events, SUM(a.blocked) AS blocked, SUM(a.cost_usd) AS cost,
    SUM(a.cost_sq) AS cost_sq
  FROM ${d.table('agg_event_hourly')} a WHERE ${where('a')} GROUP BY 1, 2),
b AS (
  SELECT a.hour, ${scope} AS scope, a.latency_bucket, SUM(a.events) AS events
  FROM ${d.table('agg_latency_hourly')} a WHERE ${where('a')} GROUP BY 1, 2, 3),
c AS (
  SELECT hour, scope, latency_bucket,
    SUM(events) OVER (PARTITION BY hour, scope ORDER BY latency_bucket ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS upto,
    SUM(events) OVER (PARTITION BY hour, scope) AS total
  FROM b),
p AS (SELECT hour, scope, MIN(latency_bucket) AS latency_bucket FROM c WHERE upto >= 0.99 * total GROUP BY hour, scope)
SELECT ${d.epochMs('m.hour')} AS hour_ms, m.scope, m.events, m.blocked, m.cost, m.cost_sq, p.latency_bucket
FROM m LEFT JOIN p ON p.hour = m.hour AND p.scope = m.scope`;
}

/**
 * Distinct events present in [from, to) for this pipeline (DESIGN.md decision 9): the facts whose
 * ids it accounted for (inserted, or found already loaded: the id index; a fact deleted since is
 * missing), or quarantined with a usable timestamp in the range, or quarantined without one by a
 * read whose window overlapped the range (a rejected record arrived), or a later version (kept
 * out as a conflict) whose own time is in the range. Another pipeline's facts never count.
 */
export function presentCountSql(d: Dialect): string {
  const ix = d.table('etl_event_id');
  const accounted = (alias: string) =>
    `EXISTS (SELECT 1 FROM ${ix} ix WHERE ix.pipeline = ${d.param('pipeline')} AND ix.event_id = ${alias}.event_id AND ${inRange(d, 'ix')})`;
  return `SELECT
  (SELECT COUNT(DISTINCT f.event_id) FROM ${d.table('fact_ai_event')} f WHERE ${inRange(d, 'f')} AND ${accounted('f')})
  + (SELECT COUNT(DISTINCT COALESCE(r.event_id, r.payload_hash)) FROM ${d.table('etl_rejected_event')} r
     WHERE r.pipeline = ${d.param('pipeline')} AND r.event_ts >= ${d.timestamp('from')} AND r.event_ts < ${d.timestamp('to')}
       AND NOT ${accounted('r')})
  + (SELECT COUNT(DISTINCT r.payload_hash) FROM ${d.table('etl_rejected_event')} r
     WHERE r.pipeline = ${d.param('pipeline')} AND r.event_ts IS NULL
       AND r.read_from < ${d.timestamp('to')} AND r.read_to > ${d.timestamp('from')})
  + (SELECT COUNT(DISTINCT c.event_id) FROM ${d.table('etl_conflict')} c
     WHERE c.pipeline = ${d.param('pipeline')} AND c.incoming_event_ts >= ${d.timestamp('from')} AND c.incoming_event_ts < ${d.timestamp('to')}
       AND NOT ${accounted('c')}) AS present`;
}

/**
 * Of the events `ids` selects (columns event_id, date_key), the fact rows and the distinct ids
 * stored, looked up on every date the id index knows for them plus their own dates: an id
 * stored twice is found whatever the dates of its copies (decision 4), at the cost of the ids.
 */
export function storedIdsSql(d: Dialect, ids: string): string {
  return `WITH ids AS (${ids}),
dates AS (SELECT ix.date_key FROM ${d.table('etl_event_id')} ix WHERE ${d.indexedIdIn('ix', 'SELECT event_id FROM ids')}
          UNION ALL SELECT date_key FROM ids)
SELECT COUNT(*) AS fact_rows, COUNT(DISTINCT f.event_id) AS present FROM ${d.table('fact_ai_event')} f
WHERE f.event_id IN (SELECT event_id FROM ids) AND f.date_key IN (SELECT date_key FROM dates)`;
}

/**
 * Rows equal to the row before them in `columns` order among `rows` (a query): each set of k
 * identical keys counts k - 1, as COUNT(*) - COUNT(DISTINCT) would, and it compares several columns.
 */
function equalNeighbours(rows: string, columns: string[]): string {
  const order = columns.join(', ');
  const previous = columns.map((c) => `LAG(${c}) OVER (ORDER BY ${order}) AS prev_${c}`).join(', ');
  return `SELECT COUNT(*) FROM (SELECT ${order}, ${previous} FROM (${rows}) k) s
  WHERE ${columns.map((c) => `s.${c} = s.prev_${c}`).join(' AND ')}`;
}

/**
 * Repeated keys (`columns`) among the rows of `table` that `where` keeps (alias x), counted as
 * equalNeighbours counts them, but compared only among the rows whose key hash repeats: only those
 * can repeat their key. Grouping fixed-width hashes costs a fraction of sorting the ids, and a hash
 * collision only brings two different keys to the comparison, which counts none.
 */
function repeatedKeys(d: Dialect, table: string, where: string, columns: string[]): string {
  const key = d.keyHash(columns.map((c) => `x.${c}`));
  const repeated = `SELECT k.h FROM (SELECT ${key} AS h FROM ${table} x WHERE ${where}) k GROUP BY k.h HAVING COUNT(*) > 1`;
  const cols = columns.map((c) => `x.${c}`).join(', ');
  return equalNeighbours(`SELECT ${cols} FROM ${table} x WHERE ${where} AND ${key} IN (${repeated})`, columns);
}

/** The keys the duplicates check compares: the facts' event_id, the policy evaluations' (event_id, ordinal). */
const DUPLICATE_KEYS = { facts: ['event_id'], policies: ['event_id', 'ordinal'] };

/**
 * The duplicates check's screen over [from, to): per table, its rows less their distinct key
 * hashes. Equal keys hash equal, so 0 proves that no key repeats there; above 0, a key repeats or
 * two keys share a hash, and duplicateIdsSql compares the keys themselves. (Counting distinct
 * hashes costs less than grouping them to find which repeat: 2.4 s against 3.1 s for 10M.)
 */
export function repeatedHashesSql(d: Dialect): string {
  const excess = (table: string, columns: string[]) =>
    `SELECT COUNT(*) - COUNT(DISTINCT ${d.keyHash(columns.map((c) => `x.${c}`))}) FROM ${d.table(table)} x WHERE ${inRange(d, 'x')}`;
  return `SELECT (${excess('fact_ai_event', DUPLICATE_KEYS.facts)}) AS facts,
  (${excess('fact_policy_evaluation', DUPLICATE_KEYS.policies)}) AS policies`;
}

/**
 * Duplicate rows in [from, to): `n`, the event_id rows among the facts, their copies on any date
 * included, as storedIdsSql counts them (the rows of the range's ids on their own days and on the
 * days the index names, less the distinct ids). Every such row's id is one of the range's, so that
 * is the range's own repeated ids, plus the other rows of its ids: on its days outside the range,
 * and on the days outside its days that the index names for them. Those few rows are joined to the
 * range's ids, never the other way round: matching millions of ids in the index cost minutes.
 * `policy_n`: the policy evaluations stored twice (same event_id and ordinal); a copy follows its
 * event's date, so the range's own rows hold both. `suspect`: where repeatedHashesSql found
 * repeated hashes; elsewhere the range's own rows repeat no key (0, not compared again).
 */
export function duplicateIdsSql(d: Dialect, suspect: { facts: boolean; policies: boolean }): string {
  const fact = d.table('fact_ai_event');
  // The range's ids, scanned afresh wherever they are matched, and matched only once the few rows
  // they are matched with exist: hashing 10M ids for an empty match costs a second. Each set of rows
  // is written out where it is read, never as a CTE read twice, which an engine may write out whole
  // (DuckDB wrote the 9M index rows outside a one-hour range: 2.7 s).
  const ids = (only: string) =>
    `SELECT x.event_id FROM ${fact} x WHERE ${inRange(d, 'x')} AND EXISTS (SELECT 1 FROM ${only})`;
  const edge = (a: string) =>
    `${fact} ${a} WHERE ${a}.date_key IN (SELECT date_key FROM own)
  AND NOT (${a}.event_ts >= ${d.timestamp('from')} AND ${a}.event_ts < ${d.timestamp('to')})`;
  const outside = (a: string) =>
    `${d.table('etl_event_id')} ${a} WHERE ${a}.date_key NOT IN (SELECT date_key FROM own)`;
  const elsewhere = (a: string) => `${fact} ${a} WHERE ${a}.date_key IN (SELECT date_key FROM other)`;
  return `WITH own AS (SELECT DISTINCT x.date_key FROM ${fact} x WHERE ${inRange(d, 'x')}),
other AS (SELECT DISTINCT o.date_key FROM ${outside('o')} AND ${d.indexedIdIn('o', ids(outside('g')))})
SELECT (${suspect.facts ? repeatedKeys(d, fact, inRange(d, 'x'), DUPLICATE_KEYS.facts) : '0'})
  + (SELECT COUNT(*) FROM ${edge('e')} AND e.event_id IN (${ids(edge('g'))}))
  + (SELECT COUNT(*) FROM ${elsewhere('e')} AND e.event_id IN (${ids(elsewhere('g'))})) AS n,
  (${suspect.policies ? repeatedKeys(d, d.table('fact_policy_evaluation'), inRange(d, 'x'), DUPLICATE_KEYS.policies) : '0'}) AS policy_n`;
}

/**
 * A sum of the rows' load times: each in ms modulo 2^31 - 1, so billions of rows sum within 64 bits on
 * every engine. It reads loaded_at alone (not also event_ts: 0.04 against 0.12 s CPU over 10M).
 */
const loadedSum = (d: Dialect) => `SUM(MOD(${d.epochMs('f.loaded_at')}, 2147483647))`;

/**
 * What an hour of facts held, per hour in [from, to): its rows, the sum of their load times and its
 * newest loaded_at. Every write path changes one of them (inserted rows come with a new loaded_at,
 * deleted ones lower the count), so an hour whose three are those it was verified with holds the rows
 * it was verified with.
 */
const hourPrints = (d: Dialect) =>
  `SELECT ${d.hour('MIN(f.event_ts)')} AS hour, COUNT(*) AS facts,
    ${loadedSum(d)} AS loaded_sum, MAX(f.loaded_at) AS loaded_max
  FROM ${d.table('fact_ai_event')} f WHERE ${inRange(d, 'f')} GROUP BY ${d.epochHour('f.event_ts')}`;

/**
 * The dimension versions the orphan probes read, as one number: their count plus a sum of (truncated)
 * hashes of key and validity. A new or closed version changes it, and can make a fact of an unchanged
 * hour an orphan, so the probes read again the hours verified under other versions.
 */
const dimensionPrint = (d: Dialect) =>
  ['dim_user', 'dim_gateway', 'dim_model']
    .map((t) => {
      const key = `m.${t.replace('dim_', '')}_key`;
      return `(SELECT COUNT(*) + COALESCE(SUM(MOD(${d.keyHash([key, 'm.valid_from', 'm.valid_to'])}, 2147483647)), 0) FROM ${d.table(t)} m)`;
    })
    .join(' + ');

/**
 * Per hour in [from, to) (whole hours) that holds facts or was verified: whether it holds what it held
 * when its checks last passed (`rows_verified`; an hour whose facts are all gone does not, so the
 * policy rows they may have left behind are checked), whether the dimensions are those it was
 * verified under (`dimensions_verified`), and when that was.
 */
export function verifiedHoursSql(d: Dialect): string {
  // Load times compared to the millisecond, as records hold them (a loaded_at may have microseconds).
  const v = (column: string) =>
    column === 'loaded_max' ? `${d.epochMs(`v.${column}`)} = ${d.epochMs(`h.${column}`)}` : `v.${column} = h.${column}`;
  return `SELECT ${d.epochMs('COALESCE(h.hour, v.hour)')} AS hour_ms,
  CASE WHEN ${['facts', 'loaded_sum', 'loaded_max'].map(v).join(' AND ')} THEN 1 ELSE 0 END AS rows_verified,
  CASE WHEN v.dimensions = (${dimensionPrint(d)}) THEN 1 ELSE 0 END AS dimensions_verified,
  ${d.epochMs('v.verified_at')} AS verified_ms
FROM (${hourPrints(d)}) h
FULL JOIN (SELECT * FROM ${d.table('dq_verified_hour')} r
  WHERE r.hour >= ${d.timestamp('from')} AND r.hour < ${d.timestamp('to')}) v ON v.hour = h.hour`;
}

/**
 * The whole range at once (`verified` 1): its facts' count, lag sum and newest loaded_at are those its
 * hours' records add up to, and every record holds the dimension versions of now. Cheap (the count and
 * the newest load time come from the column statistics): most checks find nothing changed and read no
 * hour's fingerprint. Rows inserted since carry a newer loaded_at, deleted ones lower the count, so no
 * write of ours keeps all three. A sum of the rows' hours also catches rows gone from one hour and
 * come into another (one run's rows share a loaded_at: a copy here and a loss there keep the other
 * three). Otherwise verifiedHoursSql finds the hours that changed.
 */
export function verifiedRangeSql(d: Dialect): string {
  const v = (column: string) => `f.${column} = v.${column}`;
  return `SELECT CASE WHEN ${['facts', 'loaded_sum', 'loaded_max', 'hour_sum'].map(v).join(' AND ')} AND v.stale = 0 THEN 1 ELSE 0 END AS verified,
  v.hours, ${d.epochMs('v.first_verified')} AS first_verified_ms, ${d.epochMs('v.last_verified')} AS last_verified_ms
FROM (SELECT COUNT(*) AS facts, ${loadedSum(d)} AS loaded_sum, ${d.epochMs('MAX(f.loaded_at)')} AS loaded_max,
    SUM(${d.epochHour('f.event_ts')}) AS hour_sum
  FROM ${d.table('fact_ai_event')} f WHERE ${inRange(d, 'f')}) f
CROSS JOIN (SELECT COUNT(*) AS hours, SUM(r.facts) AS facts, SUM(r.loaded_sum) AS loaded_sum,
    ${d.epochMs('MAX(r.loaded_max)')} AS loaded_max,
    SUM((${d.epochHour('r.hour')}) * r.facts) AS hour_sum,
    SUM(CASE WHEN r.dimensions = (${dimensionPrint(d)}) THEN 0 ELSE 1 END) AS stale,
    MIN(r.verified_at) AS first_verified, MAX(r.verified_at) AS last_verified
  FROM ${d.table('dq_verified_hour')} r WHERE r.hour >= ${d.timestamp('from')} AND r.hour < ${d.timestamp('to')}) v`;
}

/**
 * What each hour of [from, to) (whole hours) holds, read before the checks that read rows run: the
 * fingerprint an hour is recorded with if they pass there (so rows written meanwhile, say by another
 * pipeline sharing the warehouse, make it differ, and the next check reads it), its first and last
 * event time (recorded are only the hours whose facts all lie in the span checked) and the dimension
 * versions' print.
 */
export function hourPrintsSql(d: Dialect): string {
  return `SELECT ${d.epochMs('h.hour')} AS hour_ms, h.facts, h.loaded_sum, ${d.epochMs('h.loaded_max')} AS loaded_max_ms,
  ${d.epochMs('h.first_ts')} AS first_ms, ${d.epochMs('h.last_ts')} AS last_ms, dims.n AS dimensions
FROM (SELECT ${d.hour('MIN(f.event_ts)')} AS hour, COUNT(*) AS facts, ${loadedSum(d)} AS loaded_sum,
    MAX(f.loaded_at) AS loaded_max, MIN(f.event_ts) AS first_ts, MAX(f.event_ts) AS last_ts
  FROM ${d.table('fact_ai_event')} f WHERE ${inRange(d, 'f')} GROUP BY ${d.epochHour('f.event_ts')}) h
CROSS JOIN (SELECT ${dimensionPrint(d)} AS n) dims`;
}

/** The dimension versions' print alone (`dimensionPrint`), for a check whose rows are all verified. */
export function dimensionsPrintSql(d: Dialect): string {
  return `SELECT ${dimensionPrint(d)} AS n`;
}

/**
 * A fault for the verified-hours test (`check:write-before-record`): one fact of [from, to) stored
 * twice once the checks have read the range, as a load of another pipeline sharing the warehouse
 * could.
 */
export function copyOneFactSql(d: Dialect): string {
  const fact = d.table('fact_ai_event');
  return `INSERT INTO ${fact} SELECT * FROM ${fact} f
WHERE f.event_id = (SELECT MIN(x.event_id) FROM ${fact} x WHERE ${inRange(d, 'x')}) AND ${inRange(d, 'f')}`;
}

/**
 * The records of [from, to) whose rows no check read this time (only the orphan probes did, under new
 * dimension versions): their rows' fingerprint stays what it was when their rows were read, so a write
 * meanwhile still shows; only the dimensions they passed under are renewed.
 */
export function renewVerifiedDimensionsSql(d: Dialect): string {
  return `UPDATE ${d.table('dq_verified_hour')} SET dimensions = ${d.param('dimensions')}
WHERE hour >= ${d.timestamp('from')} AND hour < ${d.timestamp('to')}`;
}

/** Drops the verification of the hours in [from, to): checked again (or failing) there. */
export function forgetVerifiedHoursSql(d: Dialect): string {
  return `DELETE FROM ${d.table('dq_verified_hour')} WHERE hour >= ${d.timestamp('from')} AND hour < ${d.timestamp('to')}`;
}

/**
 * Integrity probes: each returns one count `n` of offending rows. What each `reads`: only the range's
 * rows (`rows`), those and the dimension versions (`versions`), or the dimensions alone.
 */
export function integritySql(
  d: Dialect,
): { name: string; what: string; reads: 'rows' | 'versions' | 'dimensions'; sql: string }[] {
  // A fact's key names no version valid at its time when no row has the key at all, or when its time
  // falls in a gap of the key's versions: before the first, between two, or after the last. The facts
  // are read once, grouped by key into their first and last time: a key's facts can fall in a gap
  // only if the gap meets that span, and only those keys' facts are read again, one by one.
  const orphan = (dim: string, key: string) => ({
    name: `integrity_${dim}`,
    reads: 'versions' as const,
    what: `facts whose ${key} has no ${dim} version valid at the event time`,
    sql: `WITH v AS (
  SELECT ${key} AS k, valid_from, LEAD(valid_from) OVER (PARTITION BY ${key} ORDER BY valid_from) AS next_from,
    MAX(valid_to) OVER (PARTITION BY ${key} ORDER BY valid_from ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS covered_to,
    ROW_NUMBER() OVER (PARTITION BY ${key} ORDER BY valid_from) AS nth
  FROM ${d.table(dim)}),
gaps AS (
  SELECT k, CAST(NULL AS ${d.columnType('timestamp')}) AS gap_from, valid_from AS gap_to FROM v WHERE nth = 1
  UNION ALL SELECT k, covered_to, next_from FROM v WHERE next_from IS NULL OR next_from > covered_to),
keys AS (
  SELECT f.${key} AS k, MIN(f.event_ts) AS first_ts, MAX(f.event_ts) AS last_ts, COUNT(*) AS facts
  FROM ${d.table('fact_ai_event')} f WHERE ${inRange(d, 'f')} GROUP BY f.${key}),
met AS (
  SELECT g.k, g.gap_from, g.gap_to FROM gaps g JOIN keys ON keys.k = g.k
  WHERE (g.gap_from IS NULL OR keys.last_ts >= g.gap_from) AND (g.gap_to IS NULL OR keys.first_ts < g.gap_to))
SELECT (SELECT COALESCE(SUM(facts), 0) FROM keys WHERE keys.k NOT IN (SELECT ${key} FROM ${d.table(dim)}))
  + (SELECT COUNT(*) FROM ${d.table('fact_ai_event')} f JOIN met g ON g.k = f.${key}
     WHERE ${inRange(d, 'f')} AND (g.gap_from IS NULL OR f.event_ts >= g.gap_from)
       AND (g.gap_to IS NULL OR f.event_ts < g.gap_to)) AS n`,
  });
  const knownPolicy = `EXISTS (SELECT 1 FROM ${d.table('dim_policy')} p WHERE p.policy_key = e.policy_key)`;
  return [
    orphan('dim_user', 'user_key'),
    orphan('dim_gateway', 'gateway_key'),
    orphan('dim_model', 'model_key'),
    {
      name: 'integrity_dim_keys',
      reads: 'dimensions',
      what: 'dimension keys that name more than one row',
      sql: `SELECT SUM(n) AS n FROM (${['dim_user', 'dim_gateway', 'dim_model', 'dim_policy']
        .map((t) => `SELECT COUNT(*) - COUNT(DISTINCT ${t.replace('dim_', '')}_key) AS n FROM ${d.table(t)}`)
        .join(' UNION ALL ')}) k`,
    },
    {
      name: 'integrity_policy_keys',
      reads: 'rows',
      what: 'policy evaluations without their policy or their event',
      // Rows without their policy, plus rows with it whose event is missing (so none counts twice). The
      // event is found by an outer join, not NOT EXISTS: DuckDB runs NOT EXISTS as a mark join, which
      // cannot spill, and 10M events' ids overflowed a 160MB pool; an unmatched row is never multiplied.
      sql: `SELECT (SELECT COUNT(*) FROM ${d.table('fact_policy_evaluation')} e WHERE ${inRange(d, 'e')} AND NOT ${knownPolicy})
  + (SELECT COUNT(*) FROM ${d.table('fact_policy_evaluation')} e
     LEFT JOIN (SELECT f.event_id FROM ${d.table('fact_ai_event')} f WHERE ${inRange(d, 'f')}) f ON f.event_id = e.event_id
     WHERE ${inRange(d, 'e')} AND f.event_id IS NULL AND ${knownPolicy}) AS n`,
    },
    {
      name: 'accepted_decision',
      reads: 'rows',
      what: `facts whose decision is not one of ${ACCEPTED_DECISIONS.join(', ')}`,
      sql: `SELECT COUNT(*) AS n FROM ${d.table('fact_ai_event')} f WHERE ${inRange(d, 'f')} AND ${noneOf('f.decision', ACCEPTED_DECISIONS)}`,
    },
    {
      name: 'accepted_policy_result',
      reads: 'rows',
      what: `policy evaluations whose result is not one of ${ACCEPTED_POLICY_RESULTS.join(', ')}`,
      sql: `SELECT COUNT(*) AS n FROM ${d.table('fact_policy_evaluation')} e WHERE ${inRange(d, 'e')} AND ${noneOf('e.result', ACCEPTED_POLICY_RESULTS)}`,
    },
    {
      name: 'non_negative',
      reads: 'rows',
      what: 'facts with negative tokens, cost or latency',
      sql: `SELECT COUNT(*) AS n FROM ${d.table('fact_ai_event')} f WHERE ${inRange(d, 'f')}
  AND (f.input_tokens < 0 OR f.output_tokens < 0 OR f.cost_usd < 0 OR f.latency_ms < 0)`,
    },
  ];
}

/**
 * Ingestion lag of the rows one run loaded (loaded_at − event_ts, seconds), and the newest event in
 * [from, to): from the hourly aggregate for the hours before `to`'s, from the facts of that hour only.
 */
export function lagSql(d: Dialect): string {
  const lag = `(${d.epochMs('f.loaded_at')} - ${d.epochMs('f.event_ts')}) / 1000.0`;
  const toHour = d.hour(d.timestamp('to'));
  const newest = `SELECT MAX(a.last_event_ts) AS ts FROM ${d.table('agg_event_hourly')} a
    WHERE a.hour >= ${d.hour(d.timestamp('from'))} AND a.hour < ${toHour} AND a.last_event_ts >= ${d.timestamp('from')}
    UNION ALL
    SELECT MAX(x.event_ts) AS ts FROM ${d.table('fact_ai_event')} x WHERE ${inRange(d, 'x')} AND x.event_ts >= ${toHour}`;
  return `SELECT ${d.percentile(lag, 0.5)} AS lag_p50_s, ${d.percentile(lag, 0.99)} AS lag_p99_s,
  (SELECT ${d.epochMs('MAX(n.ts)')} FROM (${newest}) n) AS newest_ms
FROM ${d.table('fact_ai_event')} f WHERE f.run_id = ${d.param('run_id')} AND ${inRange(d, 'f')}`;
}

/**
 * What committed loads (checks passed, any command) covered in [from, to):
 * their windows; for a files pipeline, whose batches have no window, each
 * committed run's events per day from the first to the last (a day it holds
 * no event of stays unknown). Anomaly training and candidates use only the
 * whole hours these cover, so an hour never loaded is not taken for a zero.
 */
export function coveredSpansSql(d: Dialect, files: boolean): string {
  const committed = `w.pipeline = ${d.param('pipeline')} AND w.checks_passed`;
  if (files) {
    // The runs are matched after grouping: a few groups, not every fact (0.25 against 0.62 s CPU over 10M).
    return `SELECT ${d.epochMs('g.first_ts')} AS from_ms, ${d.epochMs('g.last_ts')} AS to_ms
FROM (SELECT f.run_id, MIN(f.event_ts) AS first_ts, MAX(f.event_ts) AS last_ts
  FROM ${d.table('fact_ai_event')} f WHERE ${inRange(d, 'f')} GROUP BY f.run_id, f.date_key) g
WHERE g.run_id IN (SELECT w.run_id FROM ${d.table('etl_run_window')} w WHERE ${committed} AND w.window_start IS NULL)`;
  }
  // A window is covered once its last package (the one carrying the source's count) committed.
  return `SELECT ${d.epochMs('w.window_start')} AS from_ms, ${d.epochMs('w.window_end')} AS to_ms
FROM ${d.table('etl_run_window')} w
WHERE ${committed} AND w.source_count IS NOT NULL
  AND w.window_start < ${d.timestamp('to')} AND w.window_end > ${d.timestamp('from')}`;
}

/** Anomaly buckets already flagged (or already scored) since `from`, per check and scope. */
export function scoredBucketsSql(d: Dialect): string {
  return `SELECT check_name, scope, ${d.epochMs('bucket')} AS bucket_ms, status FROM ${d.table('dq_check_result')}
WHERE pipeline = ${d.param('pipeline')} AND bucket >= ${d.timestamp('from')} AND check_name LIKE 'anomaly_%'`;
}

/**
 * Quarantined records of a pipeline (or of one of its runs: `run_id`) grouped
 * by the field their first reason names, with an example message. With
 * `outstanding`, only those no replay has loaded since.
 */
export function rejectsByFieldSql(d: Dialect, ofRun = false, outstanding = false): string {
  return `SELECT ${d.jsonText('r.reasons', '$[0].path')} AS field, COUNT(*) AS rejects,
  MIN(${d.jsonText('r.reasons', '$[0].message')}) AS example
FROM ${d.table('etl_rejected_event')} r WHERE r.pipeline = ${d.param('pipeline')}${ofRun ? ` AND r.run_id = ${d.param('run_id')}` : ''}${outstanding ? ' AND r.replayed_at IS NULL' : ''}
GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10`;
}
