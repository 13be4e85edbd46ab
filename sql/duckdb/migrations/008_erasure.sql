-- What `aetl forget --user ID` removed: one row per erasure request. The subject is a hash,
-- never the id (src/contract/privacy.ts, subjectHash). Rows are only ever added.
CREATE TABLE etl_erasure (
  run_id       VARCHAR NOT NULL,
  pipeline     VARCHAR NOT NULL,
  subject_hash VARCHAR NOT NULL,
  requested_by VARCHAR NOT NULL,
  applied_at   TIMESTAMPTZ NOT NULL,
  rows_removed JSON NOT NULL, -- {"fact_ai_event": n, "fact_policy_evaluation": n, "dim_user": n, "etl_rejected_event": n}
  partitions   INTEGER NOT NULL -- fact partitions (dates) rewritten in the lake
);
