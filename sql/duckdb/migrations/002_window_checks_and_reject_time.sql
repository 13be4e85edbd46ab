-- Whether a load's blocking checks passed (backfill and reconcile windows never move the
-- checkpoint, so checkpoint_moved alone cannot say a window is done).
ALTER TABLE etl_run_window ADD COLUMN checks_passed BOOLEAN;
UPDATE etl_run_window SET checks_passed = checkpoint_moved;

-- The event time of a quarantined record when its timestamp was usable, so per-day
-- completeness can count rejects as present (DESIGN.md decision 9).
ALTER TABLE etl_rejected_event ADD COLUMN event_ts TIMESTAMPTZ;
