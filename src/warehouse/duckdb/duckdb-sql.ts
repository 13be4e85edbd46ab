/**
 * DuckDB SQL for one load, as text (testable without a database). Values are
 * bound as `$name` parameters; only file paths, which DuckDB cannot bind in
 * read_parquet, are literal-quoted by sqlString.
 */
import { duckdbDialect } from './duckdb-dialect.js';
import { sqlString } from './duckdb-driver.js';

const parquetList = (files: readonly string[]) => `read_parquet([${files.map(sqlString).join(', ')}])`;

/**
 * Pipelines sharing this warehouse share its facts, and each keeps its own
 * lake: a partition one of them changes is pending for all of them.
 */
const ALL_PIPELINES = `(SELECT $pipeline AS p UNION SELECT DISTINCT pipeline FROM etl_run) pipelines`;

/**
 * The staged events, deduplicated in the batch: per event_id the smallest hash wins (decision 4);
 * copies with equal hashes are equal in every loaded column, so any of them may win.
 */
export function stageBatchSql(eventFiles: readonly string[]): string {
  // A view: the staged Parquet is read column by column where needed, never copied whole.
  return `CREATE OR REPLACE TEMP VIEW batch AS
    SELECT * FROM ${parquetList(eventFiles)}`;
}

export const BATCH_WINNERS_SQL = `CREATE OR REPLACE TEMP TABLE batch_winner AS
  SELECT * FROM batch
  QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY event_hash, staged_row) = 1`;

export const BATCH_STATS_SQL = `SELECT
  (SELECT count(*) FROM batch) AS rows,
  (SELECT count(*) FROM batch_winner) AS distinct_ids,
  (SELECT count(*) FROM (SELECT event_id FROM batch GROUP BY event_id HAVING count(DISTINCT event_hash) > 1)) AS conflicting_ids,
  (SELECT min(date_key) FROM batch_winner) AS min_date_key,
  (SELECT epoch_ms(min(event_ts)) FROM batch_winner) AS min_ts_ms,
  (SELECT epoch_ms(max(event_ts)) FROM batch_winner) AS max_ts_ms,
  (SELECT max(date_key) FROM batch_winner) AS max_date_key`;

/** The dates the id index names for the batch's ids: a scan of its fixed-width id_key column only. */
export const KNOWN_DATES_SQL = `SELECT DISTINCT ix.date_key FROM etl_event_id ix
  WHERE ${duckdbDialect.indexedIdIn('ix', 'SELECT event_id FROM batch_winner')} ORDER BY 1`;

/**
 * The batch's events already loaded, whatever their date (decision 4): looked up exactly in the
 * fact table on the dates the index named (`dates`, integers from KNOWN_DATES_SQL), so only those
 * partitions are read; with whether this pipeline has accounted for each yet.
 */
export function existingSql(dates: readonly number[]): string {
  const known = dates.length === 0 ? 'NULL' : dates.map((d) => String(Math.trunc(d))).join(', ');
  return `CREATE OR REPLACE TEMP TABLE batch_existing AS
  SELECT w.event_id, w.event_hash AS incoming_hash, w.event_ts AS incoming_event_ts,
         any_value(f.event_hash) AS loaded_hash, any_value(f.event_ts) AS loaded_ts,
         any_value(f.date_key) AS loaded_date_key,
         EXISTS (SELECT 1 FROM etl_event_id ix WHERE ix.pipeline = $pipeline AND ix.date_key IN (${known})
                 AND ix.event_id = w.event_id) AS accounted
  FROM batch_winner w JOIN fact_ai_event f ON f.event_id = w.event_id AND f.date_key IN (${known})
  GROUP BY w.event_id, w.event_hash, w.event_ts`;
}

export const RECORD_CONFLICTS_SQL = `INSERT INTO etl_conflict
  SELECT $pipeline, event_id, loaded_hash, incoming_hash, $run_id, $now::TIMESTAMPTZ, incoming_event_ts, 'kept_first'
  FROM batch_existing e
  WHERE loaded_hash <> incoming_hash
    AND NOT EXISTS (SELECT 1 FROM etl_conflict c
                    WHERE c.pipeline = $pipeline AND c.event_id = e.event_id AND c.incoming_hash = e.incoming_hash)`;

/**
 * `replay --force-update`: the loaded events whose content changed give way to
 * the new version. Their old partitions are rewritten in the lake (the new
 * version may sit on another day), the conflict says it was replaced, the old
 * rows go, every pipeline's index row points to the new version (this
 * pipeline's is written again with the insert), and they are then inserted
 * like new events.
 */
export const REPLACE_CHANGED_SQL = [
  `CREATE OR REPLACE TEMP TABLE batch_changed AS
    SELECT event_id, incoming_hash, loaded_date_key FROM batch_existing WHERE loaded_hash <> incoming_hash`,
  markPartitionsPendingSql(`SELECT loaded_date_key AS date_key FROM batch_changed`),
  `UPDATE etl_conflict c SET resolution = 'replaced' FROM batch_changed b
    WHERE c.pipeline = $pipeline AND c.event_id = b.event_id AND c.incoming_hash = b.incoming_hash`,
  `DELETE FROM fact_policy_evaluation
    WHERE date_key IN (SELECT loaded_date_key FROM batch_changed) AND event_id IN (SELECT event_id FROM batch_changed)`,
  `DELETE FROM fact_ai_event
    WHERE date_key IN (SELECT loaded_date_key FROM batch_changed) AND event_id IN (SELECT event_id FROM batch_changed)`,
  `UPDATE etl_event_id ix SET event_ts = w.event_ts, date_key = w.date_key, event_hash = w.event_hash
    FROM batch_winner w WHERE w.event_id = ix.event_id AND ix.event_id IN (SELECT event_id FROM batch_changed)`,
  `DELETE FROM etl_event_id WHERE pipeline = $pipeline AND event_id IN (SELECT event_id FROM batch_changed)`,
];
/** The replaced events leave batch_existing, so they are inserted like new ones. */
export const LET_CHANGED_IN_SQL = `DELETE FROM batch_existing WHERE loaded_hash <> incoming_hash`;

export const TO_INSERT_SQL = `CREATE OR REPLACE TEMP TABLE to_insert AS
  SELECT w.* FROM batch_winner w ANTI JOIN batch_existing e ON e.event_id = w.event_id`;

/** Natural keys the batch references that the dimension does not know yet (they become inferred members). */
export const MISSING_MEMBERS_SQL = {
  users: `SELECT DISTINCT user_id AS id FROM to_insert t WHERE user_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM dim_user d WHERE d.user_id = t.user_id)`,
  gateways: `SELECT DISTINCT gateway_id AS id FROM to_insert t WHERE gateway_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM dim_gateway d WHERE d.gateway_id = t.gateway_id)`,
  models: `SELECT model AS id, min(provider) AS provider FROM to_insert t WHERE model IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM dim_model d WHERE d.model = t.model) GROUP BY model`,
} as const;

export function missingPoliciesSql(policyFiles: readonly string[]): string {
  return `SELECT DISTINCT policy_name AS id FROM ${parquetList(policyFiles)} p
    WHERE NOT EXISTS (SELECT 1 FROM dim_policy d WHERE d.policy_name = p.policy_name)`;
}

/** dim_date covers the whole loaded range without gaps: quiet days are days too. */
export const INSERT_DATES_SQL = `INSERT INTO dim_date
  SELECT CAST(strftime(d, '%Y%m%d') AS INTEGER), d, year(d), quarter(d), month(d), monthname(d), weekofyear(d),
         day(d), isodow(d), dayname(d), isodow(d) >= 6
  FROM (SELECT unnest(generate_series(lo, hi, INTERVAL 1 DAY))::DATE AS d
        FROM (SELECT min(d) AS lo, max(d) AS hi
              FROM (SELECT strptime(date_key::VARCHAR, '%Y%m%d')::DATE AS d FROM to_insert
                    UNION ALL SELECT date FROM dim_date)) bounds
        WHERE lo IS NOT NULL) days
  WHERE NOT EXISTS (SELECT 1 FROM dim_date x WHERE x.date = days.d)`;

/** Each fact points to the dimension version valid at its event time; a null natural key to the unknown member 0. */
/**
 * The fact rows to insert, with their dimension keys (the version valid at the event time):
 * built once, then inserted and joined to the policy rows without scanning the fact table.
 */
export const KEYED_FACTS_SQL = `CREATE OR REPLACE TEMP TABLE to_insert_keyed AS
  SELECT t.staged_row, t.event_id, t.event_hash, t.event_ts, t.date_key,
         coalesce(u.user_key, 0) AS user_key, coalesce(m.model_key, 0) AS model_key,
         coalesce(g.gateway_key, 0) AS gateway_key,
         t.decision, t.decision = 'block' AS was_blocked, t.latency_ms, t.input_tokens, t.output_tokens,
         t.input_tokens + t.output_tokens AS total_tokens, t.cost_usd, t.policies_evaluated_count,
         t.policies_triggered_count, t.team_id, t.batch_id, t.request_source, t.metadata::JSON AS metadata
  FROM to_insert t
  LEFT JOIN dim_user u ON u.user_id = t.user_id AND t.event_ts >= u.valid_from AND t.event_ts < u.valid_to
  LEFT JOIN dim_model m ON m.model = t.model AND t.event_ts >= m.valid_from AND t.event_ts < m.valid_to
  LEFT JOIN dim_gateway g ON g.gateway_id = t.gateway_id AND t.event_ts >= g.valid_from AND t.event_ts < g.valid_to`;

export const INSERT_FACTS_SQL = `INSERT INTO fact_ai_event
  SELECT * EXCLUDE (staged_row), $run_id, $now::TIMESTAMPTZ FROM to_insert_keyed`;

/** The inserted events enter the id index as this pipeline's. */
export const INDEX_INSERTED_SQL = `INSERT INTO etl_event_id
  SELECT md5_number_lower(event_id), $pipeline, event_id, event_ts, date_key, event_hash FROM to_insert_keyed`;

/** Events another pipeline (or an earlier version of the index) loaded: now accounted for by this one too. */
export const INDEX_PRESENT_SQL = `INSERT INTO etl_event_id
  SELECT md5_number_lower(event_id), $pipeline, event_id, loaded_ts, loaded_date_key, loaded_hash FROM batch_existing WHERE NOT accounted`;

/** A fault for the check tests (AETL_FAULT=load:lose-insert): one fact the load should insert goes missing. */
export const LOSE_ONE_INSERT_SQL = `DELETE FROM to_insert_keyed WHERE staged_row = (SELECT min(staged_row) FROM to_insert_keyed)`;

/** Policy rows of the events inserted now: those of the winning staged row only. */
export function insertPolicyFactsSql(policyFiles: readonly string[]): string {
  return `INSERT INTO fact_policy_evaluation
  SELECT p.event_id, p.ordinal, dp.policy_key, f.event_ts, f.date_key, f.user_key, f.model_key, f.gateway_key,
         p.result, p.latency_ms, p.entities_found, p.triggered, $run_id, $now::TIMESTAMPTZ
  FROM ${parquetList(policyFiles)} p
  JOIN to_insert_keyed f ON f.staged_row = p.staged_row
  JOIN dim_policy dp ON dp.policy_name = p.policy_name`;
}

/**
 * Rejects keyed by (source location, payload hash): re-reading the same input adds none (decision 3).
 * By name: the replay columns added later stay null.
 */
export function insertRejectsSql(rejectFiles: readonly string[]): string {
  return `INSERT INTO etl_rejected_event BY NAME
  SELECT $pipeline AS pipeline, r.source_location, r.source_ref, r.payload_hash, r.payload, r.reasons::JSON AS reasons,
         r.event_id, $run_id AS run_id, $now::TIMESTAMPTZ AS rejected_at, r.event_ts,
         $read_from::TIMESTAMPTZ AS read_from, $read_to::TIMESTAMPTZ AS read_to,
         r.payload_bytes, r.payload_sha256, r.payload_truncated
  FROM (SELECT * FROM ${parquetList(rejectFiles)}
        QUALIFY row_number() OVER (PARTITION BY source_location, payload_hash ORDER BY source_ref) = 1) r
  WHERE NOT EXISTS (SELECT 1 FROM etl_rejected_event e
                    WHERE e.pipeline = $pipeline AND e.source_location = r.source_location
                      AND e.payload_hash = r.payload_hash)`;
}

/** The load's temporary tables, dropped after each package so memory does not carry over. */
export const DROP_BATCH_SQL = `DROP TABLE IF EXISTS to_insert_keyed; DROP TABLE IF EXISTS to_insert;
  DROP TABLE IF EXISTS batch_existing; DROP TABLE IF EXISTS batch_changed; DROP TABLE IF EXISTS batch_winner;
  DROP VIEW IF EXISTS batch`;

/** Both fact tables' partitions of the dates a query (of `date_key`) returns, pending in every pipeline's lake. */
export function markPartitionsPendingSql(dateKeys: string): string {
  return `INSERT INTO etl_lake_pending
  SELECT DISTINCT p, tbl, strptime(date_key::VARCHAR, '%Y%m%d')::DATE, $run_id
  FROM (${dateKeys}) dates, (VALUES ('fact_ai_event'), ('fact_policy_evaluation')) AS t(tbl), ${ALL_PIPELINES}`;
}

export const MARK_LAKE_PENDING_SQL = markPartitionsPendingSql('SELECT date_key FROM to_insert');

/**
 * Unknown top-level fields of the inserted events (kept under metadata._extra_fields), with how many
 * carry each; a replaced event (`--force-update`) was counted when its first version loaded.
 */
export function insertedDriftSql(forceUpdate: boolean): string {
  const replaced = forceUpdate ? 'AND event_id NOT IN (SELECT event_id FROM batch_changed)' : '';
  return `SELECT field, count(*) AS n
  FROM (SELECT unnest(json_keys(metadata->'_extra_fields')) AS field FROM to_insert_keyed
        WHERE (metadata->'_extra_fields') IS NOT NULL ${replaced})
  GROUP BY 1 ORDER BY 1`;
}

/** One unknown source field a load inserted: first seen once, then counted on. */
export const RECORD_DRIFT_SQL = `INSERT INTO etl_schema_drift
  VALUES ($pipeline, $field, $now::TIMESTAMPTZ, $now::TIMESTAMPTZ, $count, $type, $run_id, $run_id)
  ON CONFLICT (pipeline, field_path) DO UPDATE SET
    last_seen = excluded.last_seen, seen_count = seen_count + excluded.seen_count, last_run_id = excluded.last_run_id`;

/** The checkpoint never moves backwards (decision 5): the caller passes max(old, window end). */
export const DELETE_CHECKPOINT_SQL = `DELETE FROM etl_state WHERE pipeline = $pipeline`;
export const INSERT_CHECKPOINT_SQL = `INSERT INTO etl_state VALUES ($pipeline, $to::TIMESTAMPTZ, $run_id, $now::TIMESTAMPTZ)`;

/**
 * A fact date whose rows were deleted (retention): the other pipelines' lakes
 * rewrite that partition without them (this pipeline's folders are removed).
 */
export const MARK_DATE_PENDING_FOR_OTHERS_SQL = `INSERT INTO etl_lake_pending
  SELECT DISTINCT pipeline, tbl, $date::DATE, $run_id
  FROM (VALUES ('fact_ai_event'), ('fact_policy_evaluation')) AS t(tbl), etl_run
  WHERE pipeline <> $pipeline`;

/** Dimensions are small and written to the lake whole. */
export const MARK_DIMENSIONS_PENDING_SQL = `INSERT INTO etl_lake_pending
  SELECT p, tbl, NULL, $run_id
  FROM (VALUES ('dim_user'), ('dim_gateway'), ('dim_model'), ('dim_policy'), ('dim_date')) AS t(tbl), ${ALL_PIPELINES}`;

/** After a re-key, every fact partition is rewritten. */
export const MARK_ALL_PARTITIONS_PENDING_SQL = markPartitionsPendingSql('SELECT DISTINCT date_key FROM fact_ai_event');

/** The package's quarantined records now stored (measured, so counts_balance catches a reject that went missing). */
export function storedRejectsSql(rejectFiles: readonly string[]): string {
  return `SELECT count(*) AS n FROM ${parquetList(rejectFiles)} r
  WHERE EXISTS (SELECT 1 FROM etl_rejected_event e WHERE e.pipeline = $pipeline
                AND e.source_location = r.source_location AND e.payload_hash = r.payload_hash)`;
}

/** A fault for the check tests (AETL_FAULT=load:lose-reject): one record this run quarantined goes missing. */
export const LOSE_ONE_REJECT_SQL = `DELETE FROM etl_rejected_event WHERE pipeline = $pipeline AND run_id = $run_id
  AND payload_hash = (SELECT min(payload_hash) FROM etl_rejected_event WHERE pipeline = $pipeline AND run_id = $run_id)`;
