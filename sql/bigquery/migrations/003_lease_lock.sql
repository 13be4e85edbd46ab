-- The run lock across hosts (DESIGN.md decision 18): one lease row per pipeline, taken by a
-- conditional MERGE and renewed by heartbeats (src/warehouse/sql/sql-lease.ts). `token` grows
-- by one with every takeover and is checked inside every commit, so a holder whose lease ran
-- out and was taken over cannot commit. Released rows stay (expired), so tokens never repeat.
-- Re-runnable (BigQuery commits DDL statement by statement).
CREATE TABLE IF NOT EXISTS `{{dataset}}.etl_lock` (
  pipeline     STRING NOT NULL,
  owner        STRING NOT NULL,
  host         STRING NOT NULL,
  pid          INT64 NOT NULL,
  command      STRING NOT NULL,
  acquired_at  TIMESTAMP NOT NULL,
  heartbeat_at TIMESTAMP NOT NULL,
  expires_at   TIMESTAMP NOT NULL,
  token        INT64 NOT NULL
);
