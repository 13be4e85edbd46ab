import { COLUMN_RANGES, numberFromText, rangeProblem, type ColumnRange } from './ranges.js';
import { parseCostMicros, parseInstantMicros } from './scalars.js';
import { CONTROL_CHARACTER, MAX_POLICIES, type ShapeA, type ShapeB } from './schemas.js';

/**
 * A hand-written pass over the common, valid record that yields exactly what
 * the zod shape would (measured: ~19 µs per event through zod, the largest
 * single cost of extraction). It only ever answers "valid, and here is the
 * value" or "not sure": every record it declines goes through zod, which stays
 * the authority for what is rejected and why. test/unit/fast-parse.test.ts
 * checks, record by record, that it never accepts what zod would not, nor
 * returns anything zod would not.
 */
export type ParsedEvent = ShapeA & Partial<ShapeB>;

const DECISIONS = new Map<unknown, ParsedEvent['decision']>([
  ['allow', 'allow'],
  ['allowed', 'allow'],
  ['block', 'block'],
  ['blocked', 'block'],
  ['redact', 'redact'],
  ['redacted', 'redact'],
  ['escalate', 'escalate'],
  ['escalated', 'escalate'],
]);
const MAX_TEXT = 1024;
const MAX_ID = 256;
const OPTIONAL_TEXT_FIELDS = ['gateway_id', 'provider', 'model', 'team_id', 'request_source', 'batch_id'] as const;

/** Marks "not sure: ask zod". */
const DECLINE = Symbol('decline');
type Maybe<T> = T | typeof DECLINE;

function text(value: unknown, max = MAX_TEXT): Maybe<string> {
  if (typeof value !== 'string') return DECLINE;
  const trimmed = value.trim();
  return trimmed.length >= 1 && trimmed.length <= max && !CONTROL_CHARACTER.test(trimmed) ? trimmed : DECLINE;
}

function optionalText(value: unknown): Maybe<string | null | undefined> {
  return value === null || value === undefined ? value : text(value);
}

/** A number (maybe given as text) that fits its column, as zod's columnNumber judges it. */
function columnNumber(value: unknown, range: ColumnRange): Maybe<number> {
  const n = numberFromText(value, range);
  return typeof n === 'number' && rangeProblem(range, n) === undefined ? n : DECLINE;
}

function optionalNumber(value: unknown, range: ColumnRange): Maybe<number | null | undefined> {
  return value === null || value === undefined ? value : columnNumber(value, range);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function policies(value: unknown): Maybe<ParsedEvent['policies_evaluated']> {
  if (value === null || value === undefined) return value;
  if (!Array.isArray(value) || value.length > MAX_POLICIES) return DECLINE;
  const out: NonNullable<ParsedEvent['policies_evaluated']> = [];
  for (const entry of value) {
    if (typeof entry === 'string') {
      const name = text(entry);
      if (name === DECLINE) return DECLINE;
      out.push(name);
      continue;
    }
    if (!isPlainObject(entry)) return DECLINE;
    const name = text(entry.name);
    const result = text(entry.result);
    const latency = optionalNumber(entry.latency_ms, COLUMN_RANGES.latency_ms);
    const entities = optionalNumber(entry.entities_found, COLUMN_RANGES.entities_found);
    if (name === DECLINE || result === DECLINE || latency === DECLINE || entities === DECLINE) return DECLINE;
    // Only the fields normalisation reads: zod would also pass the others through, unread.
    out.push({ name, result, latency_ms: latency, entities_found: entities });
  }
  return out;
}

function names(value: unknown): Maybe<string[] | null | undefined> {
  if (value === null || value === undefined) return value;
  if (!Array.isArray(value) || value.length > MAX_POLICIES) return DECLINE;
  const out: string[] = [];
  for (const entry of value) {
    const name = text(entry);
    if (name === DECLINE) return DECLINE;
    out.push(name);
  }
  return out;
}

function costMicros(value: unknown): Maybe<bigint> {
  if (typeof value !== 'string' && typeof value !== 'number') return DECLINE;
  return parseCostMicros(value) ?? DECLINE;
}

/** The zod shape's output for a clearly valid record, or undefined to let zod decide. */
export function fastParse(record: Record<string, unknown>, shapeA: boolean): ParsedEvent | undefined {
  // A shape A record carrying shape B's fields is rare and subtle (zod passes them through): zod decides.
  if (shapeA && ('user' in record || 'cost' in record)) return undefined;
  const id = text(record.id, MAX_ID);
  const timestamp = typeof record.timestamp === 'string' ? parseInstantMicros(record.timestamp.trim()) : undefined;
  const decision = DECISIONS.get(record.decision);
  const inputTokens = columnNumber(record.input_tokens, COLUMN_RANGES.input_tokens);
  const outputTokens = columnNumber(record.output_tokens, COLUMN_RANGES.output_tokens);
  const latency = optionalNumber(record.latency_ms, COLUMN_RANGES.latency_ms);
  const evaluated = policies(record.policies_evaluated);
  const triggered = names(record.policies_triggered);
  const metadata = record.metadata;
  const user = optionalText(shapeA ? record.user_id : record.user);
  const cost = costMicros(shapeA ? record.cost_usd : record.cost);
  if (
    id === DECLINE ||
    timestamp === undefined ||
    decision === undefined ||
    inputTokens === DECLINE ||
    outputTokens === DECLINE ||
    rangeProblem(COLUMN_RANGES.total_tokens, inputTokens + outputTokens) !== undefined ||
    latency === DECLINE ||
    evaluated === DECLINE ||
    triggered === DECLINE ||
    user === DECLINE ||
    cost === DECLINE ||
    !(metadata === null || metadata === undefined || isPlainObject(metadata)) ||
    // zod's record turns an own `__proto__` key into a prototype (dropping it): zod decides.
    (isPlainObject(metadata) && Object.hasOwn(metadata, '__proto__'))
  ) {
    return undefined;
  }
  // Only the fields normalisation reads: zod would also pass the others through, unread.
  const parsed: Record<string, unknown> = {
    id,
    timestamp,
    decision,
    input_tokens: inputTokens,
    output_tokens: outputTokens,
    latency_ms: latency,
    policies_evaluated: evaluated,
    policies_triggered: triggered,
    metadata,
  };
  for (const field of OPTIONAL_TEXT_FIELDS) {
    const value = optionalText(record[field]);
    if (value === DECLINE) return undefined;
    parsed[field] = value;
  }
  if (shapeA) {
    parsed.user_id = user;
    parsed.cost_usd = cost;
  } else {
    parsed.user = user;
    parsed.cost = cost;
  }
  return parsed as ParsedEvent;
}
