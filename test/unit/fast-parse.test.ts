import { describe, expect, it } from 'vitest';
import { normalizeRecord } from '../../src/contract/normalize.js';
import { fastParse } from '../../src/contract/fast-parse.js';
import { EventUniverse } from '../../src/simulator/generator.js';
import { simulatorSettingsFrom } from '../../src/config/schema.js';
import { shippedReference } from '../helpers/workspace.js';

/** Values a hostile or sloppy source sends in place of a field's proper value. */
const ODD_VALUES: unknown[] = [
  null,
  '',
  '   ',
  ' padded ',
  'x'.repeat(1025),
  'x'.repeat(257),
  0,
  -0,
  -1,
  1.5,
  2 ** 53,
  1e21,
  '12',
  ' 12 ',
  '-3',
  '1.25',
  '1e3',
  '0x10',
  true,
  [],
  ['a', ''],
  [{ name: 'pii', result: 'Blocked', latency_ms: '3', entities_found: '2' }],
  [{ name: 'pii', result: 'pass', entities_found: 1.5 }],
  [{ name: '', result: 'pass' }],
  [null],
  {},
  { nested: { deep: [1, 2] } },
  'Allowed',
  'blocked',
  'escalate',
  'constructor',
  '__proto__',
  'toString',
  '2026-04-23T14:30:00Z',
  ' 2026-04-23T14:30:00.1234567+02:00 ',
  '2026-02-30T00:00:00Z',
  '0.0000005',
  '+1.5',
  '1000000000000',
];

const FIELDS = [
  'id',
  'timestamp',
  'decision',
  'gateway_id',
  'provider',
  'model',
  'input_tokens',
  'output_tokens',
  'latency_ms',
  'policies_evaluated',
  'policies_triggered',
  'team_id',
  'request_source',
  'batch_id',
  'metadata',
  'user_id',
  'user',
  'cost_usd',
  'cost',
];

function simulatedPayloads(): Record<string, unknown>[] {
  const settings = simulatorSettingsFrom({ seed: 11, rate_per_minute: 300, bad_record_rate: 0.05 });
  const universe = new EventUniverse(settings, shippedReference());
  return [0, 1, 2].flatMap((i) => universe.eventsInMinute(29_000_000 + i).map((e) => e.payload));
}

describe('fastParse', () => {
  const payloads = simulatedPayloads();

  it('takes the common valid record (so it actually speeds something up)', () => {
    const taken = payloads.filter((p) => fastParse(p, 'user_id' in p || 'cost_usd' in p) !== undefined);
    expect(payloads.length).toBeGreaterThan(500);
    expect(taken.length / payloads.length).toBeGreaterThan(0.9);
  });

  it('agrees with zod on every simulated record and on every odd value in every field', () => {
    const cases: unknown[] = [...payloads];
    const shapeA = payloads.find((p) => 'user_id' in p)!;
    const { user_id: userId, ...withoutUserId } = shapeA;
    cases.push({ ...withoutUserId, user: userId }, { ...shapeA, cost: '0.5' });
    cases.push({ ...shapeA, metadata: JSON.parse('{"__proto__": {"a": 1}, "b": 2}') as unknown });
    const base = payloads.slice(0, 4);
    for (const record of base)
      for (const field of FIELDS) {
        for (const value of ODD_VALUES) cases.push({ ...record, [field]: value });
        const without = { ...record };
        delete without[field];
        cases.push(without);
      }
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
