-- BigQuery DDL: the warehouse tables, mirroring sql/duckdb/migrations (final shape after 004)
-- plus etl_schema_version. Replace {{dataset}} with the dataset (or project.dataset).
-- Safe to re-run: tables are created if missing, the unknown members are merged in.
-- No primary keys, as in DuckDB: uniqueness comes from the loader's insert-only anti-join.

CREATE TABLE IF NOT EXISTS `{{dataset}}.etl_schema_version` (
  version    INT64 NOT NULL,
  name       STRING NOT NULL,
  applied_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS `{{dataset}}.dim_date` (
  date_key     INT64 NOT NULL,
  date         DATE NOT NULL,
  year         INT64 NOT NULL,
  quarter      INT64 NOT NULL,
  month        INT64 NOT NULL,
  month_name   STRING NOT NULL,
  iso_week     INT64 NOT NULL,
  day_of_month INT64 NOT NULL,
  day_of_week  INT64 NOT NULL, -- ISO: 1 = Monday
  day_name     STRING NOT NULL,
  is_weekend   BOOL NOT NULL
);

CREATE TABLE IF NOT EXISTS `{{dataset}}.dim_user` (
  user_key    INT64 NOT NULL,
  user_id     STRING NOT NULL,
  team        STRING,
  department  STRING,
  valid_from  TIMESTAMP NOT NULL,
  valid_to    TIMESTAMP NOT NULL,
  is_current  BOOL NOT NULL,
  is_inferred BOOL NOT NULL
);

CREATE TABLE IF NOT EXISTS `{{dataset}}.dim_gateway` (
  gateway_key  INT64 NOT NULL,
  gateway_id   STRING NOT NULL,
  gateway_name STRING,
  team         STRING,
  environment  STRING,
  region       STRING,
  valid_from   TIMESTAMP NOT NULL,
  valid_to     TIMESTAMP NOT NULL,
  is_current   BOOL NOT NULL,
  is_inferred  BOOL NOT NULL
);

-- Prices are DECIMAL(18,8) in DuckDB; NUMERIC (scale 9) holds them exactly.
CREATE TABLE IF NOT EXISTS `{{dataset}}.dim_model` (
  model_key           INT64 NOT NULL,
  model               STRING NOT NULL,
  provider            STRING,
  input_price_per_1k  NUMERIC,
  output_price_per_1k NUMERIC,
  valid_from          TIMESTAMP NOT NULL,
  valid_to            TIMESTAMP NOT NULL,
  is_current          BOOL NOT NULL,
  is_inferred         BOOL NOT NULL
);

CREATE TABLE IF NOT EXISTS `{{dataset}}.dim_policy` (
  policy_key  INT64 NOT NULL,
  policy_name STRING NOT NULL
);

-- Grain: one governed LLM request (decision event). Partitioned by the UTC day of event_ts,
-- so queries filtering event_ts only read the days they need.
CREATE TABLE IF NOT EXISTS `{{dataset}}.fact_ai_event` (
  event_id                 STRING NOT NULL,
  event_hash               STRING NOT NULL,
  event_ts                 TIMESTAMP NOT NULL,
  date_key                 INT64 NOT NULL,
  user_key                 INT64 NOT NULL,
  model_key                INT64 NOT NULL,
  gateway_key              INT64 NOT NULL,
  decision                 STRING NOT NULL,
  was_blocked              BOOL NOT NULL,
  latency_ms               FLOAT64,
  input_tokens             INT64 NOT NULL,
  output_tokens            INT64 NOT NULL,
  total_tokens             INT64 NOT NULL,
  cost_usd                 NUMERIC NOT NULL, -- DECIMAL(18,6) in DuckDB
  policies_evaluated_count INT64 NOT NULL,
  policies_triggered_count INT64 NOT NULL,
  team_id                  STRING,
  batch_id                 STRING,
  request_source           STRING,
  metadata                 JSON,
  run_id                   STRING NOT NULL,
  loaded_at                TIMESTAMP NOT NULL
)
PARTITION BY DATE(event_ts)
CLUSTER BY gateway_key, model_key, decision
OPTIONS (require_partition_filter = false);

-- Grain: one policy evaluated in one event; carries the event's keys so it can be queried alone.
CREATE TABLE IF NOT EXISTS `{{dataset}}.fact_policy_evaluation` (
  event_id       STRING NOT NULL,
  ordinal        INT64 NOT NULL,
  policy_key     INT64 NOT NULL,
  event_ts       TIMESTAMP NOT NULL,
  date_key       INT64 NOT NULL,
  user_key       INT64 NOT NULL,
  model_key      INT64 NOT NULL,
  gateway_key    INT64 NOT NULL,
  result         STRING NOT NULL,
  latency_ms     FLOAT64,
  entities_found INT64,
  triggered      BOOL NOT NULL,
  run_id         STRING NOT NULL,
  loaded_at      TIMESTAMP NOT NULL
)
PARTITION BY DATE(event_ts)
CLUSTER BY policy_key, gateway_key
OPTIONS (require_partition_filter = false);

-- The id index (DESIGN.md decisions 4, 9): per pipeline, every event id it accounted for (inserted,
-- or found already loaded) with the stored version's hash, time and date. Loads find a known id
-- here whatever its date; completeness counts this pipeline's ids. Clustered by id for the lookups.
CREATE TABLE IF NOT EXISTS `{{dataset}}.etl_event_id` (
  pipeline   STRING NOT NULL,
  event_id   STRING NOT NULL,
  event_hash STRING NOT NULL,
  event_ts   TIMESTAMP NOT NULL,
  date_key   INT64 NOT NULL
)
CLUSTER BY event_id;

-- The incremental checkpoint, one row per pipeline.
CREATE TABLE IF NOT EXISTS `{{dataset}}.etl_state` (
  pipeline   STRING NOT NULL,
  checkpoint TIMESTAMP NOT NULL,
  run_id     STRING NOT NULL,
  updated_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS `{{dataset}}.etl_run` (
  run_id      STRING NOT NULL,
  pipeline    STRING NOT NULL,
  command     STRING NOT NULL,
  status      STRING NOT NULL, -- running | succeeded | failed | checks_failed
  started_at  TIMESTAMP NOT NULL,
  finished_at TIMESTAMP,
  error       STRING
);

-- One row per window (or per batch of files) a run loaded. checks_passed comes last,
-- where migration 002 added it, so the column order matches DuckDB.
CREATE TABLE IF NOT EXISTS `{{dataset}}.etl_run_window` (
  run_id              STRING NOT NULL,
  pipeline            STRING NOT NULL,
  seq                 INT64 NOT NULL,
  window_start        TIMESTAMP,
  window_end          TIMESTAMP,
  source_count        INT64,
  read                INT64 NOT NULL,
  inserted            INT64 NOT NULL,
  already_present     INT64 NOT NULL,
  in_batch_duplicates INT64 NOT NULL,
  conflicts           INT64 NOT NULL,
  rejected            INT64 NOT NULL,
  out_of_window       INT64 NOT NULL,
  policy_rows         INT64 NOT NULL,
  checkpoint_moved    BOOL NOT NULL,
  drift               JSON,
  extract_ms          INT64 NOT NULL,
  load_ms             INT64 NOT NULL,
  committed_at        TIMESTAMP NOT NULL,
  checks_passed       BOOL
);

-- Quarantine: nothing is dropped silently. Keyed by (source_location, payload_hash).
-- event_ts (migration 002), then read_from/read_to (004) come last, as in DuckDB.
CREATE TABLE IF NOT EXISTS `{{dataset}}.etl_rejected_event` (
  pipeline        STRING NOT NULL,
  source_location STRING NOT NULL,
  source_ref      STRING NOT NULL,
  payload_hash    STRING NOT NULL,
  payload         STRING NOT NULL,
  reasons         JSON NOT NULL,
  event_id        STRING,
  run_id          STRING NOT NULL,
  rejected_at     TIMESTAMP NOT NULL,
  event_ts        TIMESTAMP,
  read_from       TIMESTAMP,
  read_to         TIMESTAMP,
  payload_bytes     INT64, -- migration 010: the whole record as read (payload keeps 64 KiB)
  payload_sha256    STRING,
  payload_truncated BOOL -- payload is only its start: not replayable
);

-- Same event_id, different content, seen after the first version was loaded.
CREATE TABLE IF NOT EXISTS `{{dataset}}.etl_conflict` (
  pipeline      STRING NOT NULL,
  event_id      STRING NOT NULL,
  loaded_hash   STRING NOT NULL,
  incoming_hash STRING NOT NULL,
  run_id        STRING NOT NULL,
  detected_at   TIMESTAMP NOT NULL,
  incoming_event_ts TIMESTAMP
);

-- Files source: what was loaded, committed with the load.
CREATE TABLE IF NOT EXISTS `{{dataset}}.etl_file_ledger` (
  pipeline  STRING NOT NULL,
  path      STRING NOT NULL,
  size      INT64 NOT NULL,
  sha256    STRING NOT NULL,
  run_id    STRING NOT NULL,
  loaded_at TIMESTAMP NOT NULL
);

-- Lake partitions to (re)write after a commit. event_date NULL = a whole dimension.
CREATE TABLE IF NOT EXISTS `{{dataset}}.etl_lake_pending` (
  pipeline   STRING NOT NULL,
  table_name STRING NOT NULL,
  event_date DATE,
  run_id     STRING NOT NULL
);

-- Check results with history: rows are only ever added.
CREATE TABLE IF NOT EXISTS `{{dataset}}.dq_check_result` (
  run_id     STRING NOT NULL,
  pipeline   STRING NOT NULL,
  check_name STRING NOT NULL,
  scope      STRING NOT NULL,
  status     STRING NOT NULL, -- pass | warn | fail | error | skipped | insufficient_history
  blocking   BOOL NOT NULL,
  observed   FLOAT64,
  expected   STRING,
  message    STRING NOT NULL,
  checked_at TIMESTAMP NOT NULL,
  bucket     TIMESTAMP -- migration 004: the hour an anomaly check judged
);

-- The unknown member (key 0) of each dimension: facts whose natural key is null point here.
-- MERGE, not INSERT, so re-running this file adds no second copy.
MERGE `{{dataset}}.dim_user` t
USING (SELECT 0 AS user_key) s ON t.user_key = s.user_key
WHEN NOT MATCHED THEN
  INSERT (user_key, user_id, team, department, valid_from, valid_to, is_current, is_inferred)
  VALUES (0, '(unknown)', NULL, NULL, TIMESTAMP '1900-01-01 00:00:00+00', TIMESTAMP '9999-12-31 00:00:00+00', TRUE, FALSE);

MERGE `{{dataset}}.dim_gateway` t
USING (SELECT 0 AS gateway_key) s ON t.gateway_key = s.gateway_key
WHEN NOT MATCHED THEN
  INSERT (gateway_key, gateway_id, gateway_name, team, environment, region, valid_from, valid_to, is_current, is_inferred)
  VALUES (0, '(unknown)', NULL, NULL, NULL, NULL, TIMESTAMP '1900-01-01 00:00:00+00', TIMESTAMP '9999-12-31 00:00:00+00', TRUE, FALSE);

MERGE `{{dataset}}.dim_model` t
USING (SELECT 0 AS model_key) s ON t.model_key = s.model_key
WHEN NOT MATCHED THEN
  INSERT (model_key, model, provider, input_price_per_1k, output_price_per_1k, valid_from, valid_to, is_current, is_inferred)
  VALUES (0, '(unknown)', NULL, NULL, NULL, TIMESTAMP '1900-01-01 00:00:00+00', TIMESTAMP '9999-12-31 00:00:00+00', TRUE, FALSE);
