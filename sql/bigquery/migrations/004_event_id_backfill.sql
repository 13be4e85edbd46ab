-- The id index for facts loaded before it existed (datasets made before the index, whose facts
-- migration 001's `IF NOT EXISTS` left unindexed): each fact belongs to the pipeline of the run
-- that inserted it. Without these rows a re-sent old event would be a second fact, and completeness
-- would not count it. Re-runnable: an indexed (pipeline, id) is never added twice.
INSERT INTO `{{dataset}}.etl_event_id` (pipeline, event_id, event_hash, event_ts, date_key)
SELECT DISTINCT COALESCE(r.pipeline, 'default'), f.event_id, f.event_hash, f.event_ts, f.date_key
FROM `{{dataset}}.fact_ai_event` f
LEFT JOIN `{{dataset}}.etl_run` r ON r.run_id = f.run_id
WHERE NOT EXISTS (
  SELECT 1 FROM `{{dataset}}.etl_event_id` ix
  WHERE ix.event_id = f.event_id AND ix.pipeline = COALESCE(r.pipeline, 'default')
);
