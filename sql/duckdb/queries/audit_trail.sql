-- Reconstruct what one user did in [$from, $to): who, when, which gateway and model,
-- which policies ran with what result, the decision and the cost.
-- params: user_id STRING, from TIMESTAMP, to TIMESTAMP
SELECT f.event_ts, f.event_id, u.user_id, g.gateway_id, m.provider, m.model, f.decision,
       (SELECT string_agg(p.policy_name || ':' || e.result, ', ' ORDER BY e.ordinal)
        FROM fact_policy_evaluation e JOIN dim_policy p ON p.policy_key = e.policy_key
        WHERE e.event_id = f.event_id AND e.date_key = f.date_key) AS policies,
       f.cost_usd
FROM fact_ai_event f
JOIN dim_user u    ON u.user_key = f.user_key
JOIN dim_gateway g ON g.gateway_key = f.gateway_key
JOIN dim_model m   ON m.model_key = f.model_key
WHERE u.user_id = $user_id AND f.event_ts >= $from::TIMESTAMPTZ AND f.event_ts < $to::TIMESTAMPTZ
  -- date_key is the UTC day: prune on the range's UTC dates, whatever the session's TimeZone.
  AND f.date_key BETWEEN CAST(strftime($from::TIMESTAMPTZ AT TIME ZONE 'UTC', '%Y%m%d') AS INTEGER)
                     AND CAST(strftime($to::TIMESTAMPTZ AT TIME ZONE 'UTC', '%Y%m%d') AS INTEGER)
ORDER BY f.event_ts, f.event_id;
