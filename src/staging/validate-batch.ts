import { eventHash, sha256Hex, stableStringify } from '../contract/hash.js';
import { normalizeRecord, type DecisionAliases } from '../contract/normalize.js';
import { defaultPlausibleRange, implausibleInstant, type PlausibleRange } from '../contract/ranges.js';
import { parseInstantMicros } from '../contract/scalars.js';
import { cutPayload, oversizedMessage, type CanonicalEvent, type RejectReason } from '../contract/event.js';
import { inspect, LONE_SURROGATE, plainLine } from '../contract/structure.js';
import {
  applyPrivacy,
  holdsErasedUser,
  maskRecord,
  maskText,
  masks,
  rewritesRecords,
  type PrivacyRules,
} from '../contract/privacy.js';
import type { RawRecord, ReadBytes } from '../source/source.js';
import type { TimeWindow } from '../state/window.js';
import { nowMs } from '../util/clock.js';
import { dateKeyOf } from '../util/dates.js';
import { jsonType, type DriftCounts, type ExtractCounts } from './package.js';

/** What validation is told besides the records; plain data, so it crosses to worker threads. */
export interface ValidationRules {
  /** Events outside it are counted, not staged (null: files, which have no window). */
  window: TimeWindow | null;
  /** A record larger than this is rejected with its first bytes kept. */
  maxRecordBytes: number;
  /** Pseudonymised users and dropped metadata keys, for events and rejects alike. */
  privacy: PrivacyRules;
  /** `contract.decision_aliases`: new vendor decision values accepted as canonical ones. */
  decisionAliases: DecisionAliases;
  /** `contract.plausible_range` at the run's clock: event times outside it are rejects (default: its default). */
  plausibleRange?: PlausibleRange;
}

/** Reasons kept per reject, and characters per path or message: a reason names a field, it never carries data. */
const MAX_REASONS = 20;
const MAX_REASON_CHARS = 300;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE, 'g');

/** A staged value: what DuckDB's appender takes (kept free of DuckDB so worker threads never load it). */
export type StagedValue = string | number | bigint | boolean | null;

/**
 * One batch of raw records, validated: staging rows in the column order of
 * STAGING_TABLES, except the first column: an event's staged_row is assigned
 * by the writer (0 here), a policy row holds the index of its event in `events`.
 */
export interface ValidatedBatch {
  events: StagedValue[][];
  policies: StagedValue[][];
  rejects: StagedValue[][];
  counts: ExtractCounts;
  drift: DriftCounts;
}

type Parsed = Exclude<RawRecord, { kind: 'line' }>;

/** A JSON line is parsed here (in a worker when there are workers), not where it was read. */
function parsed(record: RawRecord): Parsed {
  if (record.kind !== 'line') return record;
  try {
    return { kind: 'value', value: JSON.parse(record.text), location: record.location };
  } catch (error) {
    // V8 quotes the start of the text in its message: the reason keeps only what is wrong and where
    // (the text itself is the payload, masked where privacy rules apply).
    const message = `invalid JSON: ${(error as Error).message.replace(/,? ?(?:\.\.\.)?"[\s\S]*"(?:\.\.\.)? is not valid JSON$/, ': the text is not valid JSON')}`;
    return { kind: 'unparseable', text: record.text, error: message, location: record.location };
  }
}

function fieldOf(record: Parsed, field: string): string | null {
  if (record.kind !== 'value' || record.value === null || typeof record.value !== 'object') return null;
  const value = (record.value as Record<string, unknown>)[field];
  return typeof value === 'string' && value.length > 0 ? value : null;
}

/**
 * A rejected record as text: as read, or serialised (natively, guarded, when
 * its shape is suspect); with privacy rules, masked like an event would be.
 */
function payloadOf(record: Parsed, raw: RawRecord, privacy: PrivacyRules, suspect = false): string {
  // Text masking leaves what it does not mask as it was, so it costs no record its payload hash.
  if (record.kind === 'unparseable') return masks(privacy) ? maskText(record.text, privacy) : record.text;
  // Erasure alone re-serialises only an erased user's records: everyone else's stay as read, and so
  // does their payload hash (the quarantine's key: a re-read must find them again).
  const masking = rewritesRecords(privacy) || holdsErasedUser(record.value, privacy);
  if (!masking && raw.kind !== 'value') return raw.text;
  // Masking is shallow (top level and metadata), so it is safe even on a suspect value.
  const value = masking ? maskRecord(record.value, privacy) : record.value;
  if (!suspect) return stableStringify(value);
  try {
    return JSON.stringify(value);
  } catch {
    return '(a value nested too deep to show; see the source)';
  }
}

/** A reason's text, bounded; a lone surrogate (a key quoted in a path) would make the reasons invalid JSON. */
function clip(text: string): string {
  const kept = text.length > MAX_REASON_CHARS ? `${text.slice(0, MAX_REASON_CHARS)}…` : text;
  return kept.replace(LONE_SURROGATES, '\ufffd');
}

function reasonsJson(reasons: RejectReason[]): string {
  const kept = reasons.slice(0, MAX_REASONS).map((r) => ({ path: clip(r.path), message: clip(r.message) }));
  const more = reasons.length - kept.length;
  if (more > 0) kept.push({ path: '(record)', message: `and ${more} more reasons` });
  return JSON.stringify(kept);
}

/** The record's bytes as read (a line's; a value's serialised payload), which the quarantine sizes and hashes. */
function readBytesOf(raw: RawRecord, payload: string, payloadHash: string): ReadBytes {
  if (raw.kind === 'unparseable' && raw.bytes) return raw.bytes;
  const text = raw.kind === 'value' ? payload : raw.text;
  return { length: Buffer.byteLength(text), sha256: text === payload ? payloadHash : sha256Hex(text), partial: false };
}

/**
 * A quarantine row: at most KEPT_BYTES of the payload, with the full length and SHA-256 of
 * the record as read. The key hashes the whole payload (for a line too large to hold, its bytes).
 */
function rejectRow(
  record: Parsed,
  raw: RawRecord,
  text: string,
  reasons: RejectReason[],
  plausible: PlausibleRange,
): StagedValue[] {
  // What a rejected record still tells: its id and its event time, when they are usable. An implausible
  // time is not (year 0001 at -01:00 is no TIMESTAMP at all on BigQuery): the read window stands for it.
  const timestamp = fieldOf(record, 'timestamp');
  let tsUs = timestamp === null ? undefined : parseInstantMicros(timestamp.trim());
  if (tsUs !== undefined && implausibleInstant(tsUs, plausible)) tsUs = undefined;
  const payloadHash = raw.kind === 'unparseable' && raw.bytes?.partial ? raw.bytes.sha256 : sha256Hex(text);
  const read = readBytesOf(raw, text, payloadHash);
  const cut = cutPayload(text);
  return [
    record.location.source,
    record.location.ref,
    payloadHash,
    cut ?? text,
    reasonsJson(reasons),
    fieldOf(record, 'id')?.slice(0, 256) ?? null,
    tsUs === undefined ? null : BigInt(tsUs),
    BigInt(read.length),
    read.sha256,
    cut !== null || read.partial,
  ];
}

function triggeredCount(event: CanonicalEvent): number {
  let count = 0;
  for (const p of event.policies) if (p.triggered) count++;
  return count;
}

function eventRow(event: CanonicalEvent): StagedValue[] {
  return [
    0,
    event.event_id,
    eventHash(event),
    BigInt(event.event_ts_us),
    dateKeyOf(event.event_ts_us),
    event.user_id,
    event.gateway_id,
    event.model,
    event.provider,
    event.decision,
    event.latency_ms,
    BigInt(event.input_tokens),
    BigInt(event.output_tokens),
    event.cost_micros,
    event.policies.length,
    triggeredCount(event),
    event.team_id,
    event.batch_id,
    event.request_source,
    JSON.stringify(event.metadata),
  ];
}

/**
 * Validates raw records: valid events (clipped to the window) become staging
 * rows, the rest quarantine rows with their reasons. Nothing is dropped
 * silently. A pure function of its input, so it runs the same on any thread.
 */
export function validateBatch(records: readonly RawRecord[], rules: ValidationRules): ValidatedBatch {
  const { window, maxRecordBytes, privacy, decisionAliases } = rules;
  const plausibleRange = rules.plausibleRange ?? defaultPlausibleRange(nowMs());
  const batch: ValidatedBatch = {
    events: [],
    policies: [],
    rejects: [],
    counts: { read: 0, valid: 0, rejected: 0, outOfWindow: 0 },
    drift: {},
  };
  const { counts, drift } = batch;
  // Not a closure per record: this loop runs for every record read.
  const reject = (record: Parsed, raw: RawRecord, reasons: RejectReason[], text = payloadOf(record, raw, privacy)) => {
    counts.rejected++;
    batch.rejects.push(rejectRow(record, raw, text, reasons, plausibleRange));
  };
  for (const raw of records) {
    counts.read++;
    const record = parsed(raw);
    if (record.kind === 'unparseable') {
      reject(record, raw, [{ path: '(record)', message: record.error }]);
      continue;
    }
    if (raw.kind !== 'line' || !plainLine(raw.text)) {
      const { reason, maxBytes } = inspect(record.value);
      if (reason) {
        reject(record, raw, [reason], payloadOf(record, raw, privacy, true));
        continue;
      }
      // Lines were bounded as they were read; values (API pages, arrays, CSV rows) are judged here,
      // exactly only when they could be over the limit (`maxBytes` bounds their JSON bytes from above).
      if (raw.kind === 'value' && maxBytes > maxRecordBytes) {
        const text = stableStringify(maskRecord(record.value, privacy));
        const bytes = Buffer.byteLength(text);
        if (bytes > maxRecordBytes) {
          reject(record, raw, [{ path: '(record)', message: oversizedMessage(maxRecordBytes, bytes) }], text);
          continue;
        }
      }
    }
    const result = normalizeRecord(record.value, true, decisionAliases, plausibleRange);
    if (!result.ok) {
      reject(record, raw, result.reasons);
      continue;
    }
    const ms = result.event.event_ts_us / 1000;
    // The source filters on event time too; we clip again so adjacent windows never share an event.
    if (window && (ms < window.startMs || ms >= window.endMs)) {
      counts.outOfWindow++;
      continue;
    }
    const event = applyPrivacy(result.event, privacy); // after the clip: an HMAC only for events kept
    for (const field of result.driftFields) {
      const seen = (drift[field] ??= { count: 0, type: jsonType((record.value as Record<string, unknown>)[field]) });
      seen.count++;
    }
    counts.valid++;
    const index = batch.events.length;
    batch.events.push(eventRow(event));
    for (let ordinal = 0; ordinal < event.policies.length; ordinal++) {
      const p = event.policies[ordinal]!;
      batch.policies.push([index, ordinal, p.name, p.result, p.latency_ms, p.entities_found, p.triggered]);
    }
  }
  return batch;
}
