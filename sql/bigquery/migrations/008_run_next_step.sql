-- What to run next after a failed run (src/pipeline/next-step.ts), for `aetl status` and
-- `aetl runs show`. NULL for runs that did not fail, and for runs recorded before.
ALTER TABLE `{{dataset}}.etl_run` ADD COLUMN IF NOT EXISTS next_step STRING;
