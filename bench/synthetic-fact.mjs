// Fills a migrated warehouse with `rows` synthetic facts over 14 days, their policy evaluations (1-3
// per fact, 2 on average, as the simulator writes), id index and hourly aggregates (SQL only,
// minutes for 10M), so `aetl check` can be timed on a large fact: node bench/synthetic-fact.mjs <warehouse> <rows>
// Ids are UUID-shaped like real ones: DuckDB inlines strings of up to 12 bytes, which sort far cheaper.
import { DuckDBInstance } from '@duckdb/node-api';
import { duckdbDialect } from '../dist/warehouse/duckdb/duckdb-dialect.js';
import { recomputeAggregatesSql } from '../dist/warehouse/sql/sql-aggregates.js';

const [file, rows] = process.argv.slice(2);
const db = await DuckDBInstance.create(file);
const c = await db.connect();
await c.run("SET TimeZone = 'UTC'");
const span = 14 * 86_400_000_000; // µs
await c.run(`INSERT INTO fact_ai_event
  SELECT uuid, md5(i::VARCHAR), ts, CAST(strftime(ts, '%Y%m%d') AS INTEGER), 0, 0, 0,
         CASE WHEN i % 17 = 0 THEN 'block' ELSE 'allow' END, i % 17 = 0, (i % 3000)::DOUBLE,
         i % 4000, i % 2000, i % 4000 + i % 2000, ((i % 5000) * 0.000001)::DECIMAL(18,6), 1, 0,
         NULL, NULL, NULL, '{}'::JSON, 'synthetic', now(), 1
  FROM (SELECT i, make_timestamp(${Date.parse('2026-01-01T00:00:00Z') * 1000} + i * ${Math.floor(span / Number(rows))})::TIMESTAMPTZ AS ts,
          md5('syn-' || i) AS h,
          substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4) || '-' || substr(h, 17, 4) || '-' || substr(h, 21, 12) AS uuid
        FROM range(${rows}) t(i))`);
await c.run(`INSERT INTO dim_policy VALUES (1, 'pii_detection'), (2, 'toxicity'), (3, 'audit_logger')`);
// Ordinals 0 .. (hash % 3): 1, 2 or 3 evaluations per fact.
await c.run(`INSERT INTO fact_policy_evaluation
  SELECT f.event_id, o.ordinal, o.ordinal + 1, f.event_ts, f.date_key, f.user_key, f.model_key, f.gateway_key,
         CASE WHEN f.was_blocked AND o.ordinal = 0 THEN 'block' ELSE 'pass' END, 10, NULL, f.was_blocked AND o.ordinal = 0,
         f.run_id, f.loaded_at, NULL
  FROM fact_ai_event f JOIN range(3) o(ordinal) ON o.ordinal <= hash(f.event_id) % 3`);
// The id index a real load writes beside its facts.
await c.run(`INSERT INTO etl_event_id (id_key, pipeline, event_id, event_ts, date_key, event_hash)
  SELECT md5_number_lower(event_id), 'default', event_id, event_ts, date_key, event_hash FROM fact_ai_event`);
// The hourly aggregates, by the SQL the product keeps them exact with.
for (const sql of recomputeAggregatesSql(duckdbDialect, 'SELECT DISTINCT date_key FROM fact_ai_event'))
  await c.run(sql);
await c.run(`INSERT INTO dim_date SELECT CAST(strftime(d, '%Y%m%d') AS INTEGER), d, year(d), quarter(d), month(d), monthname(d),
  weekofyear(d), day(d), isodow(d), dayname(d), isodow(d) >= 6
  FROM (SELECT unnest(generate_series(DATE '2026-01-01', DATE '2026-01-14', INTERVAL 1 DAY))::DATE AS d)`);
await c.run(`INSERT INTO etl_run (run_id, pipeline, command, status, started_at, finished_at)
  VALUES ('synthetic', 'default', 'run', 'succeeded', now(), now())`);
await c.run(`INSERT INTO etl_run_window (run_id, pipeline, seq, window_start, window_end, source_count, read, inserted,
  already_present, in_batch_duplicates, conflicts, rejected, out_of_window, policy_rows, checkpoint_moved, drift,
  extract_ms, load_ms, committed_at, checks_passed)
  VALUES ('synthetic', 'default', 1, TIMESTAMPTZ '2026-01-01 00:00:00+00', TIMESTAMPTZ '2026-01-15 00:00:00+00',
          ${rows}, ${rows}, ${rows}, 0, 0, 0, 0, 0, 0, true, '{}', 0, 0, now(), true)`);
c.closeSync();
db.closeSync();
