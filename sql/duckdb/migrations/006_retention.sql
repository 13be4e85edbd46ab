-- What `aetl retention --apply` removed: one row per fact partition (event_date) or ledger
-- table (event_date NULL), with where it was archived. Rows are only ever added.
CREATE TABLE etl_retention (
  run_id      VARCHAR NOT NULL,
  pipeline    VARCHAR NOT NULL,
  table_name  VARCHAR NOT NULL,
  event_date  DATE,
  rows        BIGINT NOT NULL,
  archived_to VARCHAR,
  applied_at  TIMESTAMPTZ NOT NULL
);
