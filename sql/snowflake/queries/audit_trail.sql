-- Snowflake version of sql/duckdb/queries/audit_trail.sql.
-- Reconstruct what one user did in [:from, :to): who, when, which gateway and model,
-- which policies ran with what result, the decision and the cost.
-- params: user_id STRING, from TIMESTAMP, to TIMESTAMP
-- `aetl query` fills in {{schema}} (the configured database.schema) and binds the params by
-- position (snowflake-sdk takes only positional binds), each as its declared type.
-- The policy list is a LEFT JOIN + GROUP BY, not DuckDB's correlated subquery (Snowflake
-- rejects most correlated subqueries). Policy rows carry their event's event_ts, so the
-- same range prunes fact_policy_evaluation without changing the result.
-- NULLIF: LISTAGG of no rows is '', DuckDB's string_agg gives NULL.
SELECT f.event_ts, f.event_id, u.user_id, g.gateway_id, m.provider, m.model, f.decision,
       NULLIF(LISTAGG(ep.policy_name || ':' || ep.result, ', ') WITHIN GROUP (ORDER BY ep.ordinal), '') AS policies,
       f.cost_usd
FROM {{schema}}.fact_ai_event f
JOIN {{schema}}.dim_user u    ON u.user_key = f.user_key
JOIN {{schema}}.dim_gateway g ON g.gateway_key = f.gateway_key
JOIN {{schema}}.dim_model m   ON m.model_key = f.model_key
LEFT JOIN (
  SELECT e.event_id, e.date_key, e.ordinal, e.result, p.policy_name
  FROM {{schema}}.fact_policy_evaluation e
  JOIN {{schema}}.dim_policy p ON p.policy_key = e.policy_key
  WHERE e.event_ts >= :from AND e.event_ts < :to
) ep ON ep.event_id = f.event_id AND ep.date_key = f.date_key
WHERE u.user_id = :user_id AND f.event_ts >= :from AND f.event_ts < :to
GROUP BY f.event_ts, f.event_id, u.user_id, g.gateway_id, m.provider, m.model, f.decision, f.cost_usd
ORDER BY f.event_ts, f.event_id;
