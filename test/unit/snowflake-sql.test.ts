import { describe, expect, it } from 'vitest';
import { bool, instant, int, numeric, text } from '../../src/warehouse/driver.js';
import {
  copySql,
  positional,
  putSql,
  removeSql,
  stageLocation,
} from '../../src/warehouse/snowflake/snowflake-dialect.js';

describe('Snowflake SQL generation', () => {
  it('turns named parameters into positional binds, typed, each name bound once', () => {
    const { sqlText, binds } = positional(
      'SELECT :key, :at, :ok, :price, x::VARCHAR, \':not_a_param\', "COL:umn" FROM t WHERE a = :key AND b = :name',
      {
        key: int(-9123456789012345678n),
        at: instant(Date.parse('2026-05-01T12:00:00Z')),
        ok: bool(true),
        price: numeric('0.0025'),
        name: text(null),
      },
    );
    expect(sqlText).toBe(
      'SELECT CAST(:1 AS BIGINT), TO_TIMESTAMP_TZ(:2), CAST(:3 AS BOOLEAN), CAST(:4 AS DECIMAL(38, 9)), x::VARCHAR, ' +
        '\':not_a_param\', "COL:umn" FROM t WHERE a = CAST(:1 AS BIGINT) AND b = :5',
    );
    // 64-bit integers travel as exact text.
    expect(binds).toEqual(['-9123456789012345678', '2026-05-01T12:00:00.000Z', true, '0.0025', null]);
  });

  it('refuses a placeholder that has no value rather than sending it as text', () => {
    expect(() => positional('SELECT * FROM t WHERE a = :missing', {})).toThrow(/no value bound for :missing/);
  });

  it('stages each package under its own path and refuses any other stage reference', () => {
    const stage = '"AETL"."PUBLIC"."AETL_STAGE"';
    const location = stageLocation(stage, 'default', '20261123T174228Z-c3a59a', 3);
    expect(location).toBe('@"AETL"."PUBLIC"."AETL_STAGE"/aetl/default/20261123T174228Z-c3a59a/3/');
    expect(stageLocation(stage, 'default')).toBe('@"AETL"."PUBLIC"."AETL_STAGE"/aetl/default/');
    expect(putSql("/tmp/it's/events-00001.parquet", `${location}events/`)).toBe(
      `PUT 'file:///tmp/it\\'s/events-00001.parquet' ${location}events/ AUTO_COMPRESS = FALSE OVERWRITE = TRUE`,
    );
    expect(copySql('"AETL"."PUBLIC"."T"', location)).toMatch(/MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE\nFORCE = TRUE$/);
    for (const bad of ['@x; DROP TABLE t', '@"A"."B"."C"/../../etc/', 'file:///etc/passwd']) {
      expect(() => removeSql(bad)).toThrow(/invalid Snowflake stage location/);
    }
  });
});
