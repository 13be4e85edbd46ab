import { describe, expect, it } from 'vitest';
import { boundParams, declaredParams, placeholders, withoutComments } from '../../src/cli/query-file.js';
import { qualifiedTables } from '../../src/warehouse/dialect.js';
import { bigqueryDialect } from '../../src/warehouse/bigquery/bigquery-dialect.js';
import { snowflakeDialect } from '../../src/warehouse/snowflake/snowflake-dialect.js';
import { exactDecimal, isoMicros, jsonInteger } from '../../src/warehouse/driver.js';
import { UsageError } from '../../src/util/errors.js';

describe('analyst query files (aetl query)', () => {
  it('reads the -- params header in order, and refuses one it cannot read', () => {
    const header = '-- What it does.\n-- params: user_id STRING, from TIMESTAMP, to timestamp\nSELECT 1';
    expect([...declaredParams(header)]).toEqual([
      ['user_id', 'text'],
      ['from', 'timestamp'],
      ['to', 'timestamp'],
    ]);
    expect(declaredParams('SELECT 1').size).toBe(0);
    expect(() => declaredParams('-- params: from DATETIME')).toThrow(
      /TYPE one of STRING, INT64, .*got "from DATETIME"/,
    );
    expect(() => declaredParams('-- params: from')).toThrow(UsageError);
  });

  it('finds the placeholders the SQL binds, not those in comments, literals, names, casts or variables', () => {
    const sql = withoutComments(`-- prose: :from, it's :to
SELECT ':x', "a:b", '-- kept', v::INT, @@y, $1 /* :z */ FROM t WHERE a >= :from AND b = :user_id`);
    expect(sql).toContain("'-- kept'");
    expect(placeholders(sql, ':')).toEqual(['from', 'user_id']);
    expect(placeholders('SELECT @@dataset_id, @from, `a@b` FROM t', '@')).toEqual(['from']);
    expect(placeholders('SELECT $1, $from::TIMESTAMPTZ, $to', '$')).toEqual(['from', 'to']);
  });

  it('binds every declared or used parameter as its type; one missing or malformed is a usage error', () => {
    const declared = declaredParams('-- params: from TIMESTAMP, n INT64, x FLOAT64, ok BOOL, d DATE, p NUMERIC');
    const given = { from: '2026-04-01', n: '-9123456789012345678', x: '0.5', ok: 'true', d: '2026-04-02', p: '1.25' };
    expect(boundParams('q', declared, ['from', 'user_id'], { ...given, user_id: 'u1', unused: 'x' })).toEqual({
      from: { type: 'timestamp', value: '2026-04-01T00:00:00.000Z' },
      n: { type: 'int', value: -9123456789012345678n },
      x: { type: 'float', value: 0.5 },
      ok: { type: 'bool', value: true },
      d: { type: 'date', value: '2026-04-02' },
      p: { type: 'numeric', value: '1.25' },
      user_id: { type: 'text', value: 'u1' }, // used but not declared: text, as before headers
    });
    expect(() => boundParams('audit_trail', declared, ['user_id'], {})).toThrow(
      'audit_trail needs --param from=... --param n=... --param x=... --param ok=... --param d=... --param p=... --param user_id=...',
    );
    for (const [name, bad] of [
      ['from', 'yesterday'],
      ['n', '1.5'],
      ['x', ''],
      ['ok', 'yes'],
      ['d', '2026-04-01T00:00:00Z'],
      ['p', '1e3'],
    ] as const) {
      expect(() => boundParams('q', declared, [], { ...given, [name]: bad }), name).toThrow(
        `--param ${name}: expected`,
      );
    }
  });

  it("qualifies {{dataset}} and {{schema}} tables as the engine's dialect does", () => {
    const bq = qualifiedTables('SELECT * FROM `{{dataset}}.fact_ai_event` f', bigqueryDialect('aetl-test.aetl'));
    expect(bq).toBe('SELECT * FROM `aetl-test.aetl.fact_ai_event` f');
    const sf = qualifiedTables('FROM {{schema}}.dim_user u JOIN {{schema}}.dim_date d', snowflakeDialect('db', 'ai'));
    expect(sf).toBe('FROM "DB"."AI"."DIM_USER" u JOIN "DB"."AI"."DIM_DATE" d');
    expect(() => qualifiedTables('FROM {{schema}}.Users', snowflakeDialect('db', 'ai'))).toThrow(/not a table name/);
  });

  it('prints values as the JSON contract has them, alike on every engine', () => {
    expect(isoMicros(1_775_037_600_123_456n)).toBe('2026-04-01T10:00:00.123456Z');
    expect(isoMicros(1_775_037_600_123_000n)).toBe('2026-04-01T10:00:00.123Z');
    expect(isoMicros(-1n)).toBe('1969-12-31T23:59:59.999999Z');
    expect(exactDecimal('12.340000')).toBe('12.34');
    expect(exactDecimal('3.000000')).toBe('3');
    expect(exactDecimal('100')).toBe('100');
    expect(jsonInteger(42n)).toBe(42);
    expect(jsonInteger(-9123456789012345678n)).toBe('-9123456789012345678');
  });

  it('reads a timestamp without an offset as UTC, whatever the machine’s zone (DESIGN.md decision 7)', () => {
    const zone = process.env.TZ;
    process.env.TZ = 'Asia/Kolkata';
    try {
      const bind = (from: string) => boundParams('q', declaredParams('-- params: from TIMESTAMP'), [], { from }).from;
      expect(bind('2026-04-01T10:00:00')).toEqual({ type: 'timestamp', value: '2026-04-01T10:00:00.000Z' });
      expect(bind('2026-04-01T10:00:00+02:00')).toEqual({ type: 'timestamp', value: '2026-04-01T08:00:00.000Z' });
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });
});
