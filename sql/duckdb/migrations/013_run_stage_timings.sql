-- Each run's busy time per stage (src/pipeline/stage-timings.ts), for `aetl runs show`: where a
-- slow run spent its time. NULL for runs recorded before, or ended before a stage ran.
ALTER TABLE etl_run ADD COLUMN extract_ms BIGINT;
ALTER TABLE etl_run ADD COLUMN stage_ms BIGINT;
ALTER TABLE etl_run ADD COLUMN load_ms BIGINT;
ALTER TABLE etl_run ADD COLUMN checks_ms BIGINT;
ALTER TABLE etl_run ADD COLUMN lake_ms BIGINT;
