-- Each run's busy time per stage (src/pipeline/stage-timings.ts), for `aetl runs show`: where a
-- slow run spent its time. NULL for runs recorded before, or ended before a stage ran.
ALTER TABLE {{schema}}.etl_run ADD COLUMN IF NOT EXISTS extract_ms BIGINT;
ALTER TABLE {{schema}}.etl_run ADD COLUMN IF NOT EXISTS stage_ms BIGINT;
ALTER TABLE {{schema}}.etl_run ADD COLUMN IF NOT EXISTS load_ms BIGINT;
ALTER TABLE {{schema}}.etl_run ADD COLUMN IF NOT EXISTS checks_ms BIGINT;
ALTER TABLE {{schema}}.etl_run ADD COLUMN IF NOT EXISTS lake_ms BIGINT;
