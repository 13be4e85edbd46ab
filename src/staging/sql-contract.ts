import type { DuckDBConnection } from '@duckdb/node-api';
import { DECISION_SPELLINGS, KNOWN_FIELDS, MAX_POLICIES } from '../contract/schemas.js';
import { defaultPlausibleRange } from '../contract/ranges.js';
import { storedUserId } from '../contract/privacy.js';
import { nowMs } from '../util/clock.js';
import type { ValidationRules } from './validate-batch.js';

/**
 * The event contract as DuckDB SQL (issue 19, DESIGN.md "Performance notes"):
 * DuckDB parses a batch of raw JSON lines and turns every record it is sure of
 * into staging rows (canonical columns, event hash, policy rows) without the
 * record ever becoming a JavaScript object. It never rejects: a record it is
 * not sure of (text with escapes, numbers in unusual forms, unknown fields,
 * policies given as names, metadata that is not empty, ...) is handed back,
 * and zod decides it (validate-batch.ts), reasons included. So zod stays the
 * authority, and test/unit/sql-contract.test.ts checks record by record that
 * what SQL accepts is exactly what the JavaScript path makes of it.
 *
 * Why the rules are as narrow as they are:
 * - No backslash in the line: every string is then its characters between two
 *   quotes (no escapes, so no lone surrogate, no hidden quote), and every `"`
 *   delimits a string, which makes the structural guards below exact.
 * - Every value is read and judged: top-level keys must be known, metadata
 *   empty, and a policy object's keys (counted as `":`) exactly those read.
 *   So NaN or Infinity, which DuckDB's reader takes and JSON.parse does not,
 *   can hide nowhere; a trailing comma, DuckDB's other leniency, is looked for.
 * - DuckDB keeps the first of two equal keys, JSON.parse the last: duplicated
 *   keys, at the top or in a policy, hand the record back.
 * - Text is accepted only with no whitespace at either end (zod trims with
 *   JavaScript's notion of whitespace) and measured in bytes (≥ UTF-16 units).
 * - Numbers only in plain decimal forms of at most 15 significant digits, so
 *   DuckDB's shortest form of the double is JavaScript's too.
 */

/** Characters JavaScript's trim() removes (control characters are refused anyway). */
const TRIMMED = String.raw`\s\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}\x{feff}`;
const JSON_TEXT = String.raw`"[^\x00-\x1f\x7f"\\]+"`;
const TEXT_EDGE = `^"[${TRIMMED}]|[${TRIMMED}]"$`;
const INTEGER = '0|[1-9][0-9]{0,14}';
const INT32 = '0|[1-9][0-9]{0,8}';
const DECIMAL_15 = String.raw`(0|[1-9][0-9]{0,8})(\.[0-9]{1,6})?`;
const COST_TEXT = String.raw`"[0-9]{1,12}(\.[0-9]{1,6})?"`;
const INSTANT =
  String.raw`"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?` +
  String.raw`(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"`;
/** DuckDB reads a trailing comma, JSON.parse does not. */
const TRAILING_COMMA = String.raw`,\s*[\]}]`;

const POLICY_KEYS = ['name', 'result', 'latency_ms', 'entities_found'] as const;
const SPEC = JSON.stringify(Object.fromEntries([...KNOWN_FIELDS].map((field) => [field, 'JSON'])));
const POLICY_SPEC = JSON.stringify([Object.fromEntries(POLICY_KEYS.map((key) => [key, 'JSON']))]);

/** One raw batch: JSON texts numbered from 0 (their index in the batch). */
export const RAW_TABLE_DDL = 'CREATE OR REPLACE TABLE raw_lines (i INTEGER, line VARCHAR)';

const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;

/** Macros and the decision map, created once per staging connection. */
const SETUP = [
  `CREATE OR REPLACE TEMP MACRO aetl_text(t, max_bytes) AS
     CASE WHEN regexp_full_match(t, ${literal(JSON_TEXT)}) AND strlen(t) - 2 <= max_bytes
       AND NOT regexp_matches(t, ${literal(TEXT_EDGE)}) THEN (t::VARCHAR)[2:-2] END`,
  // Optional text: absent or null is fine (NULL), anything else must be acceptable text.
  `CREATE OR REPLACE TEMP MACRO aetl_optional_ok(t) AS t IS NULL OR aetl_text(t, 1024) IS NOT NULL`,
  `CREATE OR REPLACE TEMP MACRO aetl_integer(t) AS CASE WHEN regexp_full_match(t, ${literal(INTEGER)}) THEN try_cast(t::VARCHAR AS BIGINT) END`,
  `CREATE OR REPLACE TEMP MACRO aetl_decimal_ok(t) AS regexp_full_match(t, ${literal(DECIMAL_15)})`,
  // JSON.stringify of the same double: DuckDB writes 93.0 where JavaScript writes 93.
  `CREATE OR REPLACE TEMP MACRO aetl_number_json(t) AS
     CASE WHEN t IS NULL THEN 'null' WHEN contains(t, '.') THEN rtrim(rtrim(t, '0'), '.') ELSE t END`,
  `CREATE OR REPLACE TEMP MACRO aetl_string_json(v) AS CASE WHEN v IS NULL THEN 'null' ELSE '"' || v || '"' END`,
  `CREATE OR REPLACE TEMP MACRO aetl_count(line, token) AS (strlen(line) - strlen(replace(line, token, ''))) // strlen(token)`,
  `CREATE OR REPLACE TEMP MACRO aetl_policy_result(r) AS CASE r
     WHEN 'passed' THEN 'pass' WHEN 'allow' THEN 'pass' WHEN 'allowed' THEN 'pass' WHEN 'blocked' THEN 'block'
     WHEN 'redacted' THEN 'redact' WHEN 'escalated' THEN 'escalate' WHEN 'flagged' THEN 'flag' ELSE r END`,
  `CREATE OR REPLACE TEMP TABLE aetl_decision (raw VARCHAR, canonical VARCHAR)`,
  RAW_TABLE_DDL,
];

function checkedSql(): string {
  const known = `[${[...KNOWN_FIELDS].map(literal).join(', ')}]`;
  return `
CREATE OR REPLACE TEMP TABLE sql_checked AS
WITH screened AS (
  SELECT i, line,
    strpos(line, '\\') = 0 AND line[1] = '{' AND strlen(line) <= $max_bytes
    AND NOT regexp_matches(line, ${literal(TRAILING_COMMA)}) AND json_valid(line) AS ok
  FROM raw_lines
), parsed AS (
  SELECT i, line, j, keys,
    CASE WHEN j.policies_evaluated IS NULL THEN []
         WHEN left(j.policies_evaluated::VARCHAR, 1) = '[' THEN from_json(j.policies_evaluated, ${literal(POLICY_SPEC)}) END AS evaluated,
    CASE WHEN j.policies_triggered IS NULL THEN []
         WHEN left(j.policies_triggered::VARCHAR, 1) = '[' THEN from_json(j.policies_triggered, '["JSON"]') END AS triggered_json
  FROM (
    SELECT i, line,
      CASE WHEN ok THEN from_json(line, ${literal(SPEC)}) END AS j,
      CASE WHEN ok THEN json_keys(line) END AS keys
    FROM screened
  )
), texts AS (
  -- Each value judged once (a macro used twice is expanded twice).
  SELECT i, keys, evaluated, triggered_json, j.metadata::VARCHAR AS metadata, j.latency_ms::VARCHAR AS latency_json,
    j.policies_evaluated::VARCHAR AS evaluated_json,
    list_contains(keys, 'cost_usd') OR list_contains(keys, 'user_id') AS shape_a,
    aetl_text(j.id, 256) AS event_id,
    CASE WHEN regexp_full_match(j.timestamp, ${literal(INSTANT)})
         THEN epoch_us(try_cast((j.timestamp::VARCHAR)[2:-2] AS TIMESTAMPTZ)) END AS ts_us,
    aetl_text(j.decision, 1024) AS decision_text,
    aetl_integer(j.input_tokens) AS input_tokens,
    aetl_integer(j.output_tokens) AS output_tokens,
    CASE WHEN shape_a THEN j.cost_usd ELSE j.cost END::VARCHAR AS cost_json,
    aetl_text(j.user_id, 1024) AS user_id_text, j.user_id IS NULL OR user_id_text IS NOT NULL AS user_id_ok,
    aetl_text(j."user", 1024) AS user_text, j."user" IS NULL OR user_text IS NOT NULL AS user_ok,
    aetl_text(j.gateway_id, 1024) AS gateway_id, j.gateway_id IS NULL OR gateway_id IS NOT NULL AS gateway_ok,
    aetl_text(j.provider, 1024) AS provider, j.provider IS NULL OR provider IS NOT NULL AS provider_ok,
    aetl_text(j.model, 1024) AS model, j.model IS NULL OR model IS NOT NULL AS model_ok,
    aetl_text(j.team_id, 1024) AS team_id, j.team_id IS NULL OR team_id IS NOT NULL AS team_ok,
    aetl_text(j.request_source, 1024) AS request_source, j.request_source IS NULL OR request_source IS NOT NULL AS source_ok,
    aetl_text(j.batch_id, 1024) AS batch_id, j.batch_id IS NULL OR batch_id IS NOT NULL AS batch_ok,
    list_transform(coalesce(triggered_json, []), t -> aetl_text(t, 1024)) AS triggered_names,
    list_transform(coalesce(evaluated, []), p -> struct_pack(
      name := aetl_text(p.name, 1024),
      result := aetl_text(p.result, 1024),
      latency := p.latency_ms::VARCHAR,
      entities := p.entities_found::VARCHAR)) AS policies_read
  FROM parsed
), fields AS (
  SELECT t.*, d.canonical AS decision,
    CASE WHEN regexp_full_match(cost_json, ${literal(DECIMAL_15)}) THEN cost_json
         WHEN regexp_full_match(cost_json, ${literal(COST_TEXT)}) THEN cost_json[2:-2] END AS cost_text,
    CASE WHEN shape_a THEN coalesce(user_id_text, user_text) ELSE user_text END AS user_id,
    -- Everything the JavaScript path would also accept, judged without it:
    keys IS NOT NULL AND len(keys) = len(list_distinct(keys)) AND list_has_all(${known}, keys)
      AND NOT (shape_a AND (list_contains(keys, 'user') OR list_contains(keys, 'cost')))
      AND event_id IS NOT NULL AND ts_us IS NOT NULL AND decision IS NOT NULL
      AND input_tokens IS NOT NULL AND output_tokens IS NOT NULL AND cost_text IS NOT NULL
      AND (latency_json IS NULL OR aetl_decimal_ok(latency_json))
      AND user_id_ok AND user_ok AND gateway_ok AND provider_ok AND model_ok AND team_ok AND source_ok AND batch_ok
      AND (metadata IS NULL OR metadata = '{}')
      AND evaluated IS NOT NULL AND triggered_json IS NOT NULL
      AND len(evaluated) <= ${MAX_POLICIES} AND len(triggered_json) <= ${MAX_POLICIES}
      AND len(list_filter(triggered_names, n -> n IS NULL)) = 0
      AND len(list_distinct(triggered_json)) = len(triggered_json)
      AND len(list_filter(policies_read, p ->
            p.name IS NULL OR NOT regexp_full_match(coalesce(p.result, ''), '[ -~]+')
            OR NOT (p.latency IS NULL OR aetl_decimal_ok(p.latency))
            OR NOT (p.entities IS NULL OR regexp_full_match(p.entities, ${literal(INT32)})))) = 0
      -- Every key of every policy object is one that was read: no other key, none twice.
      AND coalesce(aetl_count(evaluated_json, '":'), 0) = coalesce(list_sum(list_transform(policies_read, p ->
            2 + (p.latency IS NOT NULL)::INTEGER + (p.entities IS NOT NULL)::INTEGER)), 0)
      AND ts_us >= $plausible_from_us AND ts_us < $plausible_to_us
      AS ok
  FROM texts t
  LEFT JOIN aetl_decision d ON d.raw = t.decision_text
), normalised AS (
  SELECT i, ok, event_id, ts_us, decision, input_tokens, output_tokens, user_id, try_cast(cost_text AS DECIMAL(18,6)) AS cost,
    latency_json, gateway_id, provider, model, team_id, request_source, batch_id,
    list_transform(policies_read, p -> struct_pack(name := p.name, result := aetl_policy_result(lower(p.result)),
      latency := p.latency, entities := p.entities)) AS evaluated_policies,
    -- normalize.ts normalizePolicies: evaluated first, then triggered names never reported as evaluated.
    list_concat(
      list_transform(evaluated_policies, p -> struct_pack(name := p.name, result := p.result, latency := p.latency,
        entities := p.entities, triggered := p.result <> 'pass' OR list_contains(triggered_names, p.name))),
      list_transform(list_filter(triggered_names, n -> NOT list_contains(list_transform(policies_read, p -> p.name), n)),
        n -> struct_pack(name := n, result := 'triggered', latency := NULL::VARCHAR, entities := NULL::VARCHAR,
          triggered := true))) AS policies
  FROM fields
)
SELECT i, coalesce(ok, false) AS ok,
  coalesce(ok AND ts_us >= $window_start_us AND ts_us < $window_end_us, false) AS in_window,
  event_id, ts_us, decision, input_tokens, output_tokens, user_id, cost, latency_json, gateway_id, provider, model,
  team_id, request_source, batch_id, policies
FROM normalised`;
}

/**
 * The staged events of the checked batch, with each user as stored (privacy applied) and the event hash:
 * hash.ts canonicalJson field for field (keys sorted; metadata is {} on this path).
 */
const INSERT_EVENTS = `
INSERT INTO events
SELECT $base + i, event_id,
  sha256('{"batch_id":' || aetl_string_json(batch_id) || ',"cost_micros":"' || cost::VARCHAR || '","decision":"' || decision
  || '","event_id":"' || event_id || '","event_ts_us":' || ts_us || ',"gateway_id":' || aetl_string_json(gateway_id)
  || ',"input_tokens":' || input_tokens || ',"latency_ms":' || aetl_number_json(latency_json)
  || ',"metadata":{},"model":' || aetl_string_json(model) || ',"output_tokens":' || output_tokens
  || ',"policies":[' || array_to_string(list_transform(policies, p ->
       '{"entities_found":' || coalesce(p.entities, 'null') || ',"latency_ms":' || aetl_number_json(p.latency)
       || ',"name":"' || p.name || '","result":"' || p.result || '","triggered":' || p.triggered::VARCHAR || '}'), ',')
  || '],"provider":' || aetl_string_json(provider) || ',"request_source":' || aetl_string_json(request_source)
  || ',"team_id":' || aetl_string_json(team_id) || ',"user_id":' || aetl_string_json(u.stored) || '}'),
  ts_us, strftime(make_timestamp(ts_us), '%Y%m%d')::INTEGER,
  u.stored, gateway_id, model, provider, decision, try_cast(latency_json AS DOUBLE), input_tokens, output_tokens,
  (cost * 1000000)::BIGINT, len(policies), len(list_filter(policies, p -> p.triggered)),
  team_id, batch_id, request_source, '{}'
FROM sql_checked c LEFT JOIN aetl_user u ON u.raw = c.user_id
WHERE in_window`;

const INSERT_POLICIES = `
INSERT INTO policies
SELECT $base + i, ordinal - 1, p.name, p.result, try_cast(p.latency AS DOUBLE), try_cast(p.entities AS INTEGER), p.triggered
FROM (SELECT i, unnest(policies) AS p, generate_subscripts(policies, 1) AS ordinal FROM sql_checked WHERE in_window)`;

/** Lowest and highest BIGINT: the bounds of "no window" (files). */
const NO_WINDOW = { start: -(2n ** 63n), end: 2n ** 63n - 1n };

/** What one checked batch came to. */
export interface SqlBatchOutcome {
  /** Accepted and inside the window: staged. */
  valid: number;
  /** Accepted, outside the window: counted, not staged. */
  outOfWindow: number;
  /** Indexes (in the batch) of the records SQL was not sure of: zod decides them. */
  deferred: number[];
}

/**
 * Runs the SQL contract over `raw_lines` on a staging connection: accepted
 * records go straight into its `events` and `policies` tables, numbered
 * `base + i`; the rest are handed back by index.
 */
export class SqlContract {
  private constructor(
    private readonly connection: DuckDBConnection,
    private readonly rules: ValidationRules,
    private readonly checkedSql: string,
  ) {}

  static async create(connection: DuckDBConnection, rules: ValidationRules): Promise<SqlContract> {
    for (const statement of SETUP) await connection.run(statement);
    const canonical = new Map<string, string>(Object.entries(DECISION_SPELLINGS));
    // contract.decision_aliases are applied before the spellings (normalize.ts withDecisionAlias).
    for (const [spelling, decision] of Object.entries(rules.decisionAliases)) canonical.set(spelling, decision);
    for (const [raw, decision] of canonical) {
      await connection.run('INSERT INTO aetl_decision VALUES ($raw, $decision)', { raw, decision });
    }
    await connection.run('CREATE OR REPLACE TABLE aetl_user (raw VARCHAR, stored VARCHAR)');
    return new SqlContract(connection, rules, checkedSql());
  }

  async run(base: number): Promise<SqlBatchOutcome> {
    const c = this.connection;
    const plausible = this.rules.plausibleRange ?? defaultPlausibleRange(nowMs());
    const window = this.rules.window;
    await c.run(this.checkedSql, {
      max_bytes: this.rules.maxRecordBytes,
      plausible_from_us: BigInt(plausible.fromMs) * 1000n,
      plausible_to_us: BigInt(plausible.toMs) * 1000n,
      window_start_us: window ? BigInt(window.startMs) * 1000n : NO_WINDOW.start,
      window_end_us: window ? BigInt(window.endMs) * 1000n : NO_WINDOW.end,
    });
    await this.mapUsers();
    await c.run(INSERT_EVENTS, { base: BigInt(base) });
    await c.run(INSERT_POLICIES, { base: BigInt(base) });
    const outcome = await c.runAndReadAll(
      `SELECT count(*) FILTER (in_window), count(*) FILTER (ok AND NOT in_window), list(i) FILTER (NOT ok)
       FROM sql_checked`,
    );
    const [valid, outOfWindow, deferred] = outcome.getRows()[0]!;
    await c.run('DROP TABLE sql_checked');
    return {
      valid: Number(valid),
      outOfWindow: Number(outOfWindow),
      deferred: ((deferred as { items: number[] } | null)?.items ?? []).map(Number),
    };
  }

  /** Each user of the batch as stored (privacy.ts storedUserId): a few distinct users per batch, hashed once each. */
  private async mapUsers(): Promise<void> {
    const c = this.connection;
    const users = await c.runAndReadAll(
      'SELECT DISTINCT user_id FROM sql_checked WHERE in_window AND user_id IS NOT NULL',
    );
    await c.run('DELETE FROM aetl_user');
    const appender = await c.createAppender('aetl_user');
    for (const [raw] of users.getRows()) {
      appender.appendVarchar(raw as string);
      const stored = storedUserId(raw as string, this.rules.privacy);
      if (stored === null) appender.appendNull();
      else appender.appendVarchar(stored);
      appender.endRow();
    }
    appender.closeSync();
  }
}
