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

/** Text JSON.stringify would escape: quotes, backslashes, control characters, surrogates (lone ones are escaped). */
// eslint-disable-next-line no-control-regex -- control characters are among what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A text or null as JSON; most texts need no escaping, and quoting them is half the cost of JSON.stringify. */
function quoted(value: string | null): string {
  return value === null || NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`;
}

/**
 * The canonical event as stableStringify would write it (keys sorted), but
 * built field by field: this runs once per event, and the generic walk was
 * a tenth of the extract CPU. Only the free-form metadata takes the generic path.
 * Numbers are finite (the contract holds them to their columns), so a template
 * writes them as JSON does; a decision is one of DECISIONS.
 */
function canonicalJson(e: CanonicalEvent): string {
  let policies = '';
  for (const p of e.policies) {
    policies +=
      `${policies === '' ? '' : ','}{"entities_found":${p.entities_found},"latency_ms":${p.latency_ms},` +
      `"name":${quoted(p.name)},"result":${quoted(p.result)},"triggered":${p.triggered}}`;
  }
  return (
    `{"batch_id":${quoted(e.batch_id)},"cost_micros":"${formatCost(e.cost_micros)}","decision":"${e.decision}",` +
    `"event_id":${quoted(e.event_id)},"event_ts_us":${e.event_ts_us},"gateway_id":${quoted(e.gateway_id)},` +
    `"input_tokens":${e.input_tokens},"latency_ms":${e.latency_ms},"metadata":${stableStringify(e.metadata)},` +
    `"model":${quoted(e.model)},"output_tokens":${e.output_tokens},"policies":[${policies}],` +
    `"provider":${quoted(e.provider)},"request_source":${quoted(e.request_source)},"team_id":${quoted(e.team_id)},` +
    `"user_id":${quoted(e.user_id)}}`
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
