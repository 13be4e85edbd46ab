-- Source loss accepted by hand (`aetl accept-loss`): events the source lost for good in a window
-- would block the checkpoint run after run (completeness); a recorded acceptance lets runs move on
-- over that window, its failing completeness shown as a warning naming the acceptance.
CREATE TABLE IF NOT EXISTS `{{dataset}}.etl_accepted_loss` (
  pipeline    STRING NOT NULL,
  from_ts     TIMESTAMP NOT NULL,
  to_ts       TIMESTAMP NOT NULL,
  reason      STRING NOT NULL,
  accepted_by STRING NOT NULL,
  run_id      STRING NOT NULL,
  accepted_at TIMESTAMP NOT NULL
);
