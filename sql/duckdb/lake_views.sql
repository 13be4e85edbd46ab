-- Query the Parquet lake without the warehouse: run this in DuckDB from the folder that
-- holds the lake (or replace data/lake with its path), then run any file in queries/.
CREATE OR REPLACE VIEW fact_ai_event AS
  SELECT * EXCLUDE (event_date) FROM read_parquet('data/lake/fact_ai_event/*/*.parquet', hive_partitioning = true);
CREATE OR REPLACE VIEW fact_policy_evaluation AS
  SELECT * EXCLUDE (event_date) FROM read_parquet('data/lake/fact_policy_evaluation/*/*.parquet', hive_partitioning = true);
CREATE OR REPLACE VIEW dim_user AS SELECT * FROM read_parquet('data/lake/dim_user/*.parquet');
CREATE OR REPLACE VIEW dim_gateway AS SELECT * FROM read_parquet('data/lake/dim_gateway/*.parquet');
CREATE OR REPLACE VIEW dim_model AS SELECT * FROM read_parquet('data/lake/dim_model/*.parquet');
CREATE OR REPLACE VIEW dim_policy AS SELECT * FROM read_parquet('data/lake/dim_policy/*.parquet');
CREATE OR REPLACE VIEW dim_date AS SELECT * FROM read_parquet('data/lake/dim_date/*.parquet');
