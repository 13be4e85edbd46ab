-- What to run next after a failed run (src/pipeline/next-step.ts), for `aetl status` and
-- `aetl runs show`. NULL for runs that did not fail, and for runs recorded before.
ALTER TABLE etl_run ADD COLUMN next_step VARCHAR;
