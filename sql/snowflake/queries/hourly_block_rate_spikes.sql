-- Snowflake version of sql/duckdb/queries/hourly_block_rate_spikes.sql.
-- Hours in [:from, :to) whose block rate rose above the mean + 2 standard deviations
-- of the 24 hours before (the vendor's rule of thumb; `aetl check` has the tuned detector).
-- params: from TIMESTAMP, to TIMESTAMP
-- `aetl query` fills in {{schema}} (the configured database.schema) and binds the params by
-- position (snowflake-sdk takes only positional binds), each as its declared type.
-- Snowflake has no WINDOW clause, so the frame is spelled out three times.
WITH hourly AS (
  -- DATE_TRUNC on a TIMESTAMP_TZ keeps the value's own offset: convert to UTC first.
  SELECT DATE_TRUNC('hour', CONVERT_TIMEZONE('UTC', event_ts)) AS hour, COUNT(*) AS events,
         AVG(IFF(was_blocked, 1.0, 0.0)::FLOAT) AS block_rate -- FLOAT, as DuckDB averages
  FROM {{schema}}.fact_ai_event
  WHERE event_ts >= :from - INTERVAL '24 hours' AND event_ts < :to
  GROUP BY 1
),
scored AS (
  SELECT hour, events, block_rate,
         AVG(block_rate) OVER (ORDER BY hour RANGE BETWEEN INTERVAL '24 hours' PRECEDING AND INTERVAL '1 hour' PRECEDING) AS baseline_mean,
         STDDEV_SAMP(block_rate) OVER (ORDER BY hour RANGE BETWEEN INTERVAL '24 hours' PRECEDING AND INTERVAL '1 hour' PRECEDING) AS baseline_stddev,
         COUNT(*) OVER (ORDER BY hour RANGE BETWEEN INTERVAL '24 hours' PRECEDING AND INTERVAL '1 hour' PRECEDING) AS baseline_hours
  FROM hourly
)
SELECT hour, events, ROUND(block_rate, 6) AS block_rate, ROUND(baseline_mean, 6) AS baseline_mean,
       ROUND(baseline_mean + 2 * baseline_stddev, 6) AS threshold
FROM scored
WHERE hour >= :from AND baseline_hours >= 12 AND block_rate > baseline_mean + 2 * baseline_stddev
ORDER BY hour;
