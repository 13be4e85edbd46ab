-- The lake is append-only per package (DESIGN.md decision 2): a committed package adds one file
-- per partition it touched, written from the rows it inserted. Facts name their package within
-- the run (`run_id`, `package_seq`); a pending mark with a `package_seq` adds that package's file,
-- one without rewrites the partition whole (what every mark before this migration meant).
ALTER TABLE fact_ai_event ADD COLUMN package_seq INTEGER;
ALTER TABLE fact_policy_evaluation ADD COLUMN package_seq INTEGER;
ALTER TABLE etl_lake_pending ADD COLUMN package_seq INTEGER;
