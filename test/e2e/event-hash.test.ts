import { mkdirSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { CanonicalEvent, PolicyEvaluation } from '../../src/contract/event.js';
import { eventHash } from '../../src/contract/hash.js';
import { normalizeRecord } from '../../src/contract/normalize.js';
import { aetl } from '../helpers/cli.js';
import { query } from '../helpers/duckdb.js';
import { jsonLines, shapeA } from '../helpers/events.js';
import { Workspace } from '../helpers/workspace.js';

/**
 * DESIGN.md decision 4 through the real load (CLI, files source, DuckDB file):
 * the stored event_hash is the product's own hash of the normalised event;
 * within a batch the smallest hash wins whatever the arrival order; and every
 * field of the canonical event is in the hash, so changing any one of them
 * makes a re-sent event a conflict, never a silent duplicate.
 */
type Raw = Record<string, unknown>;

function normalised(raw: Raw): CanonicalEvent {
  const result = normalizeRecord(raw);
  if (!result.ok) throw new Error(`test event is invalid: ${JSON.stringify(result.reasons)}`);
  return result.event;
}

const hashOf = (raw: Raw) => eventHash(normalised(raw));

/** Every optional field set and two policies (one passed, one triggered), so each field can change alone. */
function base(id: string): Raw {
  return shapeA(id, 30, {
    latency_ms: 120,
    team_id: 'team-a',
    request_source: 'api',
    batch_id: 'batch-1',
    metadata: { tier: 'gold' },
    policies_evaluated: [
      { name: 'content_safety', result: 'pass', latency_ms: 3, entities_found: 0 },
      { name: 'pii_detection', result: 'redact', latency_ms: 8, entities_found: 2 },
    ],
  });
}

const withFirstPolicy =
  (change: Raw) =>
  (raw: Raw): Raw => {
    const [first, ...rest] = raw.policies_evaluated as Raw[];
    return { ...raw, policies_evaluated: [{ ...first, ...change }, ...rest] };
  };

/**
 * One raw-record change per canonical field. Typed by CanonicalEvent and
 * PolicyEvaluation (the hash's input), and checked against a normalised
 * event's keys at run time, so a field added to the event fails here until
 * it has a case.
 */
const EVENT_CASES: Record<keyof CanonicalEvent, (raw: Raw) => Raw> = {
  event_id: (raw) => ({ ...raw, id: `${String(raw.id)}-other` }),
  event_ts_us: (raw) => ({ ...raw, timestamp: '2026-04-10T08:30:00.000001Z' }),
  user_id: (raw) => ({ ...raw, user_id: 'user_002' }),
  gateway_id: (raw) => ({ ...raw, gateway_id: 'gw_prod_west' }),
  model: (raw) => ({ ...raw, model: 'gpt-4o-mini' }),
  provider: (raw) => ({ ...raw, provider: 'azure' }),
  decision: (raw) => ({ ...raw, decision: 'escalated' }),
  input_tokens: (raw) => ({ ...raw, input_tokens: Number(raw.input_tokens) + 1 }),
  output_tokens: (raw) => ({ ...raw, output_tokens: Number(raw.output_tokens) + 1 }),
  latency_ms: (raw) => ({ ...raw, latency_ms: 121 }),
  cost_micros: (raw) => ({ ...raw, cost_usd: 0.001201 }),
  policies: (raw) => ({ ...raw, policies_evaluated: (raw.policies_evaluated as Raw[]).slice(0, 1) }),
  team_id: (raw) => ({ ...raw, team_id: 'team-b' }),
  request_source: (raw) => ({ ...raw, request_source: 'batch' }),
  batch_id: (raw) => ({ ...raw, batch_id: 'batch-2' }),
  metadata: (raw) => ({ ...raw, metadata: { tier: 'silver' } }),
};
const POLICY_CASES: Record<keyof PolicyEvaluation, (raw: Raw) => Raw> = {
  name: withFirstPolicy({ name: 'jailbreak' }),
  result: (raw) => ({
    ...raw,
    policies_evaluated: (raw.policies_evaluated as Raw[]).map((p, i) => (i === 1 ? { ...p, result: 'block' } : p)),
  }),
  latency_ms: withFirstPolicy({ latency_ms: 4 }),
  entities_found: withFirstPolicy({ entities_found: 1 }),
  // Listed as triggered while its result stays `pass`: only the flag changes.
  triggered: (raw) => ({ ...raw, policies_triggered: ['content_safety'] }),
};
const CASES: [string, (raw: Raw) => Raw][] = [
  ...Object.entries(EVENT_CASES),
  ...Object.entries(POLICY_CASES).map(([field, change]): [string, (raw: Raw) => Raw] => [`policies.${field}`, change]),
];

const text = (value: unknown) => JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));

/** The canonical fields (`policies.<field>` inside the policy list) in which two events differ. */
function changedFields(a: CanonicalEvent, b: CanonicalEvent): string[] {
  const changed = (Object.keys(a) as (keyof CanonicalEvent)[]).filter((key) => text(a[key]) !== text(b[key]));
  if (!changed.includes('policies') || a.policies.length !== b.policies.length) return changed;
  const inPolicies = new Set(
    a.policies.flatMap((p, i) =>
      (Object.keys(p) as (keyof PolicyEvaluation)[]).filter((key) => text(p[key]) !== text(b.policies[i]![key])),
    ),
  );
  return [...changed.filter((key) => key !== 'policies'), ...[...inPolicies].map((key) => `policies.${key}`)];
}

const workspaces: Workspace[] = [];
afterEach(() => workspaces.splice(0).forEach((w) => w.remove()));

function filesWorkspace(): { w: Workspace; config: string } {
  const w = new Workspace();
  workspaces.push(w);
  mkdirSync(w.path('in'));
  return { w, config: w.writeConfig({ source: { kind: 'files', files: w.path('in') } }) };
}

describe('event_hash through the load', () => {
  it('two versions of one event_id in one batch: the smallest hash is stored, in either arrival order', async () => {
    const { w, config } = filesWorkspace();
    const versions = (id: string) =>
      [base(id), { ...base(id), output_tokens: 51 }]
        .map((raw) => ({ raw, hash: hashOf(raw) }))
        .sort((a, b) => (a.hash < b.hash ? -1 : 1));
    const [smallAB, largeAB] = versions('twin-ab');
    const [smallBA, largeBA] = versions('twin-ba');
    expect(smallAB!.hash).not.toBe(largeAB!.hash);
    // twin-ab arrives smallest first, twin-ba largest first.
    writeFileSync(w.path('in', 'batch.jsonl'), jsonLines([smallAB!.raw, largeAB!.raw, largeBA!.raw, smallBA!.raw]));
    const run = await aetl(['run', '--config', config]);
    expect(run.code, run.stderr).toBe(0);

    const facts = await query(w.warehouse, 'SELECT event_id, event_hash, output_tokens FROM fact_ai_event ORDER BY 1');
    expect(facts).toEqual([
      { event_id: 'twin-ab', event_hash: smallAB!.hash, output_tokens: BigInt(Number(smallAB!.raw.output_tokens)) },
      { event_id: 'twin-ba', event_hash: smallBA!.hash, output_tokens: BigInt(Number(smallBA!.raw.output_tokens)) },
    ]);
    const [counts] = await query(w.warehouse, 'SELECT in_batch_duplicates::INTEGER AS n FROM etl_run_window');
    expect(counts).toEqual({ n: 2 });
  });

  it('changing any one hashed field changes the stored hash: a re-sent event is a conflict', async () => {
    const baseEvent = normalised(base('probe'));
    // Every field the hash takes has a case (a new field fails here until it gets one).
    expect(Object.keys(EVENT_CASES).sort()).toEqual(Object.keys(baseEvent).sort());
    expect(Object.keys(POLICY_CASES).sort()).toEqual(Object.keys(baseEvent.policies[0]!).sort());
    // Each case changes exactly its own field of the normalised event.
    for (const [field, change] of CASES) {
      expect(changedFields(baseEvent, normalised(change(base('probe')))), field).toEqual([field]);
    }

    const { w, config } = filesWorkspace();
    const originals = CASES.map(([field]) => base(`h-${field}`));
    const variants = CASES.map(([, change], i) => change(originals[i]!));
    writeFileSync(w.path('in', '1-originals.jsonl'), jsonLines(originals));
    const first = await aetl(['run', '--config', config]);
    expect(first.code, first.stderr).toBe(0);
    writeFileSync(w.path('in', '2-variants.jsonl'), jsonLines(variants));
    const second = await aetl(['run', '--config', config]);
    expect(second.code, second.stderr).toBe(0);

    const facts = new Map(
      (await query(w.warehouse, 'SELECT event_id, event_hash FROM fact_ai_event')).map((r) => [
        r.event_id,
        r.event_hash,
      ]),
    );
    const conflicts = new Map(
      (await query(w.warehouse, 'SELECT event_id, loaded_hash, incoming_hash FROM etl_conflict')).map((r) => [
        r.event_id,
        [r.loaded_hash, r.incoming_hash],
      ]),
    );
    for (const [i, [field]] of CASES.entries()) {
      const [original, variant] = [originals[i]!, variants[i]!];
      expect(facts.get(original.id), field).toBe(hashOf(original));
      // A known id with another hash is a conflict (first loaded kept); a new id (the event_id case) a new fact.
      if (original.id === variant.id)
        expect(conflicts.get(original.id), field).toEqual([hashOf(original), hashOf(variant)]);
      else expect(facts.get(variant.id), field).toBe(hashOf(variant));
      expect(hashOf(variant), field).not.toBe(hashOf(original));
    }
  });
});
