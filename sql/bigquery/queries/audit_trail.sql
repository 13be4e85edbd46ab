-- BigQuery version of sql/duckdb/queries/audit_trail.sql.
-- Reconstruct what one user did in [@from, @to): who, when, which gateway and model,
-- which policies ran with what result, the decision and the cost.
-- params: user_id STRING, from TIMESTAMP, to TIMESTAMP
-- `aetl query` fills in {{dataset}} (the configured project.dataset) and binds the params.
-- The policy list is a LEFT JOIN + GROUP BY, not DuckDB's correlated subquery (BigQuery
-- restricts those). Policy rows carry their event's event_ts, so the same range prunes
-- fact_policy_evaluation's partitions without changing the result.
SELECT f.event_ts, f.event_id, u.user_id, g.gateway_id, m.provider, m.model, f.decision,
       STRING_AGG(ep.policy_name || ':' || ep.result, ', ' ORDER BY ep.ordinal) AS policies,
       f.cost_usd
FROM `{{dataset}}.fact_ai_event` f
JOIN `{{dataset}}.dim_user` u    ON u.user_key = f.user_key
JOIN `{{dataset}}.dim_gateway` g ON g.gateway_key = f.gateway_key
JOIN `{{dataset}}.dim_model` m   ON m.model_key = f.model_key
LEFT JOIN (
  SELECT e.event_id, e.date_key, e.ordinal, e.result, p.policy_name
  FROM `{{dataset}}.fact_policy_evaluation` e
  JOIN `{{dataset}}.dim_policy` p ON p.policy_key = e.policy_key
  WHERE e.event_ts >= @from AND e.event_ts < @to
) ep ON ep.event_id = f.event_id AND ep.date_key = f.date_key
WHERE u.user_id = @user_id AND f.event_ts >= @from AND f.event_ts < @to
GROUP BY f.event_ts, f.event_id, u.user_id, g.gateway_id, m.provider, m.model, f.decision, f.cost_usd
ORDER BY f.event_ts, f.event_id;
