-- The event time of a conflicting later version: it arrived, so completeness over its
-- range counts it as present even though the first version (elsewhere in time) was kept.
ALTER TABLE etl_conflict ADD COLUMN incoming_event_ts TIMESTAMPTZ;
