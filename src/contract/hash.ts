import { createHash } from 'node:crypto';
import type { CanonicalEvent } from './event.js';
import { formatCost } from './scalars.js';

/** JSON with object keys sorted at every depth, so equal values always serialise equally. */
export function stableStringify(value: unknown): string {
  if (typeof value === 'bigint') return JSON.stringify(value.toString());
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const entries = Object.keys(value)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${stableStringify((value as Record<string, unknown>)[key])}`);
  return `{${entries.join(',')}}`;
}

export function sha256Hex(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * DESIGN.md decision 4: the hash of the normalised event, so one event seen in
 * shape A and in shape B hashes the same. Run id and load time are not in it.
 */
export function eventHash(event: CanonicalEvent): string {
  return sha256Hex(stableStringify({ ...event, cost_micros: formatCost(event.cost_micros) }));
}

/** DESIGN.md decision 13: signed 64-bit surrogate key from SHA-256 of `table|natural_key|valid_from`. */
export function surrogateKey(table: string, naturalKey: string, validFrom: string): bigint {
  const digest = createHash('sha256').update(`${table}|${naturalKey}|${validFrom}`).digest();
  return digest.readBigInt64BE(0);
}
