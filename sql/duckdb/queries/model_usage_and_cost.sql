-- Requests, tokens and cost per provider and model, for [$from, $to).
-- params: from TIMESTAMP, to TIMESTAMP
SELECT coalesce(m.provider, '(unknown)') AS provider, m.model,
       count(*)             AS requests,
       sum(f.total_tokens)  AS total_tokens,
       sum(f.cost_usd)      AS cost_usd,
       round(sum(f.cost_usd) * 1000 / nullif(sum(f.total_tokens), 0), 6) AS cost_per_1k_tokens
FROM fact_ai_event f
JOIN dim_model m ON m.model_key = f.model_key
WHERE f.event_ts >= $from::TIMESTAMPTZ AND f.event_ts < $to::TIMESTAMPTZ
  -- date_key is the UTC day: prune on the range's UTC dates, whatever the session's TimeZone.
  AND f.date_key BETWEEN CAST(strftime($from::TIMESTAMPTZ AT TIME ZONE 'UTC', '%Y%m%d') AS INTEGER)
                     AND CAST(strftime($to::TIMESTAMPTZ AT TIME ZONE 'UTC', '%Y%m%d') AS INTEGER)
GROUP BY ALL
ORDER BY cost_usd DESC, m.model;
