import type { z } from 'zod';
import {
  DRIFT_METADATA_KEY,
  type CanonicalEvent,
  type Decision,
  type PolicyEvaluation,
  type RejectReason,
} from './event.js';
import { fastParse, type ParsedEvent } from './fast-parse.js';
import { defaultPlausibleRange, implausibleInstant, type PlausibleRange } from './ranges.js';
import { KNOWN_FIELDS, shapeA, shapeB, type ShapeA } from './schemas.js';
import { nowMs } from '../util/clock.js';

export type NormalizeResult =
  { ok: true; event: CanonicalEvent; driftFields: string[] } | { ok: false; reasons: RejectReason[] };

const POLICY_RESULT_ALIASES: Record<string, string> = {
  passed: 'pass',
  allow: 'pass',
  allowed: 'pass',
  blocked: 'block',
  redacted: 'redact',
  escalated: 'escalate',
  flagged: 'flag',
};

function isShapeA(record: Record<string, unknown>): boolean {
  return 'cost_usd' in record || 'user_id' in record;
}

function reasonsOf(error: z.ZodError): RejectReason[] {
  return error.issues.map((issue) => ({ path: issue.path.join('.') || '(record)', message: issue.message }));
}

const NO_NAMES: ReadonlySet<string> = new Set();

function normalizePolicies(
  evaluated: ShapeA['policies_evaluated'],
  triggeredNames: readonly string[] | null | undefined,
): PolicyEvaluation[] {
  // Most events name no triggered policy: no sets for them (these run once an event).
  const triggered: ReadonlySet<string> = triggeredNames?.length ? new Set(triggeredNames) : NO_NAMES;
  const policies = (evaluated ?? []).map((entry): PolicyEvaluation => {
    if (typeof entry === 'string') {
      // DESIGN.md decision 12: a bare name is triggered if listed, else passed.
      const hit = triggered.has(entry);
      return {
        name: entry,
        result: hit ? 'triggered' : 'pass',
        latency_ms: null,
        entities_found: null,
        triggered: hit,
      };
    }
    const lowered = entry.result.toLowerCase();
    const result = POLICY_RESULT_ALIASES[lowered] ?? lowered;
    return {
      name: entry.name,
      result,
      latency_ms: entry.latency_ms ?? null,
      entities_found: entry.entities_found ?? null,
      triggered: result !== 'pass' || triggered.has(entry.name),
    };
  });
  if (triggered.size === 0) return policies;
  // A policy reported as triggered but not as evaluated still ran: keep it.
  const seen = new Set(policies.map((p) => p.name));
  for (const name of triggered) {
    if (!seen.has(name)) {
      policies.push({ name, result: 'triggered', latency_ms: null, entities_found: null, triggered: true });
    }
  }
  return policies;
}

/** Decision values the vendor added after this release, mapped to canonical ones (`contract.decision_aliases`). */
export type DecisionAliases = Record<string, Decision>;

/** The record with an aliased decision replaced (a copy: the record may be stored as a reject as read). */
function withDecisionAlias(record: Record<string, unknown>, aliases: DecisionAliases): Record<string, unknown> {
  const decision = record.decision;
  if (typeof decision !== 'string' || !Object.hasOwn(aliases, decision)) return record;
  return { ...record, decision: aliases[decision] };
}

/**
 * Validates one raw record against its shape and returns the canonical event or the reasons it
 * was rejected. `useFastPath` is false only where a test compares the fast path with zod.
 */
export function normalizeRecord(
  raw: unknown,
  useFastPath = true,
  decisionAliases: DecisionAliases = {},
  plausibleRange: PlausibleRange = defaultPlausibleRange(nowMs()),
): NormalizeResult {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, reasons: [{ path: '(record)', message: 'expected a JSON object' }] };
  }
  const record = withDecisionAlias(raw as Record<string, unknown>, decisionAliases);
  const isA = isShapeA(record);
  let value = useFastPath ? fastParse(record, isA) : undefined;
  if (!value) {
    const parsed = isA ? shapeA.safeParse(record) : shapeB.safeParse(record);
    if (!parsed.success) return { ok: false, reasons: reasonsOf(parsed.error) };
    value = parsed.data as ParsedEvent;
  }
  // Judged after either path, against the run's clock (the schemas are fixed; the range is configured).
  const implausible = implausibleInstant(value.timestamp, plausibleRange);
  if (implausible) return { ok: false, reasons: [implausible] };
  return canonical(record, value);
}

function canonical(record: Record<string, unknown>, value: ParsedEvent): NormalizeResult {
  const driftFields: string[] = [];
  for (const key of Object.keys(record)) if (!KNOWN_FIELDS.has(key)) driftFields.push(key);
  const metadata: Record<string, unknown> = { ...(value.metadata ?? {}) };
  if (driftFields.length > 0) {
    metadata[DRIFT_METADATA_KEY] = Object.fromEntries(driftFields.map((key) => [key, record[key]]));
  }

  const event: CanonicalEvent = {
    event_id: value.id,
    event_ts_us: value.timestamp,
    user_id: value.user_id ?? value.user ?? null,
    gateway_id: value.gateway_id ?? null,
    model: value.model ?? null,
    provider: value.provider ?? null,
    decision: value.decision,
    input_tokens: value.input_tokens,
    output_tokens: value.output_tokens,
    latency_ms: value.latency_ms ?? null,
    cost_micros: value.cost_usd ?? (value.cost as bigint),
    policies: normalizePolicies(value.policies_evaluated, value.policies_triggered),
    team_id: value.team_id ?? null,
    request_source: value.request_source ?? null,
    batch_id: value.batch_id ?? null,
    metadata,
  };
  return { ok: true, event, driftFields };
}
