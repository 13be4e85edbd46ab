-- The id index (DESIGN.md decisions 4 and 9): for every event id a pipeline has accounted for
-- (inserted, or found already loaded), the stored version's hash, time and partition. A load
-- finds a known id here whatever its date, by scanning these few narrow columns instead of the
-- fact table, and completeness counts what this pipeline loaded, never another pipeline's facts.
-- One row per (pipeline, event_id).
CREATE TABLE etl_event_id (
  pipeline   VARCHAR NOT NULL,
  event_id   VARCHAR NOT NULL,
  event_hash VARCHAR NOT NULL,
  event_ts   TIMESTAMPTZ NOT NULL,
  date_key   INTEGER NOT NULL
);

-- Facts loaded before the index existed belong to the pipeline of the run that inserted them.
INSERT INTO etl_event_id
SELECT DISTINCT ON (pipeline, f.event_id) coalesce(r.pipeline, 'default') AS pipeline, f.event_id, f.event_hash,
       f.event_ts, f.date_key
FROM fact_ai_event f LEFT JOIN etl_run r USING (run_id)
ORDER BY pipeline, f.event_id, f.event_ts;
