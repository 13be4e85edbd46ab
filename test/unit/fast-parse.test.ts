import { describe, expect, it } from 'vitest';
import { normalizeRecord } from '../../src/contract/normalize.js';
import { fastParse } from '../../src/contract/fast-parse.js';
import { oddRecords, simulatedPayloads } from '../helpers/odd-records.js';

describe('fastParse', () => {
  const payloads = simulatedPayloads();

  it('takes the common valid record (so it actually speeds something up)', () => {
    const taken = payloads.filter((p) => fastParse(p, 'user_id' in p || 'cost_usd' in p) !== undefined);
    expect(payloads.length).toBeGreaterThan(500);
    expect(taken.length / payloads.length).toBeGreaterThan(0.9);
  });

  it('agrees with zod on every simulated record and on every odd value in every field', () => {
    const cases: unknown[] = [...payloads, ...oddRecords(payloads)];
    let checked = 0;
    for (const record of cases) {
      const viaFastPath = normalizeRecord(record);
      const viaZod = normalizeRecord(record, false);
      expect(viaFastPath, JSON.stringify(record)).toEqual(viaZod);
      checked++;
    }
    expect(checked).toBeGreaterThan(3000);
  });
});
