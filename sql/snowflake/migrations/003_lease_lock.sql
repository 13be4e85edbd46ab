-- The run lock across hosts (DESIGN.md decision 18): one lease row per pipeline, taken by a
-- conditional MERGE and renewed by heartbeats (src/warehouse/sql/sql-lease.ts). `token` grows
-- by one with every takeover and is checked inside every commit, so a holder whose lease ran
-- out and was taken over cannot commit. Released rows stay (expired), so tokens never repeat.
-- Re-runnable (Snowflake commits each DDL statement on its own).
CREATE TABLE IF NOT EXISTS {{schema}}.etl_lock (
  pipeline     VARCHAR NOT NULL,
  owner        VARCHAR NOT NULL,
  host         VARCHAR NOT NULL,
  pid          BIGINT NOT NULL,
  command      VARCHAR NOT NULL,
  acquired_at  TIMESTAMP_TZ NOT NULL,
  heartbeat_at TIMESTAMP_TZ NOT NULL,
  expires_at   TIMESTAMP_TZ NOT NULL,
  token        BIGINT NOT NULL
);
