import { eventHash, sha256Hex, stableStringify } from '../contract/hash.js';
import { normalizeRecord } from '../contract/normalize.js';
import { parseInstantMicros } from '../contract/scalars.js';
import type { CanonicalEvent, RejectReason } from '../contract/event.js';
import type { RawRecord } from '../source/source.js';
import type { TimeWindow } from '../state/window.js';
import { dateKeyOf } from '../util/dates.js';
import type { ExtractCounts } from './package.js';

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
  drift: Record<string, number>;
}

type Parsed = Exclude<RawRecord, { kind: 'line' }>;

/** A JSON line is parsed here (in a worker when there are workers), not where it was read. */
function parsed(record: RawRecord): Parsed {
  if (record.kind !== 'line') return record;
  try {
    return { kind: 'value', value: JSON.parse(record.text), location: record.location };
  } catch (error) {
    const message = `invalid JSON: ${(error as Error).message}`;
    return { kind: 'unparseable', text: record.text, error: message, location: record.location };
  }
}

function fieldOf(record: Parsed, field: string): string | null {
  if (record.kind !== 'value' || record.value === null || typeof record.value !== 'object') return null;
  const value = (record.value as Record<string, unknown>)[field];
  return typeof value === 'string' && value.length > 0 ? value : null;
}

function rejectRow(record: Parsed, reasons: RejectReason[]): StagedValue[] {
  const text = record.kind === 'unparseable' ? record.text : stableStringify(record.value);
  // What a rejected record still tells: its id and its event time, when they are usable.
  const timestamp = fieldOf(record, 'timestamp');
  const tsUs = timestamp === null ? undefined : parseInstantMicros(timestamp);
  return [
    record.location.source,
    record.location.ref,
    sha256Hex(text),
    text,
    JSON.stringify(reasons),
    fieldOf(record, 'id')?.slice(0, 256) ?? null,
    tsUs === undefined ? null : BigInt(tsUs),
  ];
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
    event.policies.filter((p) => p.triggered).length,
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
export function validateBatch(records: readonly RawRecord[], window: TimeWindow | null): ValidatedBatch {
  const batch: ValidatedBatch = {
    events: [],
    policies: [],
    rejects: [],
    counts: { read: 0, valid: 0, rejected: 0, outOfWindow: 0 },
    drift: {},
  };
  const { counts, drift } = batch;
  for (const raw of records) {
    counts.read++;
    const record = parsed(raw);
    if (record.kind === 'unparseable') {
      counts.rejected++;
      batch.rejects.push(rejectRow(record, [{ path: '(record)', message: record.error }]));
      continue;
    }
    const result = normalizeRecord(record.value);
    if (!result.ok) {
      counts.rejected++;
      batch.rejects.push(rejectRow(record, result.reasons));
      continue;
    }
    const { event } = result;
    const ms = event.event_ts_us / 1000;
    // The source filters on event time too; we clip again so adjacent windows never share an event.
    if (window && (ms < window.startMs || ms >= window.endMs)) {
      counts.outOfWindow++;
      continue;
    }
    for (const field of result.driftFields) drift[field] = (drift[field] ?? 0) + 1;
    counts.valid++;
    const index = batch.events.length;
    batch.events.push(eventRow(event));
    event.policies.forEach((p, ordinal) => {
      batch.policies.push([index, ordinal, p.name, p.result, p.latency_ms, p.entities_found, p.triggered]);
    });
  }
  return batch;
}
