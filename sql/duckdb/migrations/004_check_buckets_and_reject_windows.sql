-- Anomaly results name the hour they judged, so later runs can leave flagged hours out of
-- their baselines and skip hours already scored.
ALTER TABLE dq_check_result ADD COLUMN bucket TIMESTAMPTZ;

-- The window a quarantined record was read in: a record without a usable timestamp
-- counts as present for completeness over any range that window overlaps.
ALTER TABLE etl_rejected_event ADD COLUMN read_from TIMESTAMPTZ;
ALTER TABLE etl_rejected_event ADD COLUMN read_to TIMESTAMPTZ;
