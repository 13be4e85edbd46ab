/**
 * BigQuery SQL for one load, as text (testable without a server; the stand-in
 * runs it in tests). Values are bound as `@name` parameters; names that reach
 * SQL (project, dataset, tables) are validated and backtick-quoted here.
 */
const NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,1023}$/;

export interface Dataset {
  project: string;
  dataset: string;
}

/** `project.dataset.table`, backtick-quoted; refuses any name that is not a plain identifier. */
export function tableRef({ project, dataset }: Dataset, table: string): string {
  for (const [what, name] of [
    ['project', project],
    ['dataset', dataset],
    ['table', table],
  ] as const) {
    if (!NAME.test(name)) throw new Error(`invalid BigQuery ${what} name: ${JSON.stringify(name)}`);
  }
  return `\`${project}.${dataset}.${table}\``;
}

/** The run-scoped staging tables one package is loaded into (dropped after its load). */
export interface StagingTables {
  events: string;
  policies: string;
  rejects: string;
}

export const STAGING_PREFIX = '_aetl_stage_';

export function stagingTables(runId: string, seq: number): StagingTables {
  const stem = `${STAGING_PREFIX}${runId.toLowerCase().replace(/[^a-z0-9]+/g, '_')}_${seq}`;
  return { events: `${stem}_events`, policies: `${stem}_policies`, rejects: `${stem}_rejects` };
}

/** What the load needs to know first: the batch's size, its in-batch conflicts and its event-time span. */
export function batchStatsSql(ds: Dataset, eventsTable: string): string {
  const events = tableRef(ds, eventsTable);
  return `SELECT COUNT(*) AS row_count, COUNT(DISTINCT event_id) AS distinct_ids,
  (SELECT COUNT(*) FROM (SELECT event_id FROM ${events} GROUP BY event_id HAVING COUNT(DISTINCT event_hash) > 1)) AS conflicting_ids,
  UNIX_MILLIS(MIN(event_ts)) AS min_ts_ms, UNIX_MILLIS(MAX(event_ts)) AS max_ts_ms
FROM ${events}`;
}

const FACT_COLUMNS = `event_id, event_hash, event_ts, date_key, user_key, model_key, gateway_key, decision,
    was_blocked, latency_ms, input_tokens, output_tokens, total_tokens, cost_usd, policies_evaluated_count,
    policies_triggered_count, team_id, batch_id, request_source, metadata, run_id, loaded_at`;

/** Reads of a fact table are restricted to the batch's span widened by the conflict horizon: partition pruning. */
const IN_SPAN = (alias: string) => `${alias}.event_ts >= @lo_ts AND ${alias}.event_ts < @hi_ts`;

/**
 * One package's events as one multi-statement transaction: de-duplicate the
 * batch (smallest hash wins), find the events already loaded (recording a
 * different version as a conflict: first loaded wins), `MERGE` the rest
 * insert-only on `event_id`, add their policy rows. Its last statement
 * returns the counts the checks need.
 */
export function loadScript(ds: Dataset, staging: StagingTables, hasPolicies: boolean): string {
  const t = (name: string) => tableRef(ds, name);
  const policyRows = hasPolicies
    ? `INSERT INTO ${t('fact_policy_evaluation')} (event_id, ordinal, policy_key, event_ts, date_key, user_key, model_key,
    gateway_key, result, latency_ms, entities_found, triggered, run_id, loaded_at)
SELECT p.event_id, p.ordinal, dp.policy_key, f.event_ts, f.date_key, f.user_key, f.model_key, f.gateway_key,
  p.result, p.latency_ms, p.entities_found, p.triggered, @run_id, @now
FROM ${t(staging.policies)} p
JOIN to_insert w ON w.staged_row = p.staged_row
JOIN ${t('fact_ai_event')} f ON f.event_id = w.event_id AND ${IN_SPAN('f')}
JOIN ${t('dim_policy')} dp ON dp.policy_name = p.policy_name;
`
    : '';
  const policyCount = hasPolicies
    ? `(SELECT COUNT(*) FROM ${t(staging.policies)} p JOIN to_insert w ON w.staged_row = p.staged_row)`
    : '0';
  return `BEGIN TRANSACTION;

CREATE OR REPLACE TEMP TABLE batch_winner AS
SELECT * FROM ${t(staging.events)} WHERE TRUE
QUALIFY ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY event_hash, staged_row) = 1;

CREATE OR REPLACE TEMP TABLE batch_existing AS
SELECT w.event_id, w.event_hash AS incoming_hash, w.event_ts AS incoming_event_ts, ANY_VALUE(f.event_hash) AS loaded_hash
FROM batch_winner w JOIN ${t('fact_ai_event')} f ON f.event_id = w.event_id AND ${IN_SPAN('f')}
GROUP BY w.event_id, w.event_hash, w.event_ts;

INSERT INTO ${t('etl_conflict')} (pipeline, event_id, loaded_hash, incoming_hash, run_id, detected_at, incoming_event_ts)
SELECT @pipeline, e.event_id, e.loaded_hash, e.incoming_hash, @run_id, @now, e.incoming_event_ts
FROM batch_existing e
WHERE e.loaded_hash <> e.incoming_hash
  AND NOT EXISTS (SELECT 1 FROM ${t('etl_conflict')} c
                  WHERE c.pipeline = @pipeline AND c.event_id = e.event_id AND c.incoming_hash = e.incoming_hash);

CREATE OR REPLACE TEMP TABLE to_insert AS
SELECT w.* FROM batch_winner w
WHERE NOT EXISTS (SELECT 1 FROM batch_existing e WHERE e.event_id = w.event_id);

MERGE ${t('fact_ai_event')} f
USING (
  SELECT w.event_id, w.event_hash, w.event_ts, w.date_key,
    COALESCE(u.user_key, 0) AS user_key, COALESCE(m.model_key, 0) AS model_key,
    COALESCE(g.gateway_key, 0) AS gateway_key, w.decision, w.decision = 'block' AS was_blocked, w.latency_ms,
    w.input_tokens, w.output_tokens, w.input_tokens + w.output_tokens AS total_tokens, w.cost_usd,
    w.policies_evaluated_count, w.policies_triggered_count, w.team_id, w.batch_id, w.request_source,
    PARSE_JSON(w.metadata) AS metadata
  FROM to_insert w
  LEFT JOIN ${t('dim_user')} u ON u.user_id = w.user_id AND w.event_ts >= u.valid_from AND w.event_ts < u.valid_to
  LEFT JOIN ${t('dim_model')} m ON m.model = w.model AND w.event_ts >= m.valid_from AND w.event_ts < m.valid_to
  LEFT JOIN ${t('dim_gateway')} g ON g.gateway_id = w.gateway_id AND w.event_ts >= g.valid_from AND w.event_ts < g.valid_to
) s
ON f.event_id = s.event_id AND ${IN_SPAN('f')}
WHEN NOT MATCHED THEN INSERT (${FACT_COLUMNS})
  VALUES (s.event_id, s.event_hash, s.event_ts, s.date_key, s.user_key, s.model_key, s.gateway_key, s.decision,
    s.was_blocked, s.latency_ms, s.input_tokens, s.output_tokens, s.total_tokens, s.cost_usd,
    s.policies_evaluated_count, s.policies_triggered_count, s.team_id, s.batch_id, s.request_source, s.metadata,
    @run_id, @now);

${policyRows}
COMMIT TRANSACTION;

SELECT (SELECT COUNT(*) FROM to_insert) AS inserted,
  (SELECT COUNTIF(loaded_hash = incoming_hash) FROM batch_existing) AS same,
  (SELECT COUNTIF(loaded_hash <> incoming_hash) FROM batch_existing) AS conflicts,
  ${policyCount} AS policy_rows,
  (SELECT COUNT(*) FROM batch_winner w
   WHERE EXISTS (SELECT 1 FROM ${t('fact_ai_event')} f WHERE f.event_id = w.event_id AND ${IN_SPAN('f')})) AS present`;
}

/** Rejects keyed by (source location, payload hash): re-reading the same input adds none (decision 3). */
export function insertRejectsSql(ds: Dataset, rejectsTable: string): string {
  return `INSERT INTO ${tableRef(ds, 'etl_rejected_event')} (pipeline, source_location, source_ref, payload_hash, payload,
    reasons, event_id, run_id, rejected_at, event_ts, read_from, read_to)
SELECT @pipeline, r.source_location, r.source_ref, r.payload_hash, r.payload, PARSE_JSON(r.reasons), r.event_id,
  @run_id, @now, r.event_ts, @read_from, @read_to
FROM ${tableRef(ds, rejectsTable)} r
WHERE NOT EXISTS (SELECT 1 FROM ${tableRef(ds, 'etl_rejected_event')} e
                  WHERE e.pipeline = @pipeline AND e.source_location = r.source_location AND e.payload_hash = r.payload_hash)
QUALIFY ROW_NUMBER() OVER (PARTITION BY r.source_location, r.payload_hash ORDER BY r.source_ref) = 1`;
}

/**
 * What a load commits after its checks, in one transaction: the checkpoint
 * (only when they passed), the file ledger and the run's window record.
 * A crash before it leaves the window to be redone, which the MERGE makes harmless.
 */
export function commitScript(ds: Dataset, include: { checkpoint: boolean; files: number }): string {
  const t = (name: string) => tableRef(ds, name);
  const checkpoint = include.checkpoint
    ? `DELETE FROM ${t('etl_state')} WHERE pipeline = @pipeline;
INSERT INTO ${t('etl_state')} (pipeline, checkpoint, run_id, updated_at) VALUES (@pipeline, @checkpoint, @run_id, @now);
`
    : '';
  const files = Array.from(
    { length: include.files },
    (_, i) => `DELETE FROM ${t('etl_file_ledger')} WHERE pipeline = @pipeline AND path = @path_${i};
INSERT INTO ${t('etl_file_ledger')} (pipeline, path, size, sha256, run_id, loaded_at)
VALUES (@pipeline, @path_${i}, @size_${i}, @sha256_${i}, @run_id, @now);
`,
  ).join('');
  return `BEGIN TRANSACTION;
${checkpoint}${files}INSERT INTO ${t('etl_run_window')} (run_id, pipeline, seq, window_start, window_end, source_count, read,
  inserted, already_present, in_batch_duplicates, conflicts, rejected, out_of_window, policy_rows, checkpoint_moved, drift,
  extract_ms, load_ms, committed_at, checks_passed)
VALUES (@run_id, @pipeline, @seq, @window_start, @window_end, @source_count, @read, @inserted, @already_present,
  @in_batch_duplicates, @conflicts, @rejected, @out_of_window, @policy_rows, @checkpoint_moved, PARSE_JSON(@drift),
  @extract_ms, @load_ms, @now, @checks_passed);
COMMIT TRANSACTION;`;
}
