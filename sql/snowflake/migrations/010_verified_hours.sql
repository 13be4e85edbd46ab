-- Hours of fact_ai_event that passed the checks reading rows (issue 19): what the hour held then,
-- as its row count, a sum of its rows' load times (each loaded_at in ms, modulo 2^31 - 1) and its
-- newest loaded_at, and a sum of hashes of the dimension versions. A check reads the facts' hours again only
-- where these differ or no row is here; a failing hour is never written (`aetl check --full` ignores
-- them all). Every write path changes the first three: loads and replays insert rows with a new
-- loaded_at, erasure and retention delete rows; rebuild-dims, which re-keys rows in place, empties it.
CREATE TABLE IF NOT EXISTS {{schema}}.dq_verified_hour (
  hour        TIMESTAMP_TZ NOT NULL,
  facts       BIGINT NOT NULL,
  loaded_sum  BIGINT NOT NULL,
  loaded_max  TIMESTAMP_TZ NOT NULL,
  dimensions  BIGINT NOT NULL,
  verified_at TIMESTAMP_TZ NOT NULL,
  run_id      VARCHAR NOT NULL
);
