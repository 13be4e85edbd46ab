-- The id index carries the stored version's hash, as on BigQuery and Snowflake: one load SQL for
-- every engine finds a known id's version (same or conflicting) in the index alone, without
-- reading the fact table (DESIGN.md decision 22).
ALTER TABLE etl_event_id ADD COLUMN event_hash VARCHAR;
UPDATE etl_event_id ix SET event_hash = f.event_hash
FROM fact_ai_event f WHERE f.event_id = ix.event_id AND f.date_key = ix.date_key;
