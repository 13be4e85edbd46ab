import { describe, expect, it } from 'vitest';
import { blockingChecks } from '../../src/checks/blocking.js';
import { checksSchema } from '../../src/config/checks-schema.js';
import type { CheckResult, LoadCounts, LoadFacts } from '../../src/warehouse/warehouse.js';

/**
 * The checks judged inside the load's transaction (DESIGN.md decision 1): the
 * boundaries where each one turns from pass to fail, so that a flipped
 * comparison or a counter left out of the balance fails a test.
 */
const DEFAULTS = checksSchema.parse({});

/** read 200 = inserted 150 + already present 20 + in-batch duplicates 10 + rejected 1 + out of window 19. */
const BALANCED = { read: 200, inserted: 150, alreadyPresent: 20, inBatchDuplicates: 10, rejected: 1, outOfWindow: 19 };

type Facts = Partial<Omit<LoadFacts, 'counts'>> & { counts?: Partial<LoadCounts> };

function judge(facts: Facts, config = DEFAULTS): CheckResult[] {
  return blockingChecks(config)({
    duplicateIdsInRange: 0,
    completeness: null,
    ...facts,
    counts: { ...BALANCED, conflicts: 0, policyRows: 0, ...facts.counts },
  });
}

const named = (results: CheckResult[], name: string) => {
  const result = results.find((r) => r.name === name);
  if (!result) throw new Error(`no ${name} result in ${results.map((r) => r.name).join(', ')}`);
  return result;
};

describe('blockingChecks', () => {
  it('passes a balanced, clean load; completeness is judged only when there is a count', () => {
    const results = judge({});
    expect(results.map((r) => [r.name, r.status, r.blocking])).toEqual([
      ['duplicates', 'pass', true],
      ['counts_balance', 'pass', true],
      ['reject_rate', 'pass', true],
    ]);
    expect(named(results, 'counts_balance')).toMatchObject({ observed: 200, expected: '200' });
    expect(named(results, 'counts_balance').message).not.toContain('accounts for');
  });

  it.each(['inserted', 'alreadyPresent', 'inBatchDuplicates', 'rejected', 'outOfWindow'] as const)(
    'counts_balance fails when %s is one short or one over',
    (counter) => {
      for (const delta of [-1, 1]) {
        const balance = named(judge({ counts: { [counter]: BALANCED[counter] + delta } }), 'counts_balance');
        expect(balance).toMatchObject({ status: 'fail', blocking: true, observed: 200 + delta, expected: '200' });
        expect(balance.message).toContain(`(accounts for ${200 + delta})`);
      }
    },
  );

  it('reject_rate: rejected over the records in the window, passing at the limit and failing above it', () => {
    // 181 in the window (out of window excluded): 1/181 ≈ 0.55 % against the default 1 %.
    const ok = named(judge({}), 'reject_rate');
    expect(ok).toMatchObject({ status: 'pass', observed: 1 / 181, expected: '<= 0.01' });
    expect(ok.message).toBe('1 of 181 records rejected (0.552%); limit 1%');
    const atLimit = { ...DEFAULTS, max_reject_rate: 2 / 181 };
    expect(named(judge({ counts: { rejected: 2, inserted: 149 } }, atLimit), 'reject_rate').status).toBe('pass');
    expect(named(judge({ counts: { rejected: 3, inserted: 148 } }, atLimit), 'reject_rate').status).toBe('fail');
    // Counted over all 200 read, 2 rejects would pass a 1.05 % limit; over the 181 in the window they do not.
    const limit = { ...DEFAULTS, max_reject_rate: 0.0105 };
    expect(named(judge({ counts: { rejected: 2, inserted: 149 } }, limit), 'reject_rate').status).toBe('fail');
  });

  it('reject_rate is 0 for a window with nothing in it', () => {
    const empty = { read: 5, inserted: 0, alreadyPresent: 0, inBatchDuplicates: 0, rejected: 0, outOfWindow: 5 };
    const result = named(judge({ counts: empty }, { ...DEFAULTS, max_reject_rate: 0 }), 'reject_rate');
    expect(result).toMatchObject({ status: 'pass', observed: 0 });
  });

  it('duplicates: any duplicate id fails, or warns at severity warn; blocking follows the config', () => {
    expect(named(judge({ duplicateIdsInRange: 1 }), 'duplicates')).toMatchObject({
      status: 'fail',
      blocking: true,
      observed: 1,
      expected: '0',
    });
    const relaxed = { ...DEFAULTS, duplicates: { ...DEFAULTS.duplicates, severity: 'warn' as const, blocking: false } };
    expect(named(judge({ duplicateIdsInRange: 3 }, relaxed), 'duplicates')).toMatchObject({
      status: 'warn',
      blocking: false,
    });
  });

  it('completeness passes at the minimum ratio and fails just below it', () => {
    const config = { ...DEFAULTS, completeness: { ...DEFAULTS.completeness, min_ratio: 0.99 } };
    const result = (present: number) =>
      named(judge({ completeness: { expected: 100, present, scope: 'window' } }, config), 'completeness');
    expect(result(99)).toMatchObject({ status: 'pass', observed: 0.99, expected: '>= 0.99', scope: 'window' });
    expect(result(98)).toMatchObject({ status: 'fail', observed: 0.98, blocking: true });
    expect(result(98).message).toContain('2 missing');
    const warnOnly = {
      ...config,
      completeness: { ...config.completeness, severity: 'warn' as const, blocking: false },
    };
    const warned = named(judge({ completeness: { expected: 100, present: 0, scope: 'w' } }, warnOnly), 'completeness');
    expect(warned).toMatchObject({ status: 'warn', blocking: false, observed: 0 });
  });

  it('completeness of a window the source says is empty passes', () => {
    const result = named(judge({ completeness: { expected: 0, present: 0, scope: 'w' } }), 'completeness');
    expect(result).toMatchObject({ status: 'pass', observed: 1 });
    expect(result.message).toBe('0 of 0 source events present, none missing');
  });

  it('completeness reports more present than counted as such, uncapped (decision 9)', () => {
    const over = named(judge({ completeness: { expected: 100, present: 103, scope: 'w' } }), 'completeness');
    expect(over).toMatchObject({ status: 'pass', observed: 1.03 });
    expect(over.message).toBe('103 of 100 source events present (103%), 3 more present than the source counted');
    const exact = named(judge({ completeness: { expected: 100, present: 100, scope: 'w' } }), 'completeness');
    expect(exact.message).toBe('100 of 100 source events present (100%), none missing');
    const short = named(judge({ completeness: { expected: 1000, present: 998, scope: 'w' } }), 'completeness');
    expect(short.message).toBe('998 of 1000 source events present (99.8%), 2 missing');
    // Present events where the source counted none: a pass with no finite ratio to record.
    const unexpected = named(judge({ completeness: { expected: 0, present: 4, scope: 'w' } }), 'completeness');
    expect(unexpected).toMatchObject({ status: 'pass', observed: null });
    expect(unexpected.message).toBe('4 of 0 source events present, 4 more present than the source counted');
  });

  it('messages say what was found: duplicates, and what the balance accounts for when it is off', () => {
    expect(named(judge({}), 'duplicates').message).toBe('no event_id of this load is stored twice, on any date');
    expect(named(judge({ duplicateIdsInRange: 2 }), 'duplicates').message).toBe(
      "2 duplicate event_id rows among this load's ids",
    );
    expect(named(judge({}), 'counts_balance').message).toBe(
      'read 200 = inserted 150 + already present 20 + in-batch duplicates 10 + rejected 1 + out of window 19',
    );
    expect(named(judge({ counts: { inserted: 149 } }), 'counts_balance').message).toMatch(/ \(accounts for 199\)$/);
  });
});
