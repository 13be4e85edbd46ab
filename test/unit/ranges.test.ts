import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { plausibleRange } from '../../src/config/schema.js';
import { fastParse } from '../../src/contract/fast-parse.js';
import { normalizeRecord } from '../../src/contract/normalize.js';
import { COLUMN_RANGES, implausibleInstant, type PlausibleRange } from '../../src/contract/ranges.js';
import { parseInstant } from '../../src/contract/scalars.js';
import { MAX_POLICIES } from '../../src/contract/schemas.js';
import { validationRules } from '../../src/pipeline/package-steps.js';
import { validateBatch } from '../../src/staging/validate-batch.js';
import { shapeA } from '../helpers/events.js';
import { REPO } from '../helpers/workspace.js';

const ms = (iso: string) => Date.parse(iso);
const RANGE: PlausibleRange = { fromMs: ms('2000-01-01T00:00:00Z'), toMs: ms('2026-04-13T00:00:00Z') };

/** The largest value of a column type on one engine (integers capped where a JS number stops being exact). */
function typeMax(type: string): number {
  if (/^(DOUBLE|FLOAT64|FLOAT)$/.test(type)) return Number.MAX_VALUE;
  if (type === 'INTEGER' || type === 'INT') return 2 ** 31 - 1;
  if (/^(BIGINT|INT64)$/.test(type)) return Number.MAX_SAFE_INTEGER; // 2^63 − 1, beyond a JS number
  throw new Error(`no max for ${type}`);
}

/** Every type `column` has in the fact tables of one dialect's DDL (Snowflake's INTEGER is NUMBER(38,0)). */
function columnTypes(ddl: string, column: string, snowflake: boolean): string[] {
  const types = [...ddl.matchAll(new RegExp(`^\\s+${column}\\s+([A-Z0-9]+)`, 'gm'))].map((m) => m[1]!);
  return snowflake ? types.map((t) => (t === 'INTEGER' || t === 'BIGINT' ? 'BIGINT' : t)) : types;
}

describe('the column range table', () => {
  const migrations = (engine: string) =>
    readdirSync(join(REPO, `sql/${engine}/migrations`))
      .map((f) => readFileSync(join(REPO, `sql/${engine}/migrations`, f), 'utf8'))
      .join('\n');
  const [duckdb, bigquery, snowflake] = [migrations('duckdb'), migrations('bigquery'), migrations('snowflake')];

  it.each(Object.entries(COLUMN_RANGES))('%s: the narrowest of its types on DuckDB, BigQuery and Snowflake', (c, r) => {
    const types = [
      ...columnTypes(duckdb, c, false),
      ...columnTypes(bigquery, c, false),
      ...columnTypes(snowflake, c, true),
    ];
    expect(types.length, c).toBeGreaterThanOrEqual(3);
    expect(r.max).toBe(Math.min(...types.map(typeMax)));
    expect(r.integer).toBe(types.every((t) => typeMax(t) !== Number.MAX_VALUE));
    expect(r.min).toBe(0);
  });

  it('bounds the derived policy counts by the array limit', () => {
    // One row per evaluated entry, plus triggered names never evaluated.
    expect(2 * MAX_POLICIES).toBeLessThanOrEqual(COLUMN_RANGES.policies_evaluated_count.max);
  });
});

describe('zod and the fast path judge every range alike', () => {
  /** [what, fields changed on a valid record, reject path (null: valid), message]. */
  const CASES: [string, Record<string, unknown>, string | null, RegExp?][] = [
    [
      'entities_found at INT32 max',
      { policies_evaluated: [{ name: 'p', result: 'pass', entities_found: 2 ** 31 - 1 }] },
      null,
    ],
    [
      'entities_found beyond INT32',
      { policies_evaluated: [{ name: 'p', result: 'pass', entities_found: 3e9 }] },
      'policies_evaluated.0.entities_found',
      /0\.\.2147483647 \(INTEGER column\)/,
    ],
    [
      'entities_found beyond INT32 as text',
      { policies_evaluated: [{ name: 'p', result: 'pass', entities_found: '2147483648' }] },
      'policies_evaluated.0.entities_found',
      /INTEGER/,
    ],
    ['tokens at 2^53 - 1 in all', { input_tokens: 2 ** 53 - 2, output_tokens: 1 }, null],
    ['input_tokens at 2^53', { input_tokens: 2 ** 53 }, 'input_tokens', /BIGINT column\), got 9007199254740992/],
    ['output_tokens beyond int64 as text', { output_tokens: '9223372036854775808' }, 'output_tokens', /BIGINT/],
    ['negative tokens', { input_tokens: -1 }, 'input_tokens', /expected an integer in 0\.\./],
    ['total beyond 2^53 - 1', { input_tokens: 2 ** 53 - 1, output_tokens: 1 }, 'total_tokens', /input_tokens \+/],
    ['latency huge but finite', { latency_ms: 1e300 }, null],
    ['latency beyond a double, as text', { latency_ms: `1${'0'.repeat(400)}` }, 'latency_ms', /Infinity/],
    [
      'policy latency negative',
      { policies_evaluated: [{ name: 'p', result: 'pass', latency_ms: -2 }] },
      'policies_evaluated.0.latency_ms',
    ],
    ['cost at DECIMAL(18,6) max', { cost_usd: '999999999999.999999' }, null],
    ['cost with 7 decimals rounds', { cost_usd: '0.0000015' }, null],
    ['cost of 13 integer digits', { cost_usd: '1000000000000' }, 'cost_usd', /DECIMAL\(18,6\)/],
    ['cost rounding past the max', { cost_usd: '999999999999.9999995' }, 'cost_usd', /rounded half-up/],
    ['year 0001', { timestamp: '0001-01-01T00:00:00Z' }, 'timestamp', /^0001-01-01T00:00:00\.000Z is outside/],
    ['year 9999', { timestamp: '9999-12-31T23:59:59Z' }, 'timestamp', /plausible_range \[2000-01-01T/],
    ['just before 2000', { timestamp: '2000-01-01T00:59:59.999999+01:00' }, 'timestamp', /plausible_range/],
    ['exactly 2000', { timestamp: '2000-01-01T01:00:00+01:00' }, null],
    ['the range end', { timestamp: '2026-04-13T00:00:00Z' }, 'timestamp', /2026-04-13T00:00:00\.000Z\)/],
    ['offset +25:00', { timestamp: '2026-04-10T08:00:00+25:00' }, 'timestamp', /offset "\+25:00"/],
    ['offset minutes 60', { timestamp: '2026-04-10T08:00:00-0060' }, 'timestamp', /offset "-0060"/],
    ['offset +23:59', { timestamp: '2026-04-10T08:00:00+23:59' }, null],
    ['February 30', { timestamp: '2026-02-30T08:00:00Z' }, 'timestamp', /not a calendar date/],
    ['February 29 of a common year', { timestamp: '2025-02-29T08:00:00Z' }, 'timestamp', /not a calendar date/],
    ['February 29 of a leap year', { timestamp: '2024-02-29T08:00:00Z' }, null],
    ['hour 24', { timestamp: '2026-04-10T24:00:00Z' }, 'timestamp', /not a calendar date/],
  ];

  it.each(CASES)('%s', (_, fields, path, message) => {
    const record = shapeA('e1', 1, fields);
    const viaFastPath = normalizeRecord(record, true, {}, RANGE);
    const viaZod = normalizeRecord(record, false, {}, RANGE);
    expect(viaFastPath).toEqual(viaZod);
    if (path === null) {
      expect(viaZod.ok).toBe(true);
      expect(fastParse(record, true)).toBeDefined(); // the fast path takes the edge itself, not zod
      return;
    }
    expect(viaZod.ok).toBe(false);
    if (viaZod.ok) return;
    expect(viaZod.reasons.map((r) => r.path)).toEqual([path]);
    if (message) expect(viaZod.reasons[0]!.message).toMatch(message);
  });
});

describe('instants', () => {
  it('reads years before 100 as themselves, not 19xx', () => {
    const parsed = parseInstant('0001-01-01T00:00:00Z');
    expect(parsed).toEqual({ micros: -62_135_596_800_000_000 });
    expect(parseInstant('0099-12-31T23:00:00-01:00')).toEqual({ micros: Date.parse('0100-01-01T00:00:00Z') * 1000 });
  });

  it('accepts [from, to) only', () => {
    expect(implausibleInstant(RANGE.fromMs * 1000, RANGE)).toBeNull();
    expect(implausibleInstant(RANGE.fromMs * 1000 - 1, RANGE)?.path).toBe('timestamp');
    expect(implausibleInstant(RANGE.toMs * 1000 - 1, RANGE)).toBeNull();
    expect(implausibleInstant(RANGE.toMs * 1000, RANGE)?.path).toBe('timestamp');
  });
});

describe('contract.plausible_range in the config', () => {
  const config = (range: string) =>
    parseConfig(`source:\n  kind: simulator\ncontract:\n  plausible_range:\n${range}`, '/etc/aetl/c.yaml', {});
  const now = ms('2026-04-12T00:00:00Z');

  it('defaults to 2000-01-01 .. now + 1 day', () => {
    const defaults = parseConfig('source:\n  kind: simulator\n', 'c.yaml', {});
    expect(plausibleRange(defaults, now)).toEqual({
      fromMs: ms('2000-01-01T00:00:00Z'),
      toMs: ms('2026-04-13T00:00:00Z'),
    });
  });

  it('takes dates, instants and now±duration, and validation honours it', () => {
    const c = config('    from: now-3d\n    to: "2026-04-12T06:00:00+02:00"\n');
    const range = plausibleRange(c, now);
    expect(range).toEqual({ fromMs: ms('2026-04-09T00:00:00Z'), toMs: ms('2026-04-12T04:00:00Z') });
    expect(plausibleRange(config('    from: 2026-04-01\n'), now)).toEqual({
      fromMs: ms('2026-04-01'),
      toMs: now + 86_400_000,
    });

    const rules = validationRules({ config: c, erasedSubjects: [], nowMs: now }, null);
    const lines = ['2026-04-08T23:59:59Z', '2026-04-09T00:00:00Z', '2026-04-12T03:59:59Z', '2026-04-12T04:00:00Z'];
    const batch = validateBatch(
      lines.map((timestamp, i) => ({
        kind: 'line' as const,
        text: JSON.stringify(shapeA(`e${i}`, 1, { timestamp })),
        location: { source: 'test', ref: `line ${i + 1}` },
      })),
      rules,
    );
    expect(batch.counts).toMatchObject({ read: 4, valid: 2, rejected: 2 });
    expect(batch.rejects.map((r) => r[5])).toEqual(['e0', 'e3']);
  });

  it('names the path of a bad bound and refuses an empty range', () => {
    expect(() => config('    from: yesterday\n')).toThrow(
      /contract\.plausible_range\.from: expected a date or ISO instant/,
    );
    expect(() => config('    from: 1899-12-31\n')).toThrow(/contract\.plausible_range\.from: .*from 1900-01-01/);
    expect(() => config('    to: now+20000d\n')).toThrow(/contract\.plausible_range\.to: expected now\+<duration>/);
    expect(() => config('    to: 2026-02-30\n')).toThrow(/contract\.plausible_range\.to:/);
    expect(() => config('    from: 2026-04-10\n    to: 2026-04-10\n')).toThrow(
      /contract\.plausible_range\.to: must be after contract\.plausible_range\.from/,
    );
    expect(() => config('    since: 2026-04-10\n')).toThrow(/contract\.plausible_range\.since: unknown key/);
    // Empty only at the run's clock: refused when the run starts (exit 2), naming the key.
    expect(() => plausibleRange(config('    from: 2026-05-01\n'), now)).toThrow(
      /contract\.plausible_range: from \(2026-05-01T00:00:00\.000Z\) is not before to/,
    );
  });
});
