import { z } from 'zod';
import { parseCostMicros, parseInstantMicros } from './scalars.js';

/**
 * One zod schema per event shape seen in the wild (DESIGN.md, "Source
 * contract"). zod is the authority for what a valid record is and for the
 * reject reasons. Numbers may arrive as text (CSV exports, shape B's cost).
 */
const integerText = /^-?\d+$/;
const numberText = /^-?\d+(\.\d+)?$/;

const count = z.preprocess(
  (v) => (typeof v === 'string' && integerText.test(v.trim()) ? Number(v) : v),
  z.int().nonnegative(),
);
const nonNegative = z.preprocess(
  (v) => (typeof v === 'string' && numberText.test(v.trim()) ? Number(v) : v),
  z.number().nonnegative(),
);
/**
 * Identifiers and names never hold control characters (a NUL, a newline inside an id): such a record
 * is broken. The fast path (fast-parse.ts) tests the same expression, so the two cannot drift apart.
 */
// eslint-disable-next-line no-control-regex -- control characters are exactly what this finds
export const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;
const noControl = (value: string) => !CONTROL_CHARACTER.test(value);
const text = z.string().trim().min(1).max(1024).refine(noControl, 'contains a control character');
const optionalText = text.nullish();

const instant = z.string().transform((value, ctx) => {
  const micros = parseInstantMicros(value.trim());
  if (micros === undefined) {
    ctx.addIssue({ code: 'custom', message: `not an ISO-8601 timestamp: "${value.slice(0, 40)}"` });
    return z.NEVER;
  }
  return micros;
});

const cost = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const micros = parseCostMicros(value);
  if (micros === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a non-negative decimal below 10^12, got ${JSON.stringify(value).slice(0, 40)}`,
    });
    return z.NEVER;
  }
  return micros;
});

const decisionAliases = {
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
export const ACCEPTED_DECISIONS: readonly string[] = Object.keys(decisionAliases);

const decision = z
  .enum(Object.keys(decisionAliases) as [keyof typeof decisionAliases, ...(keyof typeof decisionAliases)[]])
  .transform((value) => decisionAliases[value]);

const policyObject = z.looseObject({
  name: text,
  result: text,
  latency_ms: nonNegative.nullish(),
  entities_found: count.nullish(),
});

const common = {
  id: z.string().trim().min(1).max(256).refine(noControl, 'contains a control character'),
  timestamp: instant,
  decision,
  gateway_id: optionalText,
  provider: optionalText,
  model: optionalText,
  input_tokens: count,
  output_tokens: count,
  latency_ms: nonNegative.nullish(),
  policies_evaluated: z
    .array(z.union([text, policyObject]))
    .max(1000)
    .nullish(),
  policies_triggered: z.array(text).max(1000).nullish(),
  team_id: optionalText,
  request_source: optionalText,
  batch_id: optionalText,
  metadata: z.record(z.string(), z.unknown()).nullish(),
};

/** Shape A: `user_id`, `cost_usd`, decisions in the past tense. */
// `user` is shape B's name for the user: validated here too, since normalisation falls back to it.
export const shapeA = z.looseObject({ ...common, user_id: optionalText, user: optionalText, cost_usd: cost });
/** Shape B: `user`, `cost` (maybe text), `policies_triggered`, present-tense decisions. */
export const shapeB = z.looseObject({ ...common, user: optionalText, cost });

export type ShapeA = z.infer<typeof shapeA>;
export type ShapeB = z.infer<typeof shapeB>;

export const KNOWN_FIELDS = new Set([...Object.keys(common), 'user_id', 'cost_usd', 'user', 'cost']);
