/** The one canonical event that both source shapes normalise to. */
export const DECISIONS = ['allow', 'block', 'redact', 'escalate'] as const;
export type Decision = (typeof DECISIONS)[number];

/*
 * The constants below are read where events are not validated (the config, privacy rules): here,
 * not in schemas.ts or normalize.ts, whose zod schemas cost ~15 ms to build in every command.
 */

/** Each decision spelling either source shape accepts, with the decision it means. */
export const DECISION_SPELLINGS = {
  allow: 'allow',
  allowed: 'allow',
  block: 'block',
  blocked: 'block',
  redact: 'redact',
  redacted: 'redact',
  escalate: 'escalate',
  escalated: 'escalate',
} as const;
/** Every decision value either shape accepts as it is. */
export const ACCEPTED_DECISIONS: readonly string[] = Object.keys(DECISION_SPELLINGS);

/** Drift (unknown top-level fields) is kept under this metadata key rather than dropped. */
export const DRIFT_METADATA_KEY = '_extra_fields';

export interface PolicyEvaluation {
  name: string;
  result: string;
  latency_ms: number | null;
  entities_found: number | null;
  triggered: boolean;
}

export interface CanonicalEvent {
  event_id: string;
  /** Microseconds since the Unix epoch, UTC. */
  event_ts_us: number;
  user_id: string | null;
  gateway_id: string | null;
  model: string | null;
  provider: string | null;
  decision: Decision;
  input_tokens: number;
  output_tokens: number;
  latency_ms: number | null;
  /** Cost in millionths of a dollar, exact (DECIMAL(18,6)). */
  cost_micros: bigint;
  policies: PolicyEvaluation[];
  team_id: string | null;
  request_source: string | null;
  batch_id: string | null;
  metadata: Record<string, unknown>;
}

/** Where a record came from: enough for an operator to find it again. */
export interface RecordLocation {
  /** File path or API endpoint (never with credentials). */
  source: string;
  /** `line 12`, `item 3`, `page 4 item 17`. */
  ref: string;
}

export interface RejectReason {
  path: string;
  message: string;
}

/** The most of one payload the quarantine keeps (DESIGN.md decision 21); its full length and hash are kept too. */
export const KEPT_BYTES = 64 * 1024;

/** The reason for a record over the size limit, wherever it is measured (as read, or as a value). */
export function oversizedMessage(maxBytes: number, actualBytes: number): string {
  return `record larger than ${maxBytes} bytes (${actualBytes} bytes)`;
}

/** A payload cut to at most KEPT_BYTES of UTF-8 at a character boundary, or null when it fits whole. */
export function cutPayload(text: string): string | null {
  if (text.length * 3 <= KEPT_BYTES) return null; // a UTF-16 unit is at most 3 bytes of UTF-8
  let head = text.slice(0, KEPT_BYTES);
  if (/[\ud800-\udbff]$/.test(head)) head = head.slice(0, -1); // never half a surrogate pair
  const bytes = Buffer.from(head);
  if (bytes.length <= KEPT_BYTES) return head.length < text.length ? head : null;
  let end = KEPT_BYTES;
  while ((bytes[end]! & 0xc0) === 0x80) end--; // back to the first byte of the character cut through
  return bytes.subarray(0, end).toString('utf8');
}
