-- The ten users with the highest spend in [$from, $to), with their current team.
-- params: from TIMESTAMP, to TIMESTAMP
SELECT u.user_id, c.team, count(*) AS requests, sum(f.cost_usd) AS cost_usd,
       rank() OVER (ORDER BY sum(f.cost_usd) DESC) AS rank
FROM fact_ai_event f
JOIN dim_user u ON u.user_key = f.user_key
JOIN dim_user c ON c.user_id = u.user_id AND c.is_current
WHERE f.event_ts >= $from::TIMESTAMPTZ AND f.event_ts < $to::TIMESTAMPTZ
  -- date_key is the UTC day: prune on the range's UTC dates, whatever the session's TimeZone.
  AND f.date_key BETWEEN CAST(strftime($from::TIMESTAMPTZ AT TIME ZONE 'UTC', '%Y%m%d') AS INTEGER)
                     AND CAST(strftime($to::TIMESTAMPTZ AT TIME ZONE 'UTC', '%Y%m%d') AS INTEGER)
GROUP BY ALL
ORDER BY cost_usd DESC, u.user_id
LIMIT 10;
