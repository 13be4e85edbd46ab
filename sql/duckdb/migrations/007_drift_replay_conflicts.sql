-- Day-2 operations (issue 12): schema drift, replayed rejects, forced updates.

-- Unknown source fields, per pipeline: when a load first and last carried one, and how often.
CREATE TABLE etl_schema_drift (
  pipeline     VARCHAR NOT NULL,
  field_path   VARCHAR NOT NULL,
  first_seen   TIMESTAMPTZ NOT NULL,
  last_seen    TIMESTAMPTZ NOT NULL,
  seen_count   BIGINT NOT NULL, -- events loaded carrying it (a window read again adds none)
  example_type VARCHAR NOT NULL, -- JSON type of the first value seen: string, number, boolean, object, array, null
  first_run_id VARCHAR NOT NULL,
  last_run_id  VARCHAR NOT NULL,
  PRIMARY KEY (pipeline, field_path)
);

-- `aetl rejects replay`: a reject that passed later is marked, never deleted.
ALTER TABLE etl_rejected_event ADD COLUMN replayed_at TIMESTAMPTZ;
ALTER TABLE etl_rejected_event ADD COLUMN replayed_run_id VARCHAR;

-- How a conflict ended: the first version kept (insert-only), or replaced by `aetl replay --force-update`.
ALTER TABLE etl_conflict ADD COLUMN resolution VARCHAR;
UPDATE etl_conflict SET resolution = 'kept_first';
