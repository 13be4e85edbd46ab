import type { Dialect } from '../dialect.js';
import { markDimensionsSql, markFactPartitionsSql } from './sql-lake.js';

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
}

export const STAGING_PREFIX = '_aetl_stage_';
const STAGING_KINDS = ['events', 'policies', 'rejects', 'winner', 'existing', 'to_insert'] as const;
/** A run id as it appears in a staging table name (newRunId: `20261123T174228Z-c3a59a`). */
const RUN_STEM =
  /^_aetl_stage_(.+)_(\d{8}t\d{6}z_[0-9a-f]+)_\d+_(?:events|policies|rejects|winner|existing|to_insert)$/;

/** Names carry the pipeline, so a run only ever drops its own pipeline's leftovers. */
export function stagingTables(pipeline: string, runId: string, seq: number): StagingTables {
  const stem = `${STAGING_PREFIX}${pipeline}_${runId.toLowerCase().replace(/[^a-z0-9]+/g, '_')}_${seq}`;
  const [events, policies, rejects, winner, existing, toInsert] = STAGING_KINDS.map((kind) => `${stem}_${kind}`);
  return {
    events: events!,
    policies: policies!,
    rejects: rejects!,
    winner: winner!,
    existing: existing!,
    toInsert: toInsert!,
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
    policies_triggered_count, team_id, batch_id, request_source, metadata, run_id, loaded_at`;

/**
 * One package's merge over work tables (`winner`, `existing`, `to_insert`):
 * de-duplicate the batch (smallest hash wins), find the events already loaded
 * through the id index whatever their date (recording a different version as
 * a conflict: first loaded wins), MERGE the rest insert-only on `event_id`,
 * add their policy rows and their index rows, and count. Every read of a fact
 * table is restricted to the batch's span (`lo_ts`, `hi_ts`), so warehouses
 * prune partitions; the MERGE's join has no OR.
 */
export interface MergeQueries {
  /** DDL creating the work tables, without parameters; runs before the transaction (Snowflake commits on DDL). */
  prepare: string[];
  /** DML to run as one transaction. */
  statements: string[];
  /** SELECT: what the checks need (inserted, same, conflicts, policy_rows). */
  counts: string;
}

export function mergeQueries(d: Dialect, staging: StagingTables, hasPolicies: boolean): MergeQueries {
  const t = (name: string) => d.table(name);
  const p = (name: string) => d.param(name);
  const inSpan = (alias: string) => `${alias}.event_ts >= ${p('lo_ts')} AND ${alias}.event_ts < ${p('hi_ts')}`;
  const [winner, existing, toInsert] = [t(staging.winner), t(staging.existing), t(staging.toInsert)];
  // Work tables are dropped after the load: Snowflake's transient tables skip fail-safe storage for them.
  const create = d.name === 'snowflake' ? 'CREATE OR REPLACE TRANSIENT TABLE' : 'CREATE OR REPLACE TABLE';
  const policies = hasPolicies
    ? [
        `INSERT INTO ${t('fact_policy_evaluation')} (event_id, ordinal, policy_key, event_ts, date_key, user_key, model_key,
    gateway_key, result, latency_ms, entities_found, triggered, run_id, loaded_at)
SELECT p.event_id, p.ordinal, dp.policy_key, f.event_ts, f.date_key, f.user_key, f.model_key, f.gateway_key,
  p.result, p.latency_ms, p.entities_found, p.triggered, ${p('run_id')}, ${p('now')}
FROM ${t(staging.policies)} p
JOIN ${toInsert} w ON w.staged_row = p.staged_row
JOIN ${t('fact_ai_event')} f ON f.event_id = w.event_id AND ${inSpan('f')}
JOIN ${t('dim_policy')} dp ON dp.policy_name = p.policy_name`,
      ]
    : [];
  return {
    prepare: [
      `${create} ${winner} AS
SELECT * FROM ${t(staging.events)} WHERE TRUE
QUALIFY ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY event_hash, staged_row) = 1`,
      // Shapes only, read from the small staging side: no fact table is scanned (nor billed) here.
      `${create} ${existing} AS
SELECT event_id, event_hash AS incoming_hash, event_ts AS incoming_event_ts, event_hash AS loaded_hash,
  event_ts AS loaded_ts, date_key AS loaded_date_key, 0 AS accounted FROM ${winner} LIMIT 0`,
      `${create} ${toInsert} AS SELECT * FROM ${winner} LIMIT 0`,
    ],
    statements: [
      `INSERT INTO ${existing}
SELECT w.event_id, w.event_hash AS incoming_hash, w.event_ts AS incoming_event_ts, ANY_VALUE(ix.event_hash) AS loaded_hash,
  ANY_VALUE(ix.event_ts) AS loaded_ts, ANY_VALUE(ix.date_key) AS loaded_date_key,
  MAX(CASE WHEN ix.pipeline = ${p('pipeline')} THEN 1 ELSE 0 END) AS accounted
FROM ${winner} w JOIN ${t('etl_event_id')} ix ON ix.event_id = w.event_id
GROUP BY w.event_id, w.event_hash, w.event_ts`,
      `INSERT INTO ${t('etl_conflict')} (pipeline, event_id, loaded_hash, incoming_hash, run_id, detected_at, incoming_event_ts)
SELECT ${p('pipeline')}, e.event_id, e.loaded_hash, e.incoming_hash, ${p('run_id')}, ${p('now')}, e.incoming_event_ts
FROM ${existing} e
WHERE e.loaded_hash <> e.incoming_hash
  AND NOT EXISTS (SELECT 1 FROM ${t('etl_conflict')} c
                  WHERE c.pipeline = ${p('pipeline')} AND c.event_id = e.event_id AND c.incoming_hash = e.incoming_hash)`,
      `INSERT INTO ${toInsert}
SELECT w.* FROM ${winner} w
WHERE NOT EXISTS (SELECT 1 FROM ${existing} e WHERE e.event_id = w.event_id)`,
      `MERGE INTO ${t('fact_ai_event')} f
USING (
  SELECT w.event_id, w.event_hash, w.event_ts, w.date_key,
    COALESCE(u.user_key, 0) AS user_key, COALESCE(m.model_key, 0) AS model_key,
    COALESCE(g.gateway_key, 0) AS gateway_key, w.decision, w.decision = 'block' AS was_blocked, w.latency_ms,
    w.input_tokens, w.output_tokens, w.input_tokens + w.output_tokens AS total_tokens, w.cost_usd,
    w.policies_evaluated_count, w.policies_triggered_count, w.team_id, w.batch_id, w.request_source,
    PARSE_JSON(w.metadata) AS metadata
  FROM ${toInsert} w
  LEFT JOIN ${t('dim_user')} u ON u.user_id = w.user_id AND w.event_ts >= u.valid_from AND w.event_ts < u.valid_to
  LEFT JOIN ${t('dim_model')} m ON m.model = w.model AND w.event_ts >= m.valid_from AND w.event_ts < m.valid_to
  LEFT JOIN ${t('dim_gateway')} g ON g.gateway_id = w.gateway_id AND w.event_ts >= g.valid_from AND w.event_ts < g.valid_to
) s
ON f.event_id = s.event_id AND ${inSpan('f')}
WHEN NOT MATCHED THEN INSERT (${FACT_COLUMNS})
  VALUES (s.event_id, s.event_hash, s.event_ts, s.date_key, s.user_key, s.model_key, s.gateway_key, s.decision,
    s.was_blocked, s.latency_ms, s.input_tokens, s.output_tokens, s.total_tokens, s.cost_usd,
    s.policies_evaluated_count, s.policies_triggered_count, s.team_id, s.batch_id, s.request_source, s.metadata,
    ${p('run_id')}, ${p('now')})`,
      `INSERT INTO ${t('etl_event_id')} (pipeline, event_id, event_hash, event_ts, date_key)
SELECT ${p('pipeline')}, event_id, event_hash, event_ts, date_key FROM ${toInsert}`,
      `INSERT INTO ${t('etl_event_id')} (pipeline, event_id, event_hash, event_ts, date_key)
SELECT ${p('pipeline')}, event_id, loaded_hash, loaded_ts, loaded_date_key FROM ${existing} WHERE accounted = 0`,
      ...policies,
      // The lake (DESIGN.md decision 2): the touched days and the dimensions, published after the commit.
      markFactPartitionsSql(d, `SELECT event_ts FROM ${toInsert}`),
      markDimensionsSql(d),
    ],
    counts: `SELECT (SELECT COUNT(*) FROM ${toInsert}) AS inserted,
  (SELECT ${d.countIf('loaded_hash = incoming_hash')} FROM ${existing}) AS same,
  (SELECT ${d.countIf('loaded_hash <> incoming_hash')} FROM ${existing}) AS conflicts,
  ${hasPolicies ? `(SELECT COUNT(*) FROM ${t(staging.policies)} p JOIN ${toInsert} w ON w.staged_row = p.staged_row)` : '0'} AS policy_rows`,
  };
}

/** Rejects keyed by (source location, payload hash): re-reading the same input adds none (decision 3). */
export function insertRejectsSql(d: Dialect, rejectsTable: string): string {
  const p = (name: string) => d.param(name);
  return `INSERT INTO ${d.table('etl_rejected_event')} (pipeline, source_location, source_ref, payload_hash, payload,
    reasons, event_id, run_id, rejected_at, event_ts, read_from, read_to, payload_bytes, payload_sha256, payload_truncated)
SELECT ${p('pipeline')}, r.source_location, r.source_ref, r.payload_hash, r.payload, PARSE_JSON(r.reasons), r.event_id,
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

/**
 * What a load commits after its checks: the checkpoint (only when they
 * passed), the file ledger and the run's window record. A crash before it
 * leaves the window to be redone, which the insert-only MERGE makes harmless.
 */
export function commitStatements(d: Dialect, include: { checkpoint: boolean; files: number }): string[] {
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
  const values = window.map((c) => (c === 'drift' ? `PARSE_JSON(${p(c)})` : c === 'committed_at' ? p('now') : p(c)));
  return [
    ...checkpoint,
    ...files,
    `INSERT INTO ${t('etl_run_window')} (${window.join(', ')})
SELECT ${values.join(', ')}`,
  ];
}
