import { describe, expect, it } from 'vitest';
import {
  FIRST_VALID_FROM_MS,
  planScd2,
  versionKey,
  type MemberVersion,
  type ReferenceRow,
} from '../../src/transform/scd2.js';

const T = (iso: string) => Date.parse(iso);
const row = (natural: string, team: string, validFrom: string | null = null): ReferenceRow => ({
  natural,
  validFromMs: validFrom === null ? null : T(validFrom),
  attributes: { team },
  where: 'users.csv line 2',
});
const version = (natural: string, team: string | null, validFromMs: number, inferred = false): MemberVersion => ({
  key: versionKey('dim_user', natural, validFromMs),
  natural,
  validFromMs,
  attributes: { team },
  inferred,
});
const NOW = T('2026-05-01T00:00:00Z');

describe('planScd2', () => {
  it('a new member gets its first version at 1900-01-01', () => {
    expect(planScd2('dim_user', [], [row('u1', 'search')], NOW)).toEqual([
      { kind: 'insert', version: version('u1', 'search', FIRST_VALID_FROM_MS) },
    ]);
  });

  it('unchanged attributes change nothing (decimal text compares by value)', () => {
    expect(planScd2('dim_user', [version('u1', 'search', FIRST_VALID_FROM_MS)], [row('u1', 'search')], NOW)).toEqual(
      [],
    );
    const priced = { ...version('m', null, FIRST_VALID_FROM_MS), attributes: { price: '0.00250000' } };
    expect(planScd2('dim_model', [priced], [{ ...row('m', ''), attributes: { price: '0.0025' } }], NOW)).toEqual([]);
  });

  it('a changed attribute opens a new version when the change is first loaded', () => {
    const plan = planScd2('dim_user', [version('u1', 'search', FIRST_VALID_FROM_MS)], [row('u1', 'payments')], NOW);
    expect(plan).toEqual([{ kind: 'insert', version: version('u1', 'payments', NOW) }]);
  });

  it('an inferred member is completed in place and keeps its key', () => {
    const inferred = version('u9', null, FIRST_VALID_FROM_MS, true);
    expect(planScd2('dim_user', [inferred], [row('u9', 'legal')], NOW)).toEqual([
      { kind: 'update', key: inferred.key, attributes: { team: 'legal' } },
    ]);
  });

  it('declared history: the first row is the first version, later rows start at their valid_from', () => {
    const rows = [row('u2', 'payments', '2026-03-01'), row('u2', 'search')];
    expect(planScd2('dim_user', [version('u2', 'search', FIRST_VALID_FROM_MS)], rows, NOW)).toEqual([
      { kind: 'insert', version: version('u2', 'payments', T('2026-03-01')) },
    ]);
  });

  it('refuses a history with two rows without valid_from', () => {
    expect(() => planScd2('dim_user', [], [row('u3', 'a'), row('u3', 'b')], NOW)).toThrow(
      /only the first row of u3 may omit valid_from/,
    );
  });
});
