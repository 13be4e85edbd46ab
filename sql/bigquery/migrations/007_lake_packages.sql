-- The lake is append-only per package (DESIGN.md decision 2): a committed package adds one file
-- per partition it touched, written from the rows it inserted. Facts name their package within
-- the run (`run_id`, `package_seq`); a pending mark with a `package_seq` adds that package's file,
-- one without rewrites the partition whole (what every mark before this migration meant).
-- Re-runnable (BigQuery commits DDL statement by statement).
ALTER TABLE `{{dataset}}.fact_ai_event` ADD COLUMN IF NOT EXISTS package_seq INT64;
ALTER TABLE `{{dataset}}.fact_policy_evaluation` ADD COLUMN IF NOT EXISTS package_seq INT64;
ALTER TABLE `{{dataset}}.etl_lake_pending` ADD COLUMN IF NOT EXISTS package_seq INT64;
