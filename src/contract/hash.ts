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

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const ZERO = 0x30;

/** Room for a canonical event of ordinary size; a wider one grows the buffer for itself alone. */
const KEPT_CAPACITY = 16 * 1024;

/**
 * Writes the canonical event as UTF-8 into one reused buffer. Built as a
 * string, it was the extract's largest allocation (~3 KB of intermediate
 * strings an event, a third of all it allocated) and had to be flattened
 * and encoded again to be hashed.
 */
class CanonicalWriter {
  private buffer = Buffer.allocUnsafe(KEPT_CAPACITY);
  private at = 0;

  /** The canonical JSON's keys in the order stableStringify writes them (sorted), with their values. */
  event(e: CanonicalEvent): Buffer {
    if (this.buffer.length > KEPT_CAPACITY) this.buffer = Buffer.allocUnsafe(KEPT_CAPACITY);
    this.at = 0;
    this.ascii('{"batch_id":').text(e.batch_id);
    this.ascii(',"cost_micros":"').ascii(formatCost(e.cost_micros)).ascii('","decision":"').ascii(e.decision);
    this.ascii('","event_id":').text(e.event_id).ascii(',"event_ts_us":').number(e.event_ts_us);
    this.ascii(',"gateway_id":').text(e.gateway_id).ascii(',"input_tokens":').number(e.input_tokens);
    this.ascii(',"latency_ms":').number(e.latency_ms).ascii(',"metadata":').utf8(stableStringify(e.metadata));
    this.ascii(',"model":').text(e.model).ascii(',"output_tokens":').number(e.output_tokens);
    this.ascii(',"policies":[');
    for (let i = 0; i < e.policies.length; i++) {
      const p = e.policies[i]!;
      this.ascii(i === 0 ? '{"entities_found":' : ',{"entities_found":').number(p.entities_found);
      this.ascii(',"latency_ms":').number(p.latency_ms).ascii(',"name":').text(p.name);
      this.ascii(',"result":')
        .text(p.result)
        .ascii(p.triggered ? ',"triggered":true}' : ',"triggered":false}');
    }
    this.ascii('],"provider":').text(e.provider).ascii(',"request_source":').text(e.request_source);
    this.ascii(',"team_id":').text(e.team_id).ascii(',"user_id":').text(e.user_id).ascii('}');
    return this.buffer.subarray(0, this.at);
  }

  private reserve(bytes: number): void {
    if (this.at + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.at + bytes));
    this.buffer.copy(grown, 0, 0, this.at);
    this.buffer = grown;
  }

  /** A number or null as `${n}` writes it: a non-negative safe integer (most are) digit by digit. */
  private number(n: number | null): this {
    if (n === null || !Number.isSafeInteger(n) || n < 0) return this.ascii(String(n));
    let digits = 1;
    for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) digits++;
    this.reserve(digits);
    const { buffer } = this;
    let rest = n;
    for (let i = this.at + digits - 1; i >= this.at; i--) {
      buffer[i] = ZERO + (rest % 10);
      rest = Math.floor(rest / 10);
    }
    this.at += digits;
    return this;
  }

  /** Text known to be ASCII (the fixed parts, a decision, a cost): one byte a character. */
  private ascii(text: string): this {
    this.reserve(text.length);
    const { buffer } = this;
    for (let i = 0; i < text.length; i++) buffer[this.at + i] = text.charCodeAt(i);
    this.at += text.length;
    return this;
  }

  /** Any text, as UTF-8: at most 3 bytes a UTF-16 unit. */
  private utf8(text: string): this {
    this.reserve(text.length * 3);
    this.at += this.buffer.write(text, this.at, 'utf8');
    return this;
  }

  /**
   * A text or null as JSON: most texts are printable ASCII with nothing to escape and are
   * copied as they are; any other goes through JSON.stringify (which escapes lone surrogates,
   * so its UTF-8 is what hashing the string would encode).
   */
  private text(value: string | null): this {
    if (value === null) return this.ascii('null');
    this.reserve(value.length + 2);
    const { buffer } = this;
    const start = this.at;
    buffer[start] = QUOTE;
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === QUOTE || c === BACKSLASH) return this.utf8(JSON.stringify(value));
      buffer[start + 1 + i] = c;
    }
    buffer[start + 1 + value.length] = QUOTE;
    this.at = start + value.length + 2;
    return this;
  }
}

const canonical = new CanonicalWriter();

/**
 * DESIGN.md decision 4: the hash of the normalised event, so one event seen in
 * shape A and in shape B hashes the same. Run id and load time are not in it.
 */
export function eventHash(event: CanonicalEvent): string {
  return sha256Hex(canonical.event(event));
}

/** DESIGN.md decision 13: signed 64-bit surrogate key from SHA-256 of `table|natural_key|valid_from`. */
export function surrogateKey(table: string, naturalKey: string, validFrom: string): bigint {
  const digest = createHash('sha256').update(`${table}|${naturalKey}|${validFrom}`).digest();
  return digest.readBigInt64BE(0);
}
