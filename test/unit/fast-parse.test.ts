import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { normalizeRecord } from '../../src/contract/normalize.js';
import { fastParse } from '../../src/contract/fast-parse.js';
import { inspect } from '../../src/contract/structure.js';
import { EventUniverse } from '../../src/simulator/generator.js';
import { simulatorSettingsFrom } from '../../src/config/schema.js';
import { readSourceFile } from '../../src/source/files.js';
import { MAX_RECORD_BYTES, writeHostileCorpus, writeHostileFile } from '../helpers/hostile-corpus.js';
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

/**
 * The contract the pipeline runs (the fast path, zod only where it declines) against zod alone, at
 * the scale issue 19 asks of a second contract: 0 differences on 300,000 simulated records and on
 * the hostile corpora, read as the pipeline reads them.
 */
describe('the fast path against zod, at scale', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aetl-differential-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Compares both ways of judging each record; returns how many were compared, and the first differences. */
  function compare(records: Iterable<unknown>): { compared: number; taken: number; differences: string[] } {
    const result = { compared: 0, taken: 0, differences: [] as string[] };
    for (const record of records) {
      const viaFastPath = normalizeRecord(record);
      const viaZod = normalizeRecord(record, false);
      result.compared++;
      if (viaFastPath.ok && fastParse(record as Record<string, unknown>, 'user_id' in (record as object)))
        result.taken++;
      if (!isDeepStrictEqual(viaFastPath, viaZod) && result.differences.length < 5) {
        result.differences.push(JSON.stringify(record).slice(0, 300));
      }
    }
    return result;
  }

  it('agrees on 300,000 simulated records of both shapes, 2 % of them malformed', () => {
    const settings = simulatorSettingsFrom({ seed: 31, rate_per_minute: 3000, bad_record_rate: 0.02 });
    const universe = new EventUniverse(settings, shippedReference());
    function* payloads(): Generator<unknown> {
      let count = 0;
      for (let minute = 29_100_000; count < 300_000; minute++) {
        for (const event of universe.eventsInMinute(minute)) {
          if (count++ < 300_000) yield event.payload;
        }
      }
    }
    const { compared, taken, differences } = compare(payloads());
    expect(differences).toEqual([]);
    expect(compared).toBe(300_000);
    expect(taken / compared).toBeGreaterThan(0.9); // the fast path itself was what got compared
  }, 120_000);

  it('agrees on both hostile corpora, every record that reaches the contract', async () => {
    writeHostileCorpus(join(dir, 'corpus'), 2027, 12, 400);
    writeHostileFile(join(dir, 'hostile.jsonl'), MAX_RECORD_BYTES);
    const files = [
      ...readdirSync(join(dir, 'corpus')).map((name) => join(dir, 'corpus', name)),
      join(dir, 'hostile.jsonl'),
    ];
    const reaching: unknown[] = [];
    for (const file of files) {
      try {
        for await (const batch of readSourceFile(file, MAX_RECORD_BYTES)) {
          for (const record of batch) {
            let value: unknown;
            if (record.kind === 'value') value = record.value;
            else if (record.kind === 'line') {
              try {
                value = JSON.parse(record.text);
              } catch {
                continue; // not JSON: rejected before the contract
              }
            } else continue;
            // What the structural walk refuses never reaches the contract.
            if (!inspect(value).reason) reaching.push(value);
          }
        }
      } catch {
        // a truncated gzip: its readable records were compared
      }
    }
    const { compared, differences } = compare(reaching);
    expect(differences).toEqual([]);
    expect(compared).toBeGreaterThan(3000);
  });
});
