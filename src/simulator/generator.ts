import type { SimulatorFaults, SimulatorSettings } from '../config/schema.js';
import type { ReferenceData } from '../reference/reference-data.js';
import type { ReferenceRow } from '../transform/scd2.js';
import { parseCostMicros } from '../contract/scalars.js';
import { SeededRandom } from './random.js';

/**
 * The simulator's event universe: every event is a pure function of
 * (seed, minute, index), so any window's ground truth can be recomputed
 * exactly by tests and benchmarks without storing anything.
 */
export interface SimulatedEvent {
  /** Wire payload in shape A or B (or a malformed record). */
  payload: Record<string, unknown>;
  id: string;
  tsMs: number;
  /** When the source starts serving it (late arrivals come later than tsMs). */
  visibleAtMs: number;
  valid: boolean;
  costMicros: bigint;
}

export interface GroundTruth {
  validIds: string[];
  invalidCount: number;
  costMicros: bigint;
}

const MINUTE_MS = 60_000;
const POLICIES = [
  'content_safety',
  'pii_detection',
  'prompt_injection',
  'toxicity',
  'jailbreak_detection',
  'audit_logger',
];
const SOURCES = ['chat', 'api', 'batch', 'ide'];

interface ModelChoice {
  model: string;
  provider: string;
  inMicrosPer1k: bigint;
  outMicrosPer1k: bigint;
}

export class EventUniverse {
  private readonly users: string[];
  private readonly gateways: string[];
  private readonly models: ModelChoice[];
  private readonly teams = new Map<string, string>();
  readonly seed: number;
  readonly faults: SimulatorFaults;
  /** Injected incidents by the start of their hour. */
  private readonly incidents: Map<number, SimulatorSettings['traffic']['incidents'][number]>;

  constructor(
    private readonly settings: SimulatorSettings,
    reference: ReferenceData,
  ) {
    this.seed = settings.seed;
    this.faults = settings.faults;
    this.incidents = new Map(
      settings.traffic.incidents.map((i) => [Math.floor(Date.parse(i.at) / 3_600_000) * 3_600_000, i]),
    );
    // The simulator's universe is the members' current reference rows (the last row of each).
    const current = (rows: ReferenceRow[]) => [...new Map(rows.map((r) => [r.natural, r])).values()];
    this.users = current(reference.users).map((u) => u.natural);
    for (const u of current(reference.users)) if (u.attributes.team) this.teams.set(u.natural, u.attributes.team);
    this.gateways = current(reference.gateways).map((g) => g.natural);
    this.models = current(reference.models).map((m) => ({
      model: m.natural,
      provider: m.attributes.provider ?? 'unknown',
      inMicrosPer1k: parseCostMicros(m.attributes.input_price_per_1k ?? '0') ?? 0n,
      outMicrosPer1k: parseCostMicros(m.attributes.output_price_per_1k ?? '0') ?? 0n,
    }));
    if (this.users.length === 0 || this.gateways.length === 0 || this.models.length === 0) {
      throw new Error('the simulator needs reference users, gateways and models (config reference.*)');
    }
  }

  /** All distinct events whose timestamp falls in the given minute, in (timestamp, id) order. */
  eventsInMinute(minute: number): SimulatedEvent[] {
    const rng = new SeededRandom(`${this.settings.seed}:${minute}`);
    // Faults draw from their own stream, so turning them on does not change the events themselves.
    const faultRng = new SeededRandom(`${this.settings.seed}:${minute}:faults`);
    const { late_share, late_max } = this.settings.faults;
    const hour = Math.floor(minute / 60);
    const profile = this.settings.traffic.hourly_profile?.[hour % 24] ?? 1;
    const incident = this.incidents.get(hour * 60 * MINUTE_MS);
    const rate = this.settings.rate_per_minute * profile * (incident?.kind === 'volume_drop' ? incident.share : 1);
    const n = Math.floor(rate * (0.6 + 0.8 * rng.next()) + rng.next());
    const events: SimulatedEvent[] = [];
    for (let i = 0; i < n; i++) {
      const forceBlock = incident?.kind === 'block_spike' && faultRng.next() < incident.share;
      const event = this.makeEvent(rng, minute, forceBlock);
      if (faultRng.next() < late_share) event.visibleAtMs += Math.floor(faultRng.next() * late_max);
      events.push(event);
    }
    events.sort((x, y) => x.tsMs - y.tsMs || (x.id < y.id ? -1 : 1));
    return events;
  }

  /**
   * The minute as the source serves it: shuffled when `unordered`, with
   * duplicate deliveries inserted at a later position (often another page).
   */
  servedInMinute(minute: number): SimulatedEvent[] {
    const { unordered, duplicate_share, lost_share } = this.settings.faults;
    const rng = new SeededRandom(`${this.settings.seed}:${minute}:served`);
    const served = this.eventsInMinute(minute).filter(() => lost_share === 0 || rng.next() >= lost_share);
    if (!unordered && duplicate_share === 0) return served;
    if (unordered) {
      for (let i = served.length - 1; i > 0; i--) {
        const j = Math.floor(rng.next() * (i + 1));
        [served[i], served[j]] = [served[j]!, served[i]!];
      }
    }
    for (const event of [...served]) {
      if (rng.next() < duplicate_share) served.splice(rng.int(served.indexOf(event) + 1, served.length), 0, event);
    }
    return served;
  }

  /** Events with timestamp in [sinceMs, untilMs) that are visible at `nowMs`. */
  *eventsBetween(sinceMs: number, untilMs: number, nowMs: number): Generator<SimulatedEvent> {
    for (let minute = Math.floor(sinceMs / MINUTE_MS); minute * MINUTE_MS < untilMs; minute++) {
      for (const event of this.eventsInMinute(minute)) {
        if (event.tsMs >= sinceMs && event.tsMs < untilMs && event.visibleAtMs <= nowMs) yield event;
      }
    }
  }

  groundTruth(sinceMs: number, untilMs: number, nowMs: number): GroundTruth {
    const truth: GroundTruth = { validIds: [], invalidCount: 0, costMicros: 0n };
    for (const event of this.eventsBetween(sinceMs, untilMs, nowMs)) {
      if (!event.valid) {
        truth.invalidCount++;
        continue;
      }
      truth.validIds.push(event.id);
      truth.costMicros += event.costMicros;
    }
    return truth;
  }

  private makeEvent(rng: SeededRandom, minute: number, forceBlock: boolean): SimulatedEvent {
    const id = rng.uuid();
    const tsMs = minute * MINUTE_MS + Math.floor(rng.next() * MINUTE_MS);
    const unknown = rng.next() < this.settings.unknown_member_rate;
    const user = unknown ? `user_new_${rng.int(1, 5)}` : rng.pick(this.users);
    const gateway = unknown && rng.next() < 0.5 ? `gw_new_${rng.int(1, 2)}` : rng.pick(this.gateways);
    const model = rng.pick(this.models);
    const roll = rng.next();
    const natural = roll < 0.86 ? 'allow' : roll < 0.92 ? 'redact' : roll < 0.98 ? 'block' : 'escalate';
    const decision = forceBlock ? 'block' : natural;
    const inputTokens = rng.int(20, 4000);
    const outputTokens = decision === 'block' ? 0 : rng.int(0, 2000);
    const costMicros =
      (BigInt(inputTokens) * model.inMicrosPer1k + BigInt(outputTokens) * model.outMicrosPer1k + 500n) / 1000n;
    const policies = this.makePolicies(rng, decision);
    const latencyMs = rng.int(40, 3000);
    const canonicalish = {
      id,
      timestamp: new Date(tsMs).toISOString(),
      decision,
      user,
      gateway,
      model,
      inputTokens,
      outputTokens,
      costMicros,
      policies,
      latencyMs,
      team: this.teams.get(user) ?? null,
      source: rng.pick(SOURCES),
    };
    const shapeA = rng.next() < 0.5;
    let payload = shapeA ? renderShapeA(canonicalish) : renderShapeB(canonicalish, rng.next() < 0.5);
    const valid = rng.next() >= this.settings.bad_record_rate;
    if (!valid) payload = corrupt(payload, rng);
    return { payload, id, tsMs, visibleAtMs: tsMs, valid, costMicros };
  }

  private makePolicies(rng: SeededRandom, decision: string): SimPolicy[] {
    const count = rng.int(1, 3);
    const names = [...POLICIES].sort(() => rng.next() - 0.5).slice(0, count);
    const deciding = decision === 'redact' ? 'pii_detection' : names[0]!;
    if (decision === 'redact' && !names.includes('pii_detection')) names[0] = 'pii_detection';
    return names.map((name) => {
      const fires = decision !== 'allow' && name === deciding;
      return {
        name,
        result: fires ? decision : 'pass',
        latencyMs: rng.int(1, 40),
        entitiesFound: fires && decision === 'redact' ? rng.int(1, 5) : null,
      };
    });
  }
}

interface SimPolicy {
  name: string;
  result: string;
  latencyMs: number;
  entitiesFound: number | null;
}

interface SimEvent {
  id: string;
  timestamp: string;
  decision: string;
  user: string;
  gateway: string;
  model: ModelChoice;
  inputTokens: number;
  outputTokens: number;
  costMicros: bigint;
  policies: SimPolicy[];
  latencyMs: number;
  team: string | null;
  source: string;
}

const PAST_TENSE: Record<string, string> = {
  allow: 'allowed',
  block: 'blocked',
  redact: 'redacted',
  escalate: 'escalated',
};

function policyObjects(policies: SimPolicy[], pastTense: boolean) {
  return policies.map((p) => ({
    name: p.name,
    result: pastTense && p.result !== 'pass' ? PAST_TENSE[p.result] : p.result,
    latency_ms: p.latencyMs,
    ...(p.entitiesFound === null ? {} : { entities_found: p.entitiesFound }),
  }));
}

/** Shape A, as in the vendor's decision-event page. */
export function renderShapeA(e: SimEvent): Record<string, unknown> {
  return {
    id: e.id,
    timestamp: e.timestamp,
    decision: PAST_TENSE[e.decision],
    model: e.model.model,
    provider: e.model.provider,
    input_tokens: e.inputTokens,
    output_tokens: e.outputTokens,
    policies_evaluated: policyObjects(e.policies, true),
    gateway_id: e.gateway,
    user_id: e.user,
    cost_usd: Number(e.costMicros) / 1e6,
    latency_ms: e.latencyMs,
    team_id: e.team,
    request_source: e.source,
  };
}

/** Shape B, as in the vendor's data-engineer guide; cost sometimes arrives as text. */
export function renderShapeB(e: SimEvent, costAsText: boolean): Record<string, unknown> {
  const cost = Number(e.costMicros) / 1e6;
  return {
    id: e.id,
    timestamp: e.timestamp,
    gateway_id: e.gateway,
    user: e.user,
    provider: e.model.provider,
    model: e.model.model,
    decision: e.decision,
    policies_evaluated: policyObjects(e.policies, false),
    policies_triggered: e.policies.filter((p) => p.result !== 'pass').map((p) => p.name),
    latency_ms: e.latencyMs,
    input_tokens: e.inputTokens,
    output_tokens: e.outputTokens,
    cost: costAsText ? String(cost) : cost,
    metadata: {},
    team_id: e.team,
    request_source: e.source,
  };
}

/** One of the malformations seen in the wild; every one must be rejected by the contract. */
function corrupt(payload: Record<string, unknown>, rng: SeededRandom): Record<string, unknown> {
  const bad = { ...payload };
  switch (rng.int(0, 3)) {
    case 0:
      bad.input_tokens = -rng.int(1, 100);
      break;
    case 1:
      bad.decision = 'maybe';
      break;
    case 2:
      delete bad.id;
      break;
    default:
      bad.timestamp = 'yesterday';
  }
  return bad;
}
