-- The id index (DESIGN.md decisions 4, 9, 16): for every event id a pipeline has accounted for
-- (inserted, or found already loaded), the stored version's time and partition. A load finds the
-- dates of its known ids here whatever they are, by scanning one fixed-width column (`id_key`, a
-- stable hash of the id), then compares exactly on those dates of the fact table only; and
-- completeness counts what this pipeline loaded, never another pipeline's facts.
-- One row per (pipeline, event_id); rows arrive in load order, so date_key and event_ts prune.
CREATE TABLE etl_event_id (
  id_key     UBIGINT NOT NULL, -- md5_number_lower(event_id): stable across DuckDB versions, unlike hash()
  pipeline   VARCHAR NOT NULL,
  event_id   VARCHAR NOT NULL,
  event_ts   TIMESTAMPTZ NOT NULL,
  date_key   INTEGER NOT NULL
);

-- Facts loaded before the index existed belong to the pipeline of the run that inserted them.
INSERT INTO etl_event_id
SELECT DISTINCT md5_number_lower(f.event_id), coalesce(r.pipeline, 'default'), f.event_id, f.event_ts, f.date_key
FROM fact_ai_event f LEFT JOIN etl_run r USING (run_id)
ORDER BY f.date_key;
