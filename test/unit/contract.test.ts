import { describe, expect, it } from 'vitest';
import { eventHash, surrogateKey } from '../../src/contract/hash.js';
import { normalizeRecord } from '../../src/contract/normalize.js';
import { formatCost, parseCostMicros, parseInstantMicros } from '../../src/contract/scalars.js';
import { EventUniverse } from '../../src/simulator/generator.js';
import { simulatorSettingsFrom } from '../../src/config/schema.js';

describe('scalars', () => {
  it('parses ISO instants exactly, with offsets and without (UTC)', () => {
    expect(parseInstantMicros('2026-04-23T14:30:00Z')).toBe(Date.parse('2026-04-23T14:30:00Z') * 1000);
    expect(parseInstantMicros('2026-04-23T16:30:00.000001+02:00')).toBe(Date.parse('2026-04-23T14:30:00Z') * 1000 + 1);
    expect(parseInstantMicros('2026-04-23 14:30:00')).toBe(Date.parse('2026-04-23T14:30:00Z') * 1000);
    expect(parseInstantMicros('2026-02-30T00:00:00Z')).toBeUndefined();
    expect(parseInstantMicros('yesterday')).toBeUndefined();
  });

  it('parses costs exactly as DECIMAL(18,6)', () => {
    expect(parseCostMicros(0.0034)).toBe(3400n);
    expect(parseCostMicros('0.003400')).toBe(3400n);
    expect(parseCostMicros('1.0000005')).toBe(1_000_001n);
    expect(parseCostMicros(1e-7)).toBe(0n);
    expect(parseCostMicros(-1)).toBeUndefined();
    expect(parseCostMicros('abc')).toBeUndefined();
    expect(formatCost(12_345_678_901n)).toBe('12345.678901');
  });
});

describe('normalizeRecord', () => {
  it('normalises the same simulated event in shape A and shape B to one canonical event and hash', () => {
    const row = (natural: string, attributes: Record<string, string>) => ({
      natural,
      validFromMs: null,
      attributes,
      where: 'test',
    });
    const universe = new EventUniverse(simulatorSettingsFrom({ seed: 5, rate_per_minute: 40 }), {
      users: [row('u1', { team: 't' })],
      gateways: [row('g1', {})],
      models: [row('m1', { provider: 'p', input_price_per_1k: '0.003', output_price_per_1k: '0.015' })],
    });
    const events = universe.eventsInMinute(29_000_000);
    const byShape = { A: 0, B: 0 };
    for (const e of events) byShape['user_id' in e.payload ? 'A' : 'B']++;
    expect(byShape.A).toBeGreaterThan(5);
    expect(byShape.B).toBeGreaterThan(5);
    for (const e of events) {
      const result = normalizeRecord(e.payload);
      expect(result.ok).toBe(true);
      if (result.ok) expect(result.event.cost_micros).toBe(e.costMicros);
    }
  });

  it('gives equal hashes to shape A and B of one event, and different hashes to different content', () => {
    const a = normalizeRecord({
      id: 'e1',
      timestamp: '2026-04-23T14:30:00Z',
      decision: 'blocked',
      model: 'gpt-4o',
      provider: 'openai',
      input_tokens: 10,
      output_tokens: 0,
      policies_evaluated: [{ name: 'toxicity', result: 'blocked', latency_ms: 5 }],
      gateway_id: 'gw',
      user_id: 'u',
      cost_usd: 0.01,
    });
    const b = normalizeRecord({
      id: 'e1',
      timestamp: '2026-04-23T14:30:00.000Z',
      gateway_id: 'gw',
      user: 'u',
      provider: 'openai',
      model: 'gpt-4o',
      decision: 'block',
      policies_evaluated: [{ name: 'toxicity', result: 'block', latency_ms: 5 }],
      policies_triggered: ['toxicity'],
      input_tokens: 10,
      output_tokens: 0,
      cost: '0.010000',
      metadata: {},
    });
    expect(a.ok && b.ok).toBe(true);
    if (!a.ok || !b.ok) return;
    expect(b.event).toEqual(a.event);
    expect(eventHash(b.event)).toBe(eventHash(a.event));
    expect(eventHash({ ...a.event, input_tokens: 11 })).not.toBe(eventHash(a.event));
  });

  it('accepts a decision value named in contract.decision_aliases as its canonical one, and only that one', () => {
    const record = {
      id: 'e3',
      timestamp: '2026-04-23T14:30:00Z',
      decision: 'warned',
      input_tokens: 1,
      output_tokens: 1,
      cost: 0,
    };
    const refused = normalizeRecord(record);
    expect(refused).toMatchObject({ ok: false, reasons: [{ path: 'decision' }] });
    const accepted = normalizeRecord(record, true, { warned: 'allow' });
    expect(accepted).toMatchObject({ ok: true, event: { decision: 'allow' } });
    expect(normalizeRecord(record, false, { warned: 'allow' })).toEqual(accepted); // zod agrees with the fast path
    expect(record.decision).toBe('warned'); // the record (maybe stored as a reject) is not changed
    expect(normalizeRecord({ ...record, decision: 'toString' }, true, { warned: 'allow' }).ok).toBe(false);
  });

  it('keeps unknown fields as drift in metadata rather than rejecting or dropping them', () => {
    const result = normalizeRecord({
      id: 'e2',
      timestamp: '2026-04-23T14:30:00Z',
      decision: 'allow',
      input_tokens: 1,
      output_tokens: 1,
      cost: 0,
      region_hint: 'eu',
    });
    expect(result).toMatchObject({ ok: true, driftFields: ['region_hint'] });
    if (result.ok) expect(result.event.metadata).toEqual({ _extra_fields: { region_hint: 'eu' } });
  });

  it('names every failing field', () => {
    const result = normalizeRecord({
      timestamp: 'nope',
      decision: 'maybe',
      input_tokens: -1,
      output_tokens: 1.5,
      cost: 'x',
    });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.reasons.map((r) => r.path).sort()).toEqual([
        'cost',
        'decision',
        'id',
        'input_tokens',
        'output_tokens',
        'timestamp',
      ]);
    }
  });
});

describe('surrogateKey', () => {
  it('is a deterministic signed 64-bit value per table, natural key and version', () => {
    const key = surrogateKey('dim_user', 'user_001', '1900-01-01');
    expect(key).toBe(surrogateKey('dim_user', 'user_001', '1900-01-01'));
    expect(key).not.toBe(surrogateKey('dim_user', 'user_001', '2026-01-01'));
    expect(key >= -(2n ** 63n) && key < 2n ** 63n).toBe(true);
  });
});

describe('eventHash', () => {
  it('equals the hash of the generic sorted-key serialisation (same bytes, faster path)', async () => {
    const { sha256Hex, stableStringify } = await import('../../src/contract/hash.js');
    const { formatCost } = await import('../../src/contract/scalars.js');
    const result = normalizeRecord({
      id: 'e"1',
      timestamp: '2026-04-23T14:30:00.123456Z',
      decision: 'redact',
      input_tokens: 5,
      output_tokens: 6,
      cost: '1.5',
      user: 'ü',
      latency_ms: 12.5,
      policies_evaluated: [{ name: 'pii', result: 'redact', latency_ms: 3, entities_found: 2 }, 'toxicity'],
      metadata: { z: [1, { b: 2, a: null }], a: 'x' },
      extra_field: true,
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const generic = sha256Hex(stableStringify({ ...result.event, cost_micros: formatCost(result.event.cost_micros) }));
    expect(eventHash(result.event)).toBe(generic);
  });
});
