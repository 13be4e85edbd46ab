import { z } from 'zod';
import { DECISION_SPELLINGS } from './event.js';
import { COLUMN_RANGES, COST_RANGE_TEXT, numberFromText, rangeProblem, type ColumnRange } from './ranges.js';
import { parseCostMicros, parseInstant } from './scalars.js';

/**
 * One zod schema per event shape seen in the wild (DESIGN.md, "Source
 * contract"). zod is the authority for what a valid record is and for the
 * reject reasons. Numbers may arrive as text (CSV exports, shape B's cost).
 */

/** A number (maybe given as text) that must fit its column (ranges.ts). */
function columnNumber(range: ColumnRange) {
  return z.preprocess(
    (v) => numberFromText(v, range),
    z.number().superRefine((n, ctx) => {
      const problem = rangeProblem(range, n);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  );
}
/** The array limit that also bounds the derived policy counts (INTEGER columns). */
export const MAX_POLICIES = 1000;

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
  const parsed = parseInstant(value.trim());
  if ('problem' in parsed) {
    ctx.addIssue({ code: 'custom', message: parsed.problem });
    return z.NEVER;
  }
  return parsed.micros;
});

const cost = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const micros = parseCostMicros(value);
  if (micros === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected ${COST_RANGE_TEXT}, got ${JSON.stringify(value).slice(0, 40)}` });
    return z.NEVER;
  }
  return micros;
});

const decision = z
  .enum(Object.keys(DECISION_SPELLINGS) as [keyof typeof DECISION_SPELLINGS, ...(keyof typeof DECISION_SPELLINGS)[]])
  .transform((value) => DECISION_SPELLINGS[value]);

const policyObject = z.looseObject({
  name: text,
  result: text,
  latency_ms: columnNumber(COLUMN_RANGES.latency_ms).nullish(),
  entities_found: columnNumber(COLUMN_RANGES.entities_found).nullish(),
});

const common = {
  id: z.string().trim().min(1).max(256).refine(noControl, 'contains a control character'),
  timestamp: instant,
  decision,
  gateway_id: optionalText,
  provider: optionalText,
  model: optionalText,
  input_tokens: columnNumber(COLUMN_RANGES.input_tokens),
  output_tokens: columnNumber(COLUMN_RANGES.output_tokens),
  latency_ms: columnNumber(COLUMN_RANGES.latency_ms).nullish(),
  policies_evaluated: z
    .array(z.union([text, policyObject]))
    .max(MAX_POLICIES)
    .nullish(),
  policies_triggered: z.array(text).max(MAX_POLICIES).nullish(),
  team_id: optionalText,
  request_source: optionalText,
  batch_id: optionalText,
  metadata: z.record(z.string(), z.unknown()).nullish(),
};

/** total_tokens = input_tokens + output_tokens is stored too: it must fit its column as well. */
function checkTotalTokens(value: { input_tokens: number; output_tokens: number }, ctx: z.RefinementCtx): void {
  const { input_tokens: input, output_tokens: output } = value;
  // zod runs this even when a field failed: a field out of range already has its own reason.
  if (rangeProblem(COLUMN_RANGES.input_tokens, input) || rangeProblem(COLUMN_RANGES.output_tokens, output)) return;
  const problem = rangeProblem(COLUMN_RANGES.total_tokens, input + output);
  if (problem)
    ctx.addIssue({ code: 'custom', path: ['total_tokens'], message: `input_tokens + output_tokens: ${problem}` });
}

/** Shape A: `user_id`, `cost_usd`, decisions in the past tense. */
// `user` is shape B's name for the user: validated here too, since normalisation falls back to it.
export const shapeA = z
  .looseObject({ ...common, user_id: optionalText, user: optionalText, cost_usd: cost })
  .superRefine(checkTotalTokens);
/** Shape B: `user`, `cost` (maybe text), `policies_triggered`, present-tense decisions. */
export const shapeB = z.looseObject({ ...common, user: optionalText, cost }).superRefine(checkTotalTokens);

export type ShapeA = z.infer<typeof shapeA>;
export type ShapeB = z.infer<typeof shapeB>;

export const KNOWN_FIELDS = new Set([...Object.keys(common), 'user_id', 'cost_usd', 'user', 'cost']);
