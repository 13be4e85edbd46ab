-- Snowflake DDL: the warehouse tables, mirroring sql/duckdb/migrations (final shape after 004)
-- plus etl_schema_version. Replace {{schema}} with the schema (or database.schema).
-- Identifiers are unquoted lower case; Snowflake folds them to upper case (FACT_AI_EVENT),
-- so query them unquoted, or quoted in upper case.
-- Safe to re-run: tables are created if missing, the unknown members are merged in.
-- No primary keys, as in DuckDB: uniqueness comes from the loader's insert-only anti-join.
-- Surrogate keys are BIGINT (NUMBER(38,0)), not NUMBER(18,0): they are signed 64-bit hashes
-- and need up to 19 digits.

CREATE TABLE IF NOT EXISTS {{schema}}.etl_schema_version (
  version    INTEGER NOT NULL,
  name       VARCHAR NOT NULL,
  applied_at TIMESTAMP_TZ NOT NULL
);

-- date is not a reserved word in Snowflake, so the column keeps its DuckDB name unquoted.
CREATE TABLE IF NOT EXISTS {{schema}}.dim_date (
  date_key     INTEGER NOT NULL,
  date         DATE NOT NULL,
  year         INTEGER NOT NULL,
  quarter      INTEGER NOT NULL,
  month        INTEGER NOT NULL,
  month_name   VARCHAR NOT NULL,
  iso_week     INTEGER NOT NULL,
  day_of_month INTEGER NOT NULL,
  day_of_week  INTEGER NOT NULL, -- ISO: 1 = Monday
  day_name     VARCHAR NOT NULL,
  is_weekend   BOOLEAN NOT NULL
);

CREATE TABLE IF NOT EXISTS {{schema}}.dim_user (
  user_key    BIGINT NOT NULL,
  user_id     VARCHAR NOT NULL,
  team        VARCHAR,
  department  VARCHAR,
  valid_from  TIMESTAMP_TZ NOT NULL,
  valid_to    TIMESTAMP_TZ NOT NULL,
  is_current  BOOLEAN NOT NULL,
  is_inferred BOOLEAN NOT NULL
);

CREATE TABLE IF NOT EXISTS {{schema}}.dim_gateway (
  gateway_key  BIGINT NOT NULL,
  gateway_id   VARCHAR NOT NULL,
  gateway_name VARCHAR,
  team         VARCHAR,
  environment  VARCHAR,
  region       VARCHAR,
  valid_from   TIMESTAMP_TZ NOT NULL,
  valid_to     TIMESTAMP_TZ NOT NULL,
  is_current   BOOLEAN NOT NULL,
  is_inferred  BOOLEAN NOT NULL
);

CREATE TABLE IF NOT EXISTS {{schema}}.dim_model (
  model_key           BIGINT NOT NULL,
  model               VARCHAR NOT NULL,
  provider            VARCHAR,
  input_price_per_1k  NUMBER(18, 8),
  output_price_per_1k NUMBER(18, 8),
  valid_from          TIMESTAMP_TZ NOT NULL,
  valid_to            TIMESTAMP_TZ NOT NULL,
  is_current          BOOLEAN NOT NULL,
  is_inferred         BOOLEAN NOT NULL
);

CREATE TABLE IF NOT EXISTS {{schema}}.dim_policy (
  policy_key  BIGINT NOT NULL,
  policy_name VARCHAR NOT NULL
);

-- Grain: one governed LLM request (decision event).
CREATE TABLE IF NOT EXISTS {{schema}}.fact_ai_event (
  event_id                 VARCHAR NOT NULL,
  event_hash               VARCHAR NOT NULL,
  event_ts                 TIMESTAMP_TZ NOT NULL,
  date_key                 INTEGER NOT NULL,
  user_key                 BIGINT NOT NULL,
  model_key                BIGINT NOT NULL,
  gateway_key              BIGINT NOT NULL,
  decision                 VARCHAR NOT NULL,
  was_blocked              BOOLEAN NOT NULL,
  latency_ms               FLOAT,
  input_tokens             BIGINT NOT NULL,
  output_tokens            BIGINT NOT NULL,
  total_tokens             BIGINT NOT NULL,
  cost_usd                 NUMBER(18, 6) NOT NULL,
  policies_evaluated_count INTEGER NOT NULL,
  policies_triggered_count INTEGER NOT NULL,
  team_id                  VARCHAR,
  batch_id                 VARCHAR,
  request_source           VARCHAR,
  metadata                 VARIANT,
  run_id                   VARCHAR NOT NULL,
  loaded_at                TIMESTAMP_TZ NOT NULL
);
-- Natural load order already clusters micro-partitions by time; add a key only if pruning
-- on event_ts degrades (automatic clustering costs credits):
-- ALTER TABLE {{schema}}.fact_ai_event CLUSTER BY (TO_DATE(event_ts));

-- Grain: one policy evaluated in one event; carries the event's keys so it can be queried alone.
CREATE TABLE IF NOT EXISTS {{schema}}.fact_policy_evaluation (
  event_id       VARCHAR NOT NULL,
  ordinal        INTEGER NOT NULL,
  policy_key     BIGINT NOT NULL,
  event_ts       TIMESTAMP_TZ NOT NULL,
  date_key       INTEGER NOT NULL,
  user_key       BIGINT NOT NULL,
  model_key      BIGINT NOT NULL,
  gateway_key    BIGINT NOT NULL,
  result         VARCHAR NOT NULL,
  latency_ms     FLOAT,
  entities_found INTEGER,
  triggered      BOOLEAN NOT NULL,
  run_id         VARCHAR NOT NULL,
  loaded_at      TIMESTAMP_TZ NOT NULL
);

-- The id index (DESIGN.md decisions 4, 9): per pipeline, every event id it accounted for (inserted,
-- or found already loaded) with the stored version's hash, time and date. Loads find a known id
-- here whatever its date; completeness counts this pipeline's ids.
CREATE TABLE IF NOT EXISTS {{schema}}.etl_event_id (
  pipeline   VARCHAR NOT NULL,
  event_id   VARCHAR NOT NULL,
  event_hash VARCHAR NOT NULL,
  event_ts   TIMESTAMP_TZ NOT NULL,
  date_key   INTEGER NOT NULL
);

-- The incremental checkpoint, one row per pipeline.
CREATE TABLE IF NOT EXISTS {{schema}}.etl_state (
  pipeline   VARCHAR NOT NULL,
  checkpoint TIMESTAMP_TZ NOT NULL,
  run_id     VARCHAR NOT NULL,
  updated_at TIMESTAMP_TZ NOT NULL
);

CREATE TABLE IF NOT EXISTS {{schema}}.etl_run (
  run_id      VARCHAR NOT NULL,
  pipeline    VARCHAR NOT NULL,
  command     VARCHAR NOT NULL,
  status      VARCHAR NOT NULL, -- running | succeeded | failed | checks_failed
  started_at  TIMESTAMP_TZ NOT NULL,
  finished_at TIMESTAMP_TZ,
  error       VARCHAR
);

-- One row per window (or per batch of files) a run loaded. checks_passed comes last,
-- where migration 002 added it, so the column order matches DuckDB.
CREATE TABLE IF NOT EXISTS {{schema}}.etl_run_window (
  run_id              VARCHAR NOT NULL,
  pipeline            VARCHAR NOT NULL,
  seq                 INTEGER NOT NULL,
  window_start        TIMESTAMP_TZ,
  window_end          TIMESTAMP_TZ,
  source_count        BIGINT,
  read                BIGINT NOT NULL,
  inserted            BIGINT NOT NULL,
  already_present     BIGINT NOT NULL,
  in_batch_duplicates BIGINT NOT NULL,
  conflicts           BIGINT NOT NULL,
  rejected            BIGINT NOT NULL,
  out_of_window       BIGINT NOT NULL,
  policy_rows         BIGINT NOT NULL,
  checkpoint_moved    BOOLEAN NOT NULL,
  drift               VARIANT,
  extract_ms          BIGINT NOT NULL,
  load_ms             BIGINT NOT NULL,
  committed_at        TIMESTAMP_TZ NOT NULL,
  checks_passed       BOOLEAN
);

-- Quarantine: nothing is dropped silently. Keyed by (source_location, payload_hash).
-- event_ts (migration 002), then read_from/read_to (004) come last, as in DuckDB.
CREATE TABLE IF NOT EXISTS {{schema}}.etl_rejected_event (
  pipeline        VARCHAR NOT NULL,
  source_location VARCHAR NOT NULL,
  source_ref      VARCHAR NOT NULL,
  payload_hash    VARCHAR NOT NULL,
  payload         VARCHAR NOT NULL,
  reasons         VARIANT NOT NULL,
  event_id        VARCHAR,
  run_id          VARCHAR NOT NULL,
  rejected_at     TIMESTAMP_TZ NOT NULL,
  event_ts        TIMESTAMP_TZ,
  read_from       TIMESTAMP_TZ,
  read_to         TIMESTAMP_TZ,
  payload_bytes     BIGINT, -- migration 010: the whole record as read (payload keeps 64 KiB)
  payload_sha256    VARCHAR,
  payload_truncated BOOLEAN -- payload is only its start: not replayable
);

-- Same event_id, different content, seen after the first version was loaded.
CREATE TABLE IF NOT EXISTS {{schema}}.etl_conflict (
  pipeline      VARCHAR NOT NULL,
  event_id      VARCHAR NOT NULL,
  loaded_hash   VARCHAR NOT NULL,
  incoming_hash VARCHAR NOT NULL,
  run_id        VARCHAR NOT NULL,
  detected_at   TIMESTAMP_TZ NOT NULL,
  incoming_event_ts TIMESTAMP_TZ
);

-- Files source: what was loaded, committed with the load.
CREATE TABLE IF NOT EXISTS {{schema}}.etl_file_ledger (
  pipeline  VARCHAR NOT NULL,
  path      VARCHAR NOT NULL,
  size      BIGINT NOT NULL,
  sha256    VARCHAR NOT NULL,
  run_id    VARCHAR NOT NULL,
  loaded_at TIMESTAMP_TZ NOT NULL
);

-- Lake partitions to (re)write after a commit. event_date NULL = a whole dimension.
CREATE TABLE IF NOT EXISTS {{schema}}.etl_lake_pending (
  pipeline   VARCHAR NOT NULL,
  table_name VARCHAR NOT NULL,
  event_date DATE,
  run_id     VARCHAR NOT NULL
);

-- Check results with history: rows are only ever added.
CREATE TABLE IF NOT EXISTS {{schema}}.dq_check_result (
  run_id     VARCHAR NOT NULL,
  pipeline   VARCHAR NOT NULL,
  check_name VARCHAR NOT NULL,
  scope      VARCHAR NOT NULL,
  status     VARCHAR NOT NULL, -- pass | warn | fail | error | skipped | insufficient_history
  blocking   BOOLEAN NOT NULL,
  observed   FLOAT,
  expected   VARCHAR,
  message    VARCHAR NOT NULL,
  checked_at TIMESTAMP_TZ NOT NULL,
  bucket     TIMESTAMP_TZ -- migration 004: the hour an anomaly check judged
);

-- The unknown member (key 0) of each dimension: facts whose natural key is null point here.
-- MERGE, not INSERT, so re-running this file adds no second copy.
MERGE INTO {{schema}}.dim_user t
USING (SELECT 0 AS user_key) s ON t.user_key = s.user_key
WHEN NOT MATCHED THEN
  INSERT (user_key, user_id, team, department, valid_from, valid_to, is_current, is_inferred)
  VALUES (0, '(unknown)', NULL, NULL, '1900-01-01 00:00:00 +00:00'::TIMESTAMP_TZ, '9999-12-31 00:00:00 +00:00'::TIMESTAMP_TZ, TRUE, FALSE);

MERGE INTO {{schema}}.dim_gateway t
USING (SELECT 0 AS gateway_key) s ON t.gateway_key = s.gateway_key
WHEN NOT MATCHED THEN
  INSERT (gateway_key, gateway_id, gateway_name, team, environment, region, valid_from, valid_to, is_current, is_inferred)
  VALUES (0, '(unknown)', NULL, NULL, NULL, NULL, '1900-01-01 00:00:00 +00:00'::TIMESTAMP_TZ, '9999-12-31 00:00:00 +00:00'::TIMESTAMP_TZ, TRUE, FALSE);

MERGE INTO {{schema}}.dim_model t
USING (SELECT 0 AS model_key) s ON t.model_key = s.model_key
WHEN NOT MATCHED THEN
  INSERT (model_key, model, provider, input_price_per_1k, output_price_per_1k, valid_from, valid_to, is_current, is_inferred)
  VALUES (0, '(unknown)', NULL, NULL, NULL, '1900-01-01 00:00:00 +00:00'::TIMESTAMP_TZ, '9999-12-31 00:00:00 +00:00'::TIMESTAMP_TZ, TRUE, FALSE);
