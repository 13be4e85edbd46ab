-- Hours in [$from, $to) whose block rate rose above the mean + 2 standard deviations
-- of the 24 hours before (the vendor's rule of thumb; `aetl check` has the tuned detector).
-- params: from TIMESTAMP, to TIMESTAMP
WITH hourly AS (
  -- UTC hours: date_trunc on a TIMESTAMPTZ truncates in the session's zone (off by 30 min in some).
  SELECT time_bucket(INTERVAL 1 HOUR, event_ts, 'UTC') AS hour, count(*) AS events,
         avg(CASE WHEN was_blocked THEN 1.0 ELSE 0.0 END) AS block_rate
  FROM fact_ai_event
  WHERE event_ts >= $from::TIMESTAMPTZ - INTERVAL 24 HOUR AND event_ts < $to::TIMESTAMPTZ
    -- date_key is the UTC day: prune on the range's UTC dates, whatever the session's TimeZone.
    AND date_key BETWEEN CAST(strftime(($from::TIMESTAMPTZ - INTERVAL 24 HOUR) AT TIME ZONE 'UTC', '%Y%m%d') AS INTEGER)
                     AND CAST(strftime($to::TIMESTAMPTZ AT TIME ZONE 'UTC', '%Y%m%d') AS INTEGER)
  GROUP BY 1
),
scored AS (
  SELECT hour, events, block_rate,
         avg(block_rate) OVER w AS baseline_mean,
         stddev_samp(block_rate) OVER w AS baseline_stddev,
         count(*) OVER w AS baseline_hours
  FROM hourly
  WINDOW w AS (ORDER BY hour RANGE BETWEEN INTERVAL 24 HOUR PRECEDING AND INTERVAL 1 HOUR PRECEDING)
)
SELECT hour, events, round(block_rate, 6) AS block_rate, round(baseline_mean, 6) AS baseline_mean,
       round(baseline_mean + 2 * baseline_stddev, 6) AS threshold
FROM scored
WHERE hour >= $from::TIMESTAMPTZ AND baseline_hours >= 12 AND block_rate > baseline_mean + 2 * baseline_stddev
ORDER BY hour;
