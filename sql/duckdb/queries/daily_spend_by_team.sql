-- Daily AI spend by team (the user's team when the request was made), for [$from, $to).
-- params: from TIMESTAMP, to TIMESTAMP
SELECT d.date, coalesce(u.team, '(none)') AS team, count(*) AS requests, sum(f.cost_usd) AS spend_usd
FROM fact_ai_event f
JOIN dim_date d ON d.date_key = f.date_key
JOIN dim_user u ON u.user_key = f.user_key
WHERE f.event_ts >= $from::TIMESTAMPTZ AND f.event_ts < $to::TIMESTAMPTZ
  -- date_key is the UTC day: prune on the range's UTC dates, whatever the session's TimeZone.
  AND f.date_key BETWEEN CAST(strftime($from::TIMESTAMPTZ AT TIME ZONE 'UTC', '%Y%m%d') AS INTEGER)
                     AND CAST(strftime($to::TIMESTAMPTZ AT TIME ZONE 'UTC', '%Y%m%d') AS INTEGER)
GROUP BY ALL
ORDER BY d.date, spend_usd DESC, team;
