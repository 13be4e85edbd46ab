-- Source loss accepted by hand (`aetl accept-loss`): events the source lost for good in a window
-- would block the checkpoint run after run (completeness); a recorded acceptance lets runs move on
-- over that window, its failing completeness shown as a warning naming the acceptance.
CREATE TABLE IF NOT EXISTS {{schema}}.etl_accepted_loss (
  pipeline    VARCHAR NOT NULL,
  from_ts     TIMESTAMP_TZ NOT NULL,
  to_ts       TIMESTAMP_TZ NOT NULL,
  reason      VARCHAR NOT NULL,
  accepted_by VARCHAR NOT NULL,
  run_id      VARCHAR NOT NULL,
  accepted_at TIMESTAMP_TZ NOT NULL
);
