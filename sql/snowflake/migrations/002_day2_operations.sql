-- The tables and columns DuckDB's migrations 006-008 added, so every command works on Snowflake
-- too: schema drift, replayed rejects, how a conflict ended, retention and erasure audits.
-- Re-runnable (Snowflake commits each DDL statement on its own).

-- Unknown source fields, per pipeline: when a load first and last carried one, and how often.
CREATE TABLE IF NOT EXISTS {{schema}}.etl_schema_drift (
  pipeline     VARCHAR NOT NULL,
  field_path   VARCHAR NOT NULL,
  first_seen   TIMESTAMP_TZ NOT NULL,
  last_seen    TIMESTAMP_TZ NOT NULL,
  seen_count   BIGINT NOT NULL,
  example_type VARCHAR NOT NULL,
  first_run_id VARCHAR NOT NULL,
  last_run_id  VARCHAR NOT NULL
);

-- `aetl rejects replay`: a reject that passed later is marked, never deleted.
ALTER TABLE {{schema}}.etl_rejected_event ADD COLUMN IF NOT EXISTS replayed_at TIMESTAMP_TZ;
ALTER TABLE {{schema}}.etl_rejected_event ADD COLUMN IF NOT EXISTS replayed_run_id VARCHAR;

-- How a conflict ended: the first version kept (insert-only), or replaced by `replay --force-update`.
ALTER TABLE {{schema}}.etl_conflict ADD COLUMN IF NOT EXISTS resolution VARCHAR;
UPDATE {{schema}}.etl_conflict SET resolution = 'kept_first' WHERE resolution IS NULL;

-- What `aetl retention --apply` removed; rows are only ever added. ROWS is reserved in Snowflake:
-- the column is quoted ("ROWS"), here and in queries, so it keeps DuckDB's name.
CREATE TABLE IF NOT EXISTS {{schema}}.etl_retention (
  run_id      VARCHAR NOT NULL,
  pipeline    VARCHAR NOT NULL,
  table_name  VARCHAR NOT NULL,
  event_date  DATE,
  "ROWS"      BIGINT NOT NULL,
  archived_to VARCHAR,
  applied_at  TIMESTAMP_TZ NOT NULL
);

-- What `aetl forget --user ID` removed, one row per request; the subject is a hash, never the id.
CREATE TABLE IF NOT EXISTS {{schema}}.etl_erasure (
  run_id       VARCHAR NOT NULL,
  pipeline     VARCHAR NOT NULL,
  subject_hash VARCHAR NOT NULL,
  requested_by VARCHAR NOT NULL,
  applied_at   TIMESTAMP_TZ NOT NULL,
  rows_removed VARIANT NOT NULL,
  partitions   BIGINT NOT NULL
);
