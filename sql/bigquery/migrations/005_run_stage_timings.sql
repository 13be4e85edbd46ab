-- Each run's busy time per stage (src/pipeline/stage-timings.ts), for `aetl runs show`: where a
-- slow run spent its time. NULL for runs recorded before, or ended before a stage ran.
ALTER TABLE `{{dataset}}.etl_run` ADD COLUMN IF NOT EXISTS extract_ms INT64;
ALTER TABLE `{{dataset}}.etl_run` ADD COLUMN IF NOT EXISTS stage_ms INT64;
ALTER TABLE `{{dataset}}.etl_run` ADD COLUMN IF NOT EXISTS load_ms INT64;
ALTER TABLE `{{dataset}}.etl_run` ADD COLUMN IF NOT EXISTS checks_ms INT64;
ALTER TABLE `{{dataset}}.etl_run` ADD COLUMN IF NOT EXISTS lake_ms INT64;
