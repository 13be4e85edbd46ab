-- BigQuery version of sql/duckdb/queries/hourly_block_rate_spikes.sql.
-- Hours in [@from, @to) whose block rate rose above the mean + 2 standard deviations
-- of the 24 hours before (the vendor's rule of thumb; `aetl check` has the tuned detector).
-- params: from TIMESTAMP, to TIMESTAMP
-- `aetl query` fills in {{dataset}} (the configured project.dataset) and binds the params.
WITH hourly AS (
  -- 'UTC' explicit: without a zone BigQuery uses the default_time_zone a project or session may set.
  SELECT TIMESTAMP_TRUNC(event_ts, HOUR, 'UTC') AS hour, COUNT(*) AS events,
         AVG(CASE WHEN was_blocked THEN 1.0 ELSE 0.0 END) AS block_rate
  FROM `{{dataset}}.fact_ai_event`
  WHERE event_ts >= TIMESTAMP_SUB(@from, INTERVAL 24 HOUR) AND event_ts < @to
  GROUP BY 1
),
scored AS (
  SELECT hour, events, block_rate,
         AVG(block_rate) OVER w AS baseline_mean,
         STDDEV_SAMP(block_rate) OVER w AS baseline_stddev,
         COUNT(*) OVER w AS baseline_hours
  FROM hourly
  -- RANGE offsets must be numeric in BigQuery: seconds, 24 h back to 1 h back.
  WINDOW w AS (ORDER BY UNIX_SECONDS(hour) RANGE BETWEEN 86400 PRECEDING AND 3600 PRECEDING)
)
SELECT hour, events, ROUND(block_rate, 6) AS block_rate, ROUND(baseline_mean, 6) AS baseline_mean,
       ROUND(baseline_mean + 2 * baseline_stddev, 6) AS threshold
FROM scored
WHERE hour >= @from AND baseline_hours >= 12 AND block_rate > baseline_mean + 2 * baseline_stddev
ORDER BY hour;
