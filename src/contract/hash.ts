import crypto, { createHash } from 'node:crypto';
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

/** One-shot `crypto.hash` (Node ≥ 20.12) is ~3× faster than a Hash object for short inputs. */
const oneShot = (crypto as { hash?: (algorithm: string, data: string | Uint8Array) => string }).hash;

export function sha256Hex(text: string | Uint8Array): string {
  return oneShot ? oneShot('sha256', text) : createHash('sha256').update(text).digest('hex');
}

const j = JSON.stringify;

/**
 * The canonical event as stableStringify would write it (keys sorted), but
 * built field by field: this runs once per event, and the generic walk was
 * a tenth of the extract CPU. Only the free-form metadata takes the generic path.
 */
function canonicalJson(e: CanonicalEvent): string {
  const policies = e.policies
    .map(
      (p) =>
        `{"entities_found":${j(p.entities_found)},"latency_ms":${j(p.latency_ms)},"name":${j(p.name)},"result":${j(p.result)},"triggered":${p.triggered}}`,
    )
    .join(',');
  return (
    `{"batch_id":${j(e.batch_id)},"cost_micros":"${formatCost(e.cost_micros)}","decision":${j(e.decision)},` +
    `"event_id":${j(e.event_id)},"event_ts_us":${e.event_ts_us},"gateway_id":${j(e.gateway_id)},` +
    `"input_tokens":${e.input_tokens},"latency_ms":${j(e.latency_ms)},"metadata":${stableStringify(e.metadata)},` +
    `"model":${j(e.model)},"output_tokens":${e.output_tokens},"policies":[${policies}],"provider":${j(e.provider)},` +
    `"request_source":${j(e.request_source)},"team_id":${j(e.team_id)},"user_id":${j(e.user_id)}}`
  );
}

/**
 * DESIGN.md decision 4: the hash of the normalised event, so one event seen in
 * shape A and in shape B hashes the same. Run id and load time are not in it.
 */
export function eventHash(event: CanonicalEvent): string {
  return sha256Hex(canonicalJson(event));
}

/** DESIGN.md decision 13: signed 64-bit surrogate key from SHA-256 of `table|natural_key|valid_from`. */
export function surrogateKey(table: string, naturalKey: string, validFrom: string): bigint {
  const digest = createHash('sha256').update(`${table}|${naturalKey}|${validFrom}`).digest();
  return digest.readBigInt64BE(0);
}
