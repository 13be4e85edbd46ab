import { describe, expect, it } from 'vitest';
import { simulatorSettingsFrom } from '../../src/config/schema.js';
import type { CanonicalEvent } from '../../src/contract/event.js';
import { eventHash, sha256Hex, stableStringify } from '../../src/contract/hash.js';
import { normalizeRecord } from '../../src/contract/normalize.js';
import { formatCost } from '../../src/contract/scalars.js';
import { EventUniverse } from '../../src/simulator/generator.js';
import { shippedReference } from '../helpers/workspace.js';

describe('stableStringify', () => {
  it('writes a bigint as its decimal text (JSON.stringify would throw), keys sorted at every depth', () => {
    expect(stableStringify({ b: 12345678901234567890n, a: [{ d: null, c: 1 }] })).toBe(
      '{"a":[{"c":1,"d":null}],"b":"12345678901234567890"}',
    );
  });
});

/** Texts JSON escapes, or nearly does: quotes, backslashes, controls, surrogate pairs and halves, U+2028. */
const ODD_TEXTS = [
  'a"b',
  'a\\b',
  'tab\there',
  'nul\u0000',
  '\u001f',
  '\u007f',
  '😀',
  '\ud800',
  'x\udc00',
  '\u2028',
  'é',
];

describe('eventHash', () => {
  it('hashes exactly what stableStringify writes of the event (cost as its DECIMAL text), for every field', () => {
    const settings = simulatorSettingsFrom({ seed: 4, rate_per_minute: 600, bad_record_rate: 0.05 });
    const universe = new EventUniverse(settings, shippedReference());
    const events = [0, 1]
      .flatMap((i) => universe.eventsInMinute(29_000_000 + i))
      .map((e) => normalizeRecord(e.payload))
      .flatMap((result) => (result.ok ? [result.event] : []));
    expect(events.length).toBeGreaterThan(700);
    const odd: CanonicalEvent[] = ODD_TEXTS.flatMap((text, i) => {
      const e = events[i]!;
      const policy = { name: text, result: text, latency_ms: 0.5, entities_found: null, triggered: true };
      return [
        { ...e, event_id: text, user_id: text, gateway_id: text, model: text, provider: text },
        { ...e, team_id: text, request_source: text, batch_id: text, policies: [policy, ...e.policies] },
        { ...e, metadata: { [text]: text, nested: { b: [text], a: 1e21 } }, latency_ms: 1e-7 },
      ];
    });
    // Numbers are written digit by digit when they are non-negative safe integers: their edges.
    const numbers: CanonicalEvent[] = [0, 9, 10, 99, 100, 2 ** 53 - 1, 2 ** 53, -0, 1e21].map((n, i) => ({
      ...events[i]!,
      event_ts_us: Math.abs(n) < 2 ** 52 ? n : events[i]!.event_ts_us,
      input_tokens: n,
      latency_ms: n,
      policies: [{ name: 'p', result: 'pass', latency_ms: n, entities_found: n, triggered: false }],
    }));
    const authority = (e: CanonicalEvent) =>
      sha256Hex(stableStringify({ ...e, cost_micros: formatCost(e.cost_micros) }));
    for (const e of [...events, ...odd, ...numbers])
      expect(eventHash(e), JSON.stringify(e.event_id)).toBe(authority(e));
  });

  it('hashes a wide event (its text grows the reused buffer midway) and the events after it', () => {
    const settings = simulatorSettingsFrom({ seed: 5, rate_per_minute: 600 });
    const events = new EventUniverse(settings, shippedReference())
      .eventsInMinute(29_000_000)
      .map((e) => normalizeRecord(e.payload))
      .flatMap((result) => (result.ok ? [result.event] : []));
    const wide = (e: CanonicalEvent, text: string): CanonicalEvent => ({
      ...e,
      metadata: { prompt: text },
      policies: [{ name: text, result: 'pass', latency_ms: 1, entities_found: 2, triggered: false }, ...e.policies],
      user_id: text,
    });
    const sequence = [
      events[0]!,
      wide(events[1]!, 'é😀x'.repeat(20_000)),
      events[2]!,
      wide(events[3]!, 'a'.repeat(70_000)),
      events[4]!,
    ];
    const authority = (e: CanonicalEvent) =>
      sha256Hex(stableStringify({ ...e, cost_micros: formatCost(e.cost_micros) }));
    for (const e of sequence) expect(eventHash(e)).toBe(authority(e));
  });
});
