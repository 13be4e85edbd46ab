-- The tables and columns DuckDB's migrations 006-008 added, so every command works on BigQuery
-- too: schema drift, replayed rejects, how a conflict ended, retention and erasure audits.
-- Re-runnable (BigQuery commits DDL statement by statement).

-- Unknown source fields, per pipeline: when a load first and last carried one, and how often.
CREATE TABLE IF NOT EXISTS `{{dataset}}.etl_schema_drift` (
  pipeline     STRING NOT NULL,
  field_path   STRING NOT NULL,
  first_seen   TIMESTAMP NOT NULL,
  last_seen    TIMESTAMP NOT NULL,
  seen_count   INT64 NOT NULL,
  example_type STRING NOT NULL,
  first_run_id STRING NOT NULL,
  last_run_id  STRING NOT NULL
);

-- `aetl rejects replay`: a reject that passed later is marked, never deleted.
ALTER TABLE `{{dataset}}.etl_rejected_event` ADD COLUMN IF NOT EXISTS replayed_at TIMESTAMP;
ALTER TABLE `{{dataset}}.etl_rejected_event` ADD COLUMN IF NOT EXISTS replayed_run_id STRING;

-- How a conflict ended: the first version kept (insert-only), or replaced by `replay --force-update`.
ALTER TABLE `{{dataset}}.etl_conflict` ADD COLUMN IF NOT EXISTS resolution STRING;
UPDATE `{{dataset}}.etl_conflict` SET resolution = 'kept_first' WHERE resolution IS NULL;

-- What `aetl retention --apply` removed; rows are only ever added. ROWS is reserved in BigQuery:
-- the column is quoted, here and in queries, so it keeps DuckDB's name.
CREATE TABLE IF NOT EXISTS `{{dataset}}.etl_retention` (
  run_id      STRING NOT NULL,
  pipeline    STRING NOT NULL,
  table_name  STRING NOT NULL,
  event_date  DATE,
  `rows`      INT64 NOT NULL, -- quoted: ROWS is a reserved keyword in BigQuery
  archived_to STRING,
  applied_at  TIMESTAMP NOT NULL
);

-- What `aetl forget --user ID` removed, one row per request; the subject is a hash, never the id.
CREATE TABLE IF NOT EXISTS `{{dataset}}.etl_erasure` (
  run_id       STRING NOT NULL,
  pipeline     STRING NOT NULL,
  subject_hash STRING NOT NULL,
  requested_by STRING NOT NULL,
  applied_at   TIMESTAMP NOT NULL,
  rows_removed JSON NOT NULL,
  partitions   INT64 NOT NULL
);
