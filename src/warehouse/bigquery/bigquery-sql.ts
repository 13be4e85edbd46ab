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

/** The run-scoped staging tables one package is loaded into (dropped after its MERGE). */
export function stagingTables(runId: string, seq: number): { events: string; policies: string } {
  const stem = `_aetl_stage_${runId.toLowerCase().replace(/[^a-z0-9]+/g, '_')}_${seq}`;
  return { events: `${stem}_events`, policies: `${stem}_policies` };
}

/** What the MERGE needs to know first: the batch's size and its event-time span (for partition pruning). */
export function batchStatsSql(ds: Dataset, eventsTable: string): string {
  return `SELECT COUNT(*) AS row_count, COUNT(DISTINCT event_id) AS distinct_ids,
  UNIX_MILLIS(MIN(event_ts)) AS min_ts_ms, UNIX_MILLIS(MAX(event_ts)) AS max_ts_ms
FROM ${tableRef(ds, eventsTable)}`;
}

const FACT_COLUMNS = `event_id, event_hash, event_ts, date_key, user_key, model_key, gateway_key, decision,
    was_blocked, latency_ms, input_tokens, output_tokens, total_tokens, cost_usd, policies_evaluated_count,
    policies_triggered_count, team_id, batch_id, request_source, metadata, run_id, loaded_at`;

/**
 * One package's load as one multi-statement transaction: de-duplicate the
 * batch (smallest hash wins), keep the events not loaded yet (`to_insert`),
 * `MERGE` them insert-only on `event_id`, add their policy rows, and move the
 * checkpoint, all committed together. Every read of a fact table is restricted
 * to the batch's time span widened by the conflict horizon (`@lo_ts`..`@hi_ts`),
 * so only those partitions are scanned and billed.
 */
export function loadScript(
  ds: Dataset,
  staging: { events: string; policies: string },
  include: { policies: boolean; checkpoint: boolean },
): string {
  const t = (name: string) => tableRef(ds, name);
  const checkpoint = include.checkpoint
    ? `
DELETE FROM ${t('etl_state')} WHERE pipeline = @pipeline;
INSERT INTO ${t('etl_state')} (pipeline, checkpoint, run_id, updated_at) VALUES (@pipeline, @checkpoint, @run_id, @now);`
    : '';
  const policyRows = include.policies
    ? `INSERT INTO ${t('fact_policy_evaluation')} (event_id, ordinal, policy_key, event_ts, date_key, user_key, model_key,
    gateway_key, result, latency_ms, entities_found, triggered, run_id, loaded_at)
SELECT p.event_id, p.ordinal, dp.policy_key, f.event_ts, f.date_key, f.user_key, f.model_key, f.gateway_key,
  p.result, p.latency_ms, p.entities_found, p.triggered, @run_id, @now
FROM ${t(staging.policies)} p
JOIN to_insert w ON w.staged_row = p.staged_row
JOIN ${t('fact_ai_event')} f
  ON f.event_id = w.event_id AND f.event_ts >= @lo_ts AND f.event_ts < @hi_ts
JOIN ${t('dim_policy')} dp ON dp.policy_name = p.policy_name;`
    : '';
  return `BEGIN TRANSACTION;

CREATE OR REPLACE TEMP TABLE batch_winner AS
SELECT * FROM ${t(staging.events)} WHERE TRUE
QUALIFY ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY event_hash, staged_row) = 1;

CREATE OR REPLACE TEMP TABLE to_insert AS
SELECT w.* FROM batch_winner w
WHERE NOT EXISTS (SELECT 1 FROM ${t('fact_ai_event')} f
                  WHERE f.event_id = w.event_id AND f.event_ts >= @lo_ts AND f.event_ts < @hi_ts);

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
ON f.event_id = s.event_id AND f.event_ts >= @lo_ts AND f.event_ts < @hi_ts
WHEN NOT MATCHED THEN INSERT (${FACT_COLUMNS})
  VALUES (s.event_id, s.event_hash, s.event_ts, s.date_key, s.user_key, s.model_key, s.gateway_key, s.decision,
    s.was_blocked, s.latency_ms, s.input_tokens, s.output_tokens, s.total_tokens, s.cost_usd,
    s.policies_evaluated_count, s.policies_triggered_count, s.team_id, s.batch_id, s.request_source, s.metadata,
    @run_id, @now);

${policyRows}
${checkpoint}
COMMIT TRANSACTION;`;
}
