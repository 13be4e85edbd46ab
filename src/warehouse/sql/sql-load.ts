import { DIMENSION_TABLES } from '../../lake/layout.js';
import type { Dialect } from '../dialect.js';
import type { RejectKey } from '../warehouse.js';
import { mergeAggregatesSql, recomputeAggregatesSql } from './sql-aggregates.js';

/**
 * The SQL of one package's load, as text, written once for the remote
 * warehouses against Dialect (testable without a server; the stand-ins
 * run it in tests). Values are bound parameters; every table name goes
 * through `dialect.table`, which validates and quotes it. Each engine
 * arranges these statements into its own transactions.
 */

/** The run-scoped staging tables one package is loaded into, and the work tables its merge derives. */
export interface StagingTables {
  events: string;
  policies: string;
  rejects: string;
  winner: string;
  existing: string;
  toInsert: string;
  changed: string;
}

export const STAGING_PREFIX = '_aetl_stage_';
const STAGING_KINDS = ['events', 'policies', 'rejects', 'winner', 'existing', 'to_insert', 'changed'] as const;
/** A run id as it appears in a staging table name (newRunId: `20261123T174228Z-c3a59a`). */
const RUN_STEM =
  /^_aetl_stage_(.+)_(\d{8}t\d{6}z_[0-9a-f]+)_\d+_(?:events|policies|rejects|winner|existing|to_insert|changed)$/;

/** Names carry the pipeline, so a run only ever drops its own pipeline's leftovers. */
export function stagingTables(pipeline: string, runId: string, seq: number): StagingTables {
  const stem = `${STAGING_PREFIX}${pipeline}_${runId.toLowerCase().replace(/[^a-z0-9]+/g, '_')}_${seq}`;
  const [events, policies, rejects, winner, existing, toInsert, changed] = STAGING_KINDS.map(
    (kind) => `${stem}_${kind}`,
  );
  return {
    events: events!,
    policies: policies!,
    rejects: rejects!,
    winner: winner!,
    existing: existing!,
    toInsert: toInsert!,
    changed: changed!,
  };
}

/** Whether a table (any case) is a staging table of this pipeline: run ids have a fixed shape, so no prefix clash. */
export function isStagingTableOf(pipeline: string, table: string): boolean {
  return RUN_STEM.exec(table.toLowerCase())?.[1] === pipeline;
}

/** What the load needs to know first: the batch's size, its in-batch conflicts and its event-time span. */
export function batchStatsSql(d: Dialect, eventsTable: string): string {
  const events = d.table(eventsTable);
  return `SELECT COUNT(*) AS row_count, COUNT(DISTINCT event_id) AS distinct_ids,
  (SELECT COUNT(*) FROM (SELECT event_id FROM ${events} GROUP BY event_id HAVING COUNT(DISTINCT event_hash) > 1) c) AS conflicting_ids,
  ${d.epochMs('MIN(event_ts)')} AS min_ts_ms, ${d.epochMs('MAX(event_ts)')} AS max_ts_ms
FROM ${events}`;
}

const FACT_COLUMNS = `event_id, event_hash, event_ts, date_key, user_key, model_key, gateway_key, decision,
    was_blocked, latency_ms, input_tokens, output_tokens, total_tokens, cost_usd, policies_evaluated_count,
    policies_triggered_count, team_id, batch_id, request_source, metadata, run_id, loaded_at, package_seq`;

const FACT_TABLES = ['fact_ai_event', 'fact_policy_evaluation'] as const;

/** A one-column relation of literal names (VALUES lists are not portable: BigQuery has none). */
const names = (column: string, values: readonly string[]) =>
  `(${values.map((v) => `SELECT '${v}' AS ${column}`).join(' UNION ALL ')})`;

/** The pipelines of the warehouse, as `p`: `all`, every one that ran here and this one; `others`, all but this one. */
export function pipelinesSql(d: Dialect, which: 'all' | 'others' | 'self'): string {
  const p = (name: string) => d.param(name);
  if (which === 'self') return `SELECT ${p('pipeline')} AS p`;
  return which === 'all'
    ? `SELECT DISTINCT p FROM (SELECT ${p('pipeline')} AS p UNION ALL SELECT pipeline FROM ${d.table('etl_run')}) a`
    : `SELECT DISTINCT pipeline AS p FROM ${d.table('etl_run')} WHERE pipeline <> ${p('pipeline')}`;
}

/**
 * Lake partitions to rewrite whole after the commit (decision 2), pending for
 * every pipeline of the warehouse (`which`): they share its facts, and each
 * keeps its own lake. `dateKeys` selects `date_key`s of both fact tables; null
 * means the (unpartitioned) dimensions.
 */
export function markLakePendingSql(
  d: Dialect,
  dateKeys: string | null,
  which: 'all' | 'others' | 'self' = 'all',
): string {
  const p = (name: string) => d.param(name);
  const pipelines = `(${pipelinesSql(d, which)}) pl`;
  const partitions =
    dateKeys === null
      ? `${names('tbl', DIMENSION_TABLES)} tb CROSS JOIN ${pipelines}`
      : `(SELECT DISTINCT date_key FROM (${dateKeys}) k) dk CROSS JOIN ${names('tbl', FACT_TABLES)} tb CROSS JOIN ${pipelines}`;
  const date = dateKeys === null ? 'CAST(NULL AS DATE)' : d.dateOfKey('dk.date_key');
  return `INSERT INTO ${d.table('etl_lake_pending')} (pipeline, table_name, event_date, run_id)
SELECT pl.p, tb.tbl, ${date}, ${p('run_id')} FROM ${partitions}`;
}

/**
 * The package's own file (`run_id`, `seq`) to add to each partition of the fact
 * `table` it inserted rows into (`dateKeys` selects their `date_key`s), pending
 * for every pipeline of the warehouse: the lake grows by what was inserted,
 * never by rewriting the day (decision 2).
 */
function markPackageFileSql(d: Dialect, table: (typeof FACT_TABLES)[number], dateKeys: string): string {
  const p = (name: string) => d.param(name);
  return `INSERT INTO ${d.table('etl_lake_pending')} (pipeline, table_name, event_date, run_id, package_seq)
SELECT pl.p, '${table}', ${d.dateOfKey('dk.date_key')}, ${p('run_id')}, ${p('seq')}
FROM (SELECT DISTINCT date_key FROM (${dateKeys}) k) dk CROSS JOIN (${pipelinesSql(d, 'all')}) pl`;
}

/**
 * One package's merge over work tables (`winner`, `existing`, `to_insert`,
 * `changed`): de-duplicate the batch (smallest hash wins), find the events
 * already loaded through the id index whatever their date (recording a
 * different version as a conflict: first loaded wins, unless `forceUpdate`
 * replaces it), MERGE the rest insert-only on `event_id`, add their policy
 * rows, index rows and hourly aggregates, mark the files they add to the lake, and count.
 * The work tables are narrow (ids, hash, time, staged row; `to_insert` also the
 * member keys, looked up once for the facts and their policy rows): the batch's
 * other columns are read from its staging table where they are inserted, never
 * copied. Every read of a fact table is restricted to the batch's span (`lo_ts`,
 * `hi_ts`), so warehouses prune partitions; the MERGE's join has no OR.
 */
export interface MergeQueries {
  /** DDL creating the work tables, without parameters; runs before the transaction (Snowflake commits on DDL). */
  prepare: string[];
  /** DML to run as one transaction. */
  statements: string[];
  /** SELECT: what the checks need (inserted, same, conflicts, replaced, policy_rows), measured after the DML. */
  counts: string;
  /** SELECT: the unknown source fields of the events inserted (`field`, `n`). */
  drift: string;
}

export interface MergeOptions {
  hasPolicies: boolean;
  /** `aetl replay --force-update`: a loaded event whose content changed is replaced. */
  forceUpdate: boolean;
  /** Test hooks (util/failpoint.ts `fault`): the lookup misses loaded events; one insert goes missing. */
  missKnown?: boolean;
  loseInsert?: boolean;
}

export function mergeQueries(d: Dialect, staging: StagingTables, options: MergeOptions): MergeQueries {
  const t = (name: string) => d.table(name);
  const p = (name: string) => d.param(name);
  const inSpan = (alias: string) =>
    [
      `${alias}.event_ts >= ${p('lo_ts')} AND ${alias}.event_ts < ${p('hi_ts')}`,
      d.partitionFilter(alias, 'lo_ts', 'hi_ts'),
    ]
      .filter(Boolean)
      .join(' ');
  const events = t(staging.events);
  const winner = t(staging.winner);
  const existing = t(staging.existing);
  const toInsert = t(staging.toInsert);
  const changed = t(staging.changed);
  const index = d.indexKey('event_id');
  const int = d.columnType('int');
  // The facts the MERGE inserts, with every fact column: the narrow work row and its staged row.
  const lost = options.loseInsert ? `\n  WHERE w.staged_row <> (SELECT MIN(staged_row) FROM ${toInsert})` : '';
  const inserted = `SELECT w.event_id, w.event_hash, w.event_ts, w.date_key, w.user_key, w.model_key, w.gateway_key,
    e.decision, e.decision = 'block' AS was_blocked, e.latency_ms, e.input_tokens, e.output_tokens,
    e.input_tokens + e.output_tokens AS total_tokens, e.cost_usd, e.policies_evaluated_count,
    e.policies_triggered_count, e.team_id, e.batch_id, e.request_source, ${d.parseJson('e.metadata')} AS metadata
  FROM ${toInsert} w JOIN ${events} e ON e.staged_row = w.staged_row${lost}`;
  const policies = options.hasPolicies
    ? [
        `INSERT INTO ${t('fact_policy_evaluation')} (event_id, ordinal, policy_key, event_ts, date_key, user_key, model_key,
    gateway_key, result, latency_ms, entities_found, triggered, run_id, loaded_at, package_seq)
SELECT w.event_id, p.ordinal, dp.policy_key, w.event_ts, w.date_key, w.user_key, w.model_key, w.gateway_key,
  p.result, p.latency_ms, p.entities_found, p.triggered, ${p('run_id')}, ${p('now')}, ${p('seq')}
FROM ${t(staging.policies)} p
JOIN ${toInsert} w ON w.staged_row = p.staged_row
JOIN ${t('dim_policy')} dp ON dp.policy_name = p.policy_name`,
      ]
    : [];
  // The loaded events whose content changed give way to the new version: their old partitions are
  // rewritten in the lake (the new version may sit on another day), the conflict says it was
  // replaced, the old rows and this pipeline's index row go (written again with the insert), every
  // other pipeline's index row points to the new version, and they are then inserted like new events.
  const replace = options.forceUpdate
    ? [
        `INSERT INTO ${changed} SELECT event_id, incoming_hash, loaded_date_key FROM ${existing} WHERE loaded_hash <> incoming_hash`,
        markLakePendingSql(d, `SELECT loaded_date_key AS date_key FROM ${changed}`),
        `UPDATE ${t('etl_conflict')} c SET resolution = 'replaced'
WHERE c.pipeline = ${p('pipeline')}
  AND EXISTS (SELECT 1 FROM ${changed} b WHERE b.event_id = c.event_id AND b.incoming_hash = c.incoming_hash)`,
        ...FACT_TABLES.map(
          (fact) => `DELETE FROM ${t(fact)}
WHERE date_key IN (SELECT loaded_date_key FROM ${changed}) AND event_id IN (SELECT event_id FROM ${changed})`,
        ),
        `UPDATE ${t('etl_event_id')} ix SET event_ts = w.event_ts, date_key = w.date_key, event_hash = w.event_hash
FROM ${winner} w WHERE w.event_id = ix.event_id AND ix.event_id IN (SELECT event_id FROM ${changed})`,
        `DELETE FROM ${t('etl_event_id')} WHERE pipeline = ${p('pipeline')} AND event_id IN (SELECT event_id FROM ${changed})`,
        `DELETE FROM ${existing} WHERE loaded_hash <> incoming_hash`,
      ]
    : [];
  return {
    prepare: [
      d.createWorkTable(
        winner,
        `SELECT staged_row, event_id, event_hash, event_ts, date_key FROM ${events} WHERE TRUE
QUALIFY ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY event_hash, staged_row) = 1`,
      ),
      // Shapes only, read from the small staging side: no fact table is scanned (nor billed) here.
      d.createWorkTable(
        existing,
        `SELECT event_id, event_hash AS incoming_hash, event_ts AS incoming_event_ts, event_hash AS loaded_hash,
  event_ts AS loaded_ts, date_key AS loaded_date_key, 0 AS accounted FROM ${winner} LIMIT 0`,
      ),
      d.createWorkTable(
        toInsert,
        `SELECT w.*, CAST(0 AS ${int}) AS user_key, CAST(0 AS ${int}) AS model_key, CAST(0 AS ${int}) AS gateway_key
FROM ${winner} w LIMIT 0`,
      ),
      d.createWorkTable(
        changed,
        `SELECT event_id, event_hash AS incoming_hash, date_key AS loaded_date_key FROM ${winner} LIMIT 0`,
      ),
    ],
    statements: [
      `INSERT INTO ${existing}
SELECT w.event_id, w.event_hash AS incoming_hash, w.event_ts AS incoming_event_ts, ANY_VALUE(ix.event_hash) AS loaded_hash,
  ANY_VALUE(ix.event_ts) AS loaded_ts, ANY_VALUE(ix.date_key) AS loaded_date_key,
  MAX(CASE WHEN ix.pipeline = ${p('pipeline')} THEN 1 ELSE 0 END) AS accounted
FROM ${winner} w
JOIN (SELECT * FROM ${t('etl_event_id')} x WHERE ${d.indexedIdIn('x', `SELECT event_id FROM ${winner}`)}) ix
  ON ix.event_id = w.event_id${options.missKnown ? ' AND FALSE' : ''}
GROUP BY w.event_id, w.event_hash, w.event_ts`,
      `INSERT INTO ${t('etl_conflict')} (pipeline, event_id, loaded_hash, incoming_hash, run_id, detected_at, incoming_event_ts, resolution)
SELECT ${p('pipeline')}, e.event_id, e.loaded_hash, e.incoming_hash, ${p('run_id')}, ${p('now')}, e.incoming_event_ts, 'kept_first'
FROM ${existing} e
WHERE e.loaded_hash <> e.incoming_hash
  AND NOT EXISTS (SELECT 1 FROM ${t('etl_conflict')} c
                  WHERE c.pipeline = ${p('pipeline')} AND c.event_id = e.event_id AND c.incoming_hash = e.incoming_hash)`,
      ...replace,
      // The members valid at each event's time, looked up once for its fact and its policy rows.
      `INSERT INTO ${toInsert} (staged_row, event_id, event_hash, event_ts, date_key, user_key, model_key, gateway_key)
SELECT w.staged_row, w.event_id, w.event_hash, w.event_ts, w.date_key, COALESCE(u.user_key, 0),
  COALESCE(m.model_key, 0), COALESCE(g.gateway_key, 0)
FROM ${winner} w
JOIN ${events} e ON e.staged_row = w.staged_row
LEFT JOIN ${t('dim_user')} u ON u.user_id = e.user_id AND w.event_ts >= u.valid_from AND w.event_ts < u.valid_to
LEFT JOIN ${t('dim_model')} m ON m.model = e.model AND w.event_ts >= m.valid_from AND w.event_ts < m.valid_to
LEFT JOIN ${t('dim_gateway')} g ON g.gateway_id = e.gateway_id AND w.event_ts >= g.valid_from AND w.event_ts < g.valid_to
WHERE NOT EXISTS (SELECT 1 FROM ${existing} x WHERE x.event_id = w.event_id)`,
      `MERGE INTO ${t('fact_ai_event')} f
USING (
  ${inserted}
) s
ON f.event_id = s.event_id AND ${inSpan('f')}
WHEN NOT MATCHED THEN INSERT (${FACT_COLUMNS})
  VALUES (s.event_id, s.event_hash, s.event_ts, s.date_key, s.user_key, s.model_key, s.gateway_key, s.decision,
    s.was_blocked, s.latency_ms, s.input_tokens, s.output_tokens, s.total_tokens, s.cost_usd,
    s.policies_evaluated_count, s.policies_triggered_count, s.team_id, s.batch_id, s.request_source, s.metadata,
    ${p('run_id')}, ${p('now')}, ${p('seq')})`,
      `INSERT INTO ${t('etl_event_id')} (pipeline, event_id, event_hash, event_ts, date_key${index.columns})
SELECT ${p('pipeline')}, event_id, event_hash, event_ts, date_key${index.values} FROM ${toInsert}`,
      `INSERT INTO ${t('etl_event_id')} (pipeline, event_id, event_hash, event_ts, date_key${index.columns})
SELECT ${p('pipeline')}, event_id, loaded_hash, loaded_ts, loaded_date_key${index.values} FROM ${existing} WHERE accounted = 0`,
      ...policies,
      markPackageFileSql(d, 'fact_ai_event', `SELECT date_key FROM ${toInsert}`),
      // The hourly aggregates in the same transaction: this package's hours added, and the days a
      // replaced version left computed again from the facts.
      ...mergeAggregatesSql(d, inserted),
      ...(options.forceUpdate ? recomputeAggregatesSql(d, `SELECT loaded_date_key FROM ${changed}`) : []),
      ...(options.hasPolicies
        ? [
            markPackageFileSql(
              d,
              'fact_policy_evaluation',
              `SELECT w.date_key FROM ${toInsert} w WHERE EXISTS (SELECT 1 FROM ${t(staging.policies)} p WHERE p.staged_row = w.staged_row)`,
            ),
          ]
        : []),
    ],
    // Inserted is measured in the fact table, so counts_balance catches an insert that lost rows.
    counts: `SELECT (SELECT COUNT(*) FROM ${t('fact_ai_event')} f
    WHERE f.run_id = ${p('run_id')} AND ${inSpan('f')} AND f.event_id IN (SELECT event_id FROM ${toInsert})) AS inserted,
  (SELECT ${d.countIf('loaded_hash = incoming_hash')} FROM ${existing}) AS same,
  (SELECT ${d.countIf('loaded_hash <> incoming_hash')} FROM ${existing}) AS conflicts,
  (SELECT COUNT(*) FROM ${changed}) AS replaced,
  ${options.hasPolicies ? `(SELECT COUNT(*) FROM ${t(staging.policies)} p JOIN ${toInsert} w ON w.staged_row = p.staged_row)` : '0'} AS policy_rows`,
    // A replaced event's fields were counted when its first version loaded.
    drift: d.extraFieldCounts(
      events,
      `staged_row IN (SELECT staged_row FROM ${toInsert}) AND event_id NOT IN (SELECT event_id FROM ${changed})`,
    ),
  };
}

/** Rejects keyed by (source location, payload hash): re-reading the same input adds none (decision 3). */
export function insertRejectsSql(d: Dialect, rejectsTable: string): string {
  const p = (name: string) => d.param(name);
  return `INSERT INTO ${d.table('etl_rejected_event')} (pipeline, source_location, source_ref, payload_hash, payload,
    reasons, event_id, run_id, rejected_at, event_ts, read_from, read_to, payload_bytes, payload_sha256, payload_truncated)
SELECT ${p('pipeline')}, r.source_location, r.source_ref, r.payload_hash, r.payload, ${d.parseJson('r.reasons')}, r.event_id,
  ${p('run_id')}, ${p('now')}, r.event_ts, ${p('read_from')}, ${p('read_to')}, r.payload_bytes, r.payload_sha256,
  r.payload_truncated
FROM ${d.table(rejectsTable)} r
WHERE NOT EXISTS (SELECT 1 FROM ${d.table('etl_rejected_event')} e
                  WHERE e.pipeline = ${p('pipeline')} AND e.source_location = r.source_location AND e.payload_hash = r.payload_hash)
QUALIFY ROW_NUMBER() OVER (PARTITION BY r.source_location, r.payload_hash ORDER BY r.source_ref) = 1`;
}

/** The package's quarantined records now stored (measured, so counts_balance catches a reject that went missing). */
export function storedRejectsSql(d: Dialect, rejectsTable: string): string {
  return `SELECT COUNT(*) AS n FROM ${d.table(rejectsTable)} r
WHERE EXISTS (SELECT 1 FROM ${d.table('etl_rejected_event')} e
              WHERE e.pipeline = ${d.param('pipeline')} AND e.source_location = r.source_location AND e.payload_hash = r.payload_hash)`;
}

/** A quarantined record's key as one text (the hash is fixed-width hex, so the pair is unambiguous). */
export function rejectKeyText(key: RejectKey): string {
  return `${key.payloadHash}:${key.sourceLocation}`;
}

/** Marks the rejects a replay loaded again, named by `rejectKeyText`s bound as one JSON list `keys`. */
export function markReplayedSql(d: Dialect): string {
  const p = (name: string) => d.param(name);
  return `UPDATE ${d.table('etl_rejected_event')} SET replayed_at = ${p('now')}, replayed_run_id = ${p('run_id')}
WHERE pipeline = ${p('pipeline')} AND replayed_at IS NULL
  AND ${d.inJsonList("CONCAT(payload_hash, ':', source_location)", 'keys')}`;
}

/** A fault for the check tests (AETL_FAULT=load:lose-reject): one record this run quarantined goes missing. */
export function loseOneRejectSql(d: Dialect): string {
  const p = (name: string) => d.param(name);
  const own = `pipeline = ${p('pipeline')} AND run_id = ${p('run_id')}`;
  return `DELETE FROM ${d.table('etl_rejected_event')} WHERE ${own}
  AND payload_hash = (SELECT MIN(payload_hash) FROM ${d.table('etl_rejected_event')} WHERE ${own})`;
}

/**
 * One unknown source field the load inserted (`drift_field_i`, `drift_count_i`, `drift_type_i`):
 * first seen once, then counted on.
 */
function recordDriftSql(d: Dialect, i: number): string {
  const p = (name: string) => d.param(name);
  return `MERGE INTO ${d.table('etl_schema_drift')} t
USING (SELECT ${p('pipeline')} AS pipeline, ${p(`drift_field_${i}`)} AS field_path, ${p(`drift_count_${i}`)} AS n,
  ${p(`drift_type_${i}`)} AS example_type) s
ON t.pipeline = s.pipeline AND t.field_path = s.field_path
WHEN MATCHED THEN UPDATE SET last_seen = ${p('now')}, seen_count = t.seen_count + s.n, last_run_id = ${p('run_id')}
WHEN NOT MATCHED THEN INSERT (pipeline, field_path, first_seen, last_seen, seen_count, example_type, first_run_id, last_run_id)
  VALUES (s.pipeline, s.field_path, ${p('now')}, ${p('now')}, s.n, s.example_type, ${p('run_id')}, ${p('run_id')})`;
}

/**
 * What a load commits after its checks: the checkpoint (only when they
 * passed), the file ledger and the run's window record. A crash before it
 * leaves the window to be redone, which the insert-only MERGE makes harmless.
 */
export function commitStatements(
  d: Dialect,
  include: { checkpoint: boolean; files: number; driftFields: number },
): string[] {
  const t = (name: string) => d.table(name);
  const p = (name: string) => d.param(name);
  const checkpoint = include.checkpoint
    ? [
        `DELETE FROM ${t('etl_state')} WHERE pipeline = ${p('pipeline')}`,
        `INSERT INTO ${t('etl_state')} (pipeline, checkpoint, run_id, updated_at)
SELECT ${p('pipeline')}, ${p('checkpoint')}, ${p('run_id')}, ${p('now')}`,
      ]
    : [];
  const files = Array.from({ length: include.files }, (_, i) => [
    `DELETE FROM ${t('etl_file_ledger')} WHERE pipeline = ${p('pipeline')} AND path = ${p(`path_${i}`)}`,
    `INSERT INTO ${t('etl_file_ledger')} (pipeline, path, size, sha256, run_id, loaded_at)
SELECT ${p('pipeline')}, ${p(`path_${i}`)}, ${p(`size_${i}`)}, ${p(`sha256_${i}`)}, ${p('run_id')}, ${p('now')}`,
  ]).flat();
  const window = ['run_id', 'pipeline', 'seq', 'window_start', 'window_end', 'source_count', 'read', 'inserted']
    .concat(['already_present', 'in_batch_duplicates', 'conflicts', 'rejected', 'out_of_window', 'policy_rows'])
    .concat(['checkpoint_moved', 'drift', 'extract_ms', 'load_ms', 'committed_at', 'checks_passed']);
  const values = window.map((c) => (c === 'drift' ? d.parseJson(p(c)) : c === 'committed_at' ? p('now') : p(c)));
  const drift = Array.from({ length: include.driftFields }, (_, i) => recordDriftSql(d, i));
  return [
    ...checkpoint,
    ...files,
    ...drift,
    `INSERT INTO ${t('etl_run_window')} (${window.join(', ')})
SELECT ${values.join(', ')}`,
  ];
}
