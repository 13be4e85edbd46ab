-- Snowflake version of sql/duckdb/queries/audit_trail.sql.
-- Reconstruct what one user did in [:from_ts, :to_ts): who, when, which gateway and model,
-- which policies ran with what result, the decision and the cost.
-- Parameters :from_ts, :to_ts (TIMESTAMP_TZ, half-open) and :user_id: the loader binds them
-- by name (snowflake-sdk itself only takes positional ? or :1 binds, so the loader maps
-- names to positions). Replace {{schema}} with the schema.
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
  WHERE e.event_ts >= :from_ts::TIMESTAMP_TZ AND e.event_ts < :to_ts::TIMESTAMP_TZ
) ep ON ep.event_id = f.event_id AND ep.date_key = f.date_key
WHERE u.user_id = :user_id AND f.event_ts >= :from_ts::TIMESTAMP_TZ AND f.event_ts < :to_ts::TIMESTAMP_TZ
GROUP BY f.event_ts, f.event_id, u.user_id, g.gateway_id, m.provider, m.model, f.decision, f.cost_usd
ORDER BY f.event_ts, f.event_id;
