import { HOUR_MS } from '../util/dates.js';
import type { CheckResult, WarehouseChecks } from '../warehouse/warehouse.js';
import { verifiedHoursSql, verifiedRangeSql } from './check-sql.js';

/**
 * Incremental verification (issue 19): the checks that read rows re-read only the hours that changed
 * since their checks last passed there. Each hour's record holds a fingerprint of what it held
 * (check-sql.ts `verifiedHoursSql`); the rest is read once, then trusted until it changes.
 */
export interface Span {
  fromMs: number;
  toMs: number;
}

export interface VerificationPlan {
  /** Where the checks that read rows run: the hours not verified with what they hold now; null: none. */
  rows: Span | null;
  /** Where the orphan probes run: those hours and the ones verified under other dimension versions. */
  versions: Span | null;
  /** Hours in the range holding facts (or verified), and those no check reads again. */
  hours: number;
  skipped: number;
  /** When the skipped hours were verified: first and last. */
  verifiedMs: Span | null;
  full: boolean;
}

/** The smallest span holding every hour of `hours`, clipped to the range; null when there is none. */
function hull(hours: number[], range: Span): Span | null {
  if (hours.length === 0) return null;
  return {
    fromMs: Math.max(range.fromMs, Math.min(...hours)),
    toMs: Math.min(range.toMs, Math.max(...hours) + HOUR_MS),
  };
}

/**
 * Compares the whole range with its hours' records first; where that differs, reads every hour's
 * fingerprint in the range (one grouped scan of two timestamps) against its record.
 * The changed hours may be far apart (an erasure); they are checked as one span, their hull: one set of
 * queries, and a range's ids are matched against every other hour's anyway.
 */
export async function planVerification(
  warehouse: WarehouseChecks,
  range: Span,
  full: boolean,
): Promise<VerificationPlan> {
  if (full) return { rows: range, versions: range, hours: 0, skipped: 0, verifiedMs: null, full };
  const hoursOfRange = {
    from: new Date(Math.floor(range.fromMs / HOUR_MS) * HOUR_MS).toISOString(),
    to: new Date(Math.ceil(range.toMs / HOUR_MS) * HOUR_MS).toISOString(),
  };
  const [whole] = await warehouse.query(verifiedRangeSql(warehouse.dialect), hoursOfRange);
  if (Number(whole?.verified) === 1) {
    const hours = Number(whole!.hours);
    const verifiedMs = { fromMs: Number(whole!.first_verified_ms), toMs: Number(whole!.last_verified_ms) };
    return { rows: null, versions: null, hours, skipped: hours, verifiedMs, full };
  }
  const rows = await warehouse.query(verifiedHoursSql(warehouse.dialect), hoursOfRange);
  const hours = rows.map((r) => ({
    hourMs: Number(r.hour_ms),
    rows: Number(r.rows_verified) === 1,
    versions: Number(r.rows_verified) === 1 && Number(r.dimensions_verified) === 1,
    verifiedMs: r.verified_ms === null ? null : Number(r.verified_ms),
  }));
  const changed = (key: 'rows' | 'versions') => hours.filter((h) => !h[key]).map((h) => h.hourMs);
  const plan = { rows: hull(changed('rows'), range), versions: hull(changed('versions'), range) };
  const inside = (h: number, span: Span | null) => span !== null && h + HOUR_MS > span.fromMs && h < span.toMs;
  const skipped = hours.filter((h) => !inside(h.hourMs, plan.rows) && !inside(h.hourMs, plan.versions));
  const at = skipped.map((h) => h.verifiedMs!);
  return {
    ...plan,
    hours: hours.length,
    skipped: skipped.length,
    verifiedMs: at.length === 0 ? null : { fromMs: Math.min(...at), toMs: Math.max(...at) },
    full,
  };
}

/** What the plan skipped, as a result of its own: passing, with how many hours and when they were verified. */
export function verificationResult(plan: VerificationPlan): CheckResult {
  const iso = (ms: number) => new Date(ms).toISOString();
  const when = plan.verifiedMs && `verified ${iso(plan.verifiedMs.fromMs)} to ${iso(plan.verifiedMs.toMs)}`;
  const read = (name: string, span: Span | null) =>
    span === null ? `${name}: none` : `${name}: ${iso(span.fromMs)} to ${iso(span.toMs)}`;
  return {
    name: 'verified_hours',
    scope: 'checked range',
    status: 'pass',
    blocking: false,
    observed: plan.skipped,
    expected: null,
    message: plan.full
      ? 'every hour read again (--full)'
      : `${plan.skipped} of ${plan.hours} hours unchanged since their checks passed${when ? ` (${when})` : ''}, not read again; read ${read('rows', plan.rows)}, ${read('orphans', plan.versions)}`,
  };
}
