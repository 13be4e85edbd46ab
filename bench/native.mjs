// The DuckDB-native lower bound: read_json with explicit columns → fact and policy Parquet,
// no validation, no JavaScript per event: node bench/native.mjs <events.jsonl> <outdir>
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

const [input, out] = process.argv.slice(2);
mkdirSync(out, { recursive: true });
const db = await DuckDBInstance.create(':memory:', { memory_limit: '256MB', temp_directory: join(out, 'spill') });
const c = await db.connect();
await c.run("SET TimeZone = 'UTC'");
const columns = `{id: 'VARCHAR', timestamp: 'TIMESTAMPTZ', decision: 'VARCHAR', model: 'VARCHAR', provider: 'VARCHAR',
  input_tokens: 'BIGINT', output_tokens: 'BIGINT', gateway_id: 'VARCHAR', user_id: 'VARCHAR', "user": 'VARCHAR',
  cost_usd: 'DECIMAL(18,6)', cost: 'DECIMAL(18,6)', latency_ms: 'DOUBLE',
  policies_evaluated: 'STRUCT(name VARCHAR, result VARCHAR, latency_ms DOUBLE, entities_found INTEGER)[]'}`;
await c.run(
  `CREATE TABLE raw AS SELECT * FROM read_json('${input}', format = 'newline_delimited', columns = ${columns})`,
);
await c.run(`COPY (SELECT id AS event_id, timestamp AS event_ts, decision, model, provider, input_tokens, output_tokens,
  input_tokens + output_tokens AS total_tokens, coalesce(cost_usd, cost) AS cost_usd, coalesce(user_id, "user") AS user_id,
  gateway_id, latency_ms, len(policies_evaluated) AS policies_evaluated_count FROM raw)
  TO '${join(out, 'fact.parquet')}' (FORMAT parquet, COMPRESSION zstd)`);
await c.run(`COPY (SELECT id AS event_id, unnest(policies_evaluated, recursive := true) FROM raw)
  TO '${join(out, 'policy.parquet')}' (FORMAT parquet, COMPRESSION zstd)`);
c.closeSync();
db.closeSync();
