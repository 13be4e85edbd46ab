-- Snowflake staging tables for one load package: COPY INTO loads the staged Parquet into them
-- by column name (columns as src/staging/package.ts exports them). Transient: they live for
-- one load and are dropped after it, so fail-safe storage would be paid for nothing.
-- {{events}}, {{policies}}, {{rejects}} are replaced with the run-scoped table names.

CREATE OR REPLACE TRANSIENT TABLE {{events}} (
  staged_row               BIGINT,
  event_id                 VARCHAR,
  event_hash               VARCHAR,
  event_ts                 TIMESTAMP_TZ,
  date_key                 INTEGER,
  user_id                  VARCHAR,
  gateway_id               VARCHAR,
  model                    VARCHAR,
  provider                 VARCHAR,
  decision                 VARCHAR,
  latency_ms               FLOAT,
  input_tokens             BIGINT,
  output_tokens            BIGINT,
  cost_usd                 NUMBER(18, 6),
  policies_evaluated_count INTEGER,
  policies_triggered_count INTEGER,
  team_id                  VARCHAR,
  batch_id                 VARCHAR,
  request_source           VARCHAR,
  metadata                 VARCHAR
);

CREATE OR REPLACE TRANSIENT TABLE {{policies}} (
  event_id       VARCHAR,
  event_hash     VARCHAR,
  staged_row     BIGINT,
  ordinal        INTEGER,
  policy_name    VARCHAR,
  result         VARCHAR,
  latency_ms     FLOAT,
  entities_found INTEGER,
  triggered      BOOLEAN
);

CREATE OR REPLACE TRANSIENT TABLE {{rejects}} (
  source_location VARCHAR,
  source_ref      VARCHAR,
  payload_hash    VARCHAR,
  payload         VARCHAR,
  reasons         VARCHAR,
  event_id        VARCHAR,
  event_ts        TIMESTAMP_TZ,
  payload_bytes   BIGINT,
  payload_sha256  VARCHAR,
  payload_truncated BOOLEAN
);
