-- How often each policy is evaluated, triggers and blocks, for [$from, $to).
-- params: from TIMESTAMP, to TIMESTAMP
SELECT p.policy_name,
       count(*)                                    AS evaluations,
       count(*) FILTER (WHERE e.triggered)         AS triggered,
       count(*) FILTER (WHERE e.result = 'block')  AS blocks,
       round(count(*) FILTER (WHERE e.result = 'block') / count(*), 6) AS block_rate
FROM fact_policy_evaluation e
JOIN dim_policy p ON p.policy_key = e.policy_key
WHERE e.event_ts >= $from::TIMESTAMPTZ AND e.event_ts < $to::TIMESTAMPTZ
  -- date_key is the UTC day: prune on the range's UTC dates, whatever the session's TimeZone.
  AND e.date_key BETWEEN CAST(strftime($from::TIMESTAMPTZ AT TIME ZONE 'UTC', '%Y%m%d') AS INTEGER)
                     AND CAST(strftime($to::TIMESTAMPTZ AT TIME ZONE 'UTC', '%Y%m%d') AS INTEGER)
GROUP BY ALL
ORDER BY blocks DESC, p.policy_name;
