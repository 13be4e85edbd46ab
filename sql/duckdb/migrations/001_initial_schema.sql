-- The star schema and the pipeline's own tables (DESIGN.md, "Star schema").
-- No primary-key indexes on facts: their memory grows with the table
-- (decision 16); uniqueness comes from the insert-only anti-join.

CREATE TABLE dim_date (
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

CREATE TABLE dim_user (
  user_key    BIGINT NOT NULL,
  user_id     VARCHAR NOT NULL,
  team        VARCHAR,
  department  VARCHAR,
  valid_from  TIMESTAMPTZ NOT NULL,
  valid_to    TIMESTAMPTZ NOT NULL,
  is_current  BOOLEAN NOT NULL,
  is_inferred BOOLEAN NOT NULL
);

CREATE TABLE dim_gateway (
  gateway_key  BIGINT NOT NULL,
  gateway_id   VARCHAR NOT NULL,
  gateway_name VARCHAR,
  team         VARCHAR,
  environment  VARCHAR,
  region       VARCHAR,
  valid_from   TIMESTAMPTZ NOT NULL,
  valid_to     TIMESTAMPTZ NOT NULL,
  is_current   BOOLEAN NOT NULL,
  is_inferred  BOOLEAN NOT NULL
);

CREATE TABLE dim_model (
  model_key           BIGINT NOT NULL,
  model               VARCHAR NOT NULL,
  provider            VARCHAR,
  input_price_per_1k  DECIMAL(18, 8),
  output_price_per_1k DECIMAL(18, 8),
  valid_from          TIMESTAMPTZ NOT NULL,
  valid_to            TIMESTAMPTZ NOT NULL,
  is_current          BOOLEAN NOT NULL,
  is_inferred         BOOLEAN NOT NULL
);

CREATE TABLE dim_policy (
  policy_key  BIGINT NOT NULL,
  policy_name VARCHAR NOT NULL
);

-- Grain: one governed LLM request (decision event).
CREATE TABLE fact_ai_event (
  event_id                 VARCHAR NOT NULL,
  event_hash               VARCHAR NOT NULL,
  event_ts                 TIMESTAMPTZ NOT NULL,
  date_key                 INTEGER NOT NULL,
  user_key                 BIGINT NOT NULL,
  model_key                BIGINT NOT NULL,
  gateway_key              BIGINT NOT NULL,
  decision                 VARCHAR NOT NULL,
  was_blocked              BOOLEAN NOT NULL,
  latency_ms               DOUBLE,
  input_tokens             BIGINT NOT NULL,
  output_tokens            BIGINT NOT NULL,
  total_tokens             BIGINT NOT NULL,
  cost_usd                 DECIMAL(18, 6) NOT NULL,
  policies_evaluated_count INTEGER NOT NULL,
  policies_triggered_count INTEGER NOT NULL,
  team_id                  VARCHAR,
  batch_id                 VARCHAR,
  request_source           VARCHAR,
  metadata                 JSON,
  run_id                   VARCHAR NOT NULL,
  loaded_at                TIMESTAMPTZ NOT NULL
);

-- Grain: one policy evaluated in one event; carries the event's keys so it can be queried alone.
CREATE TABLE fact_policy_evaluation (
  event_id       VARCHAR NOT NULL,
  ordinal        INTEGER NOT NULL,
  policy_key     BIGINT NOT NULL,
  event_ts       TIMESTAMPTZ NOT NULL,
  date_key       INTEGER NOT NULL,
  user_key       BIGINT NOT NULL,
  model_key      BIGINT NOT NULL,
  gateway_key    BIGINT NOT NULL,
  result         VARCHAR NOT NULL,
  latency_ms     DOUBLE,
  entities_found INTEGER,
  triggered      BOOLEAN NOT NULL,
  run_id         VARCHAR NOT NULL,
  loaded_at      TIMESTAMPTZ NOT NULL
);

-- The incremental checkpoint, one row per pipeline; moved in the load's transaction.
CREATE TABLE etl_state (
  pipeline   VARCHAR NOT NULL,
  checkpoint TIMESTAMPTZ NOT NULL,
  run_id     VARCHAR NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE etl_run (
  run_id      VARCHAR NOT NULL,
  pipeline    VARCHAR NOT NULL,
  command     VARCHAR NOT NULL,
  status      VARCHAR NOT NULL, -- running | succeeded | failed | checks_failed
  started_at  TIMESTAMPTZ NOT NULL,
  finished_at TIMESTAMPTZ,
  error       VARCHAR
);

-- One row per window (or per batch of files) a run loaded.
CREATE TABLE etl_run_window (
  run_id              VARCHAR NOT NULL,
  pipeline            VARCHAR NOT NULL,
  seq                 INTEGER NOT NULL,
  window_start        TIMESTAMPTZ,
  window_end          TIMESTAMPTZ,
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
  drift               JSON,
  extract_ms          BIGINT NOT NULL,
  load_ms             BIGINT NOT NULL,
  committed_at        TIMESTAMPTZ NOT NULL
);

-- Quarantine: nothing is dropped silently. Keyed by (source_location, payload_hash).
CREATE TABLE etl_rejected_event (
  pipeline        VARCHAR NOT NULL,
  source_location VARCHAR NOT NULL,
  source_ref      VARCHAR NOT NULL,
  payload_hash    VARCHAR NOT NULL,
  payload         VARCHAR NOT NULL,
  reasons         JSON NOT NULL,
  event_id        VARCHAR,
  run_id          VARCHAR NOT NULL,
  rejected_at     TIMESTAMPTZ NOT NULL
);

-- Same event_id, different content, seen after the first version was loaded.
CREATE TABLE etl_conflict (
  pipeline      VARCHAR NOT NULL,
  event_id      VARCHAR NOT NULL,
  loaded_hash   VARCHAR NOT NULL,
  incoming_hash VARCHAR NOT NULL,
  run_id        VARCHAR NOT NULL,
  detected_at   TIMESTAMPTZ NOT NULL
);

-- Files source: what was loaded, committed with the load (decision 10).
CREATE TABLE etl_file_ledger (
  pipeline  VARCHAR NOT NULL,
  path      VARCHAR NOT NULL,
  size      BIGINT NOT NULL,
  sha256    VARCHAR NOT NULL,
  run_id    VARCHAR NOT NULL,
  loaded_at TIMESTAMPTZ NOT NULL
);

-- Lake partitions to (re)write after a commit (decision 2). event_date NULL = a whole dimension.
CREATE TABLE etl_lake_pending (
  pipeline   VARCHAR NOT NULL,
  table_name VARCHAR NOT NULL,
  event_date DATE,
  run_id     VARCHAR NOT NULL
);

-- Check results with history: rows are only ever added.
CREATE TABLE dq_check_result (
  run_id      VARCHAR NOT NULL,
  pipeline    VARCHAR NOT NULL,
  check_name  VARCHAR NOT NULL,
  scope       VARCHAR NOT NULL,
  status      VARCHAR NOT NULL, -- pass | warn | fail | error | skipped | insufficient_history
  blocking    BOOLEAN NOT NULL,
  observed    DOUBLE,
  expected    VARCHAR,
  message     VARCHAR NOT NULL,
  checked_at  TIMESTAMPTZ NOT NULL
);

-- The unknown member (key 0) of each dimension: facts whose natural key is null point here.
INSERT INTO dim_user VALUES (0, '(unknown)', NULL, NULL, TIMESTAMPTZ '1900-01-01 00:00:00+00', TIMESTAMPTZ '9999-12-31 00:00:00+00', true, false);
INSERT INTO dim_gateway VALUES (0, '(unknown)', NULL, NULL, NULL, NULL, TIMESTAMPTZ '1900-01-01 00:00:00+00', TIMESTAMPTZ '9999-12-31 00:00:00+00', true, false);
INSERT INTO dim_model VALUES (0, '(unknown)', NULL, NULL, NULL, TIMESTAMPTZ '1900-01-01 00:00:00+00', TIMESTAMPTZ '9999-12-31 00:00:00+00', true, false);
