import type { ChecksConfig } from '../config/checks-schema.js';
import type { TimeWindow } from '../state/window.js';
import type { AcceptedLoss, CheckResult, LoadFacts } from '../warehouse/warehouse.js';
import { acceptLossCommand } from '../pipeline/next-step.js';
import { failedStatus as failed } from './status.js';

/** A reject-rate breach fails the run (exit 1), unlike other check failures (exit 3): DESIGN.md decision 3. */
export const REJECT_RATE_CHECK = 'reject_rate';
/** A blocking completeness failure holds the checkpoint until the events arrive or the loss is accepted. */
export const COMPLETENESS_CHECK = 'completeness';

const pct = (ratio: number) => `${(ratio * 100).toFixed(3).replace(/\.?0+$/, '')}%`;

/**
 * The checks judged inside the load's transaction (DESIGN.md decision 1):
 * a failing blocking check keeps the checkpoint where it is; the loaded data
 * is kept either way.
 */
export function blockingChecks(
  config: ChecksConfig,
  window: TimeWindow | null = null,
  accepted: AcceptedLoss[] = [],
): (facts: LoadFacts) => CheckResult[] {
  return ({ counts, duplicateIdsInRange, completeness }) => {
    const accounted =
      counts.inserted + counts.alreadyPresent + counts.inBatchDuplicates + counts.rejected + counts.outOfWindow;
    const inWindow = counts.read - counts.outOfWindow;
    const rejectRate = inWindow === 0 ? 0 : counts.rejected / inWindow;
    const results: CheckResult[] = [
      {
        name: 'duplicates',
        scope: "fact_ai_event, this load's ids on any date",
        status: duplicateIdsInRange === 0 ? 'pass' : failed(config.duplicates.severity),
        blocking: config.duplicates.blocking,
        observed: duplicateIdsInRange,
        expected: '0',
        message:
          duplicateIdsInRange === 0
            ? 'no event_id of this load is stored twice, on any date'
            : `${duplicateIdsInRange} duplicate event_id rows among this load's ids`,
      },
      {
        name: 'counts_balance',
        scope: 'load',
        status: accounted === counts.read ? 'pass' : 'fail',
        blocking: true,
        observed: accounted,
        expected: String(counts.read),
        message: `read ${counts.read} = inserted ${counts.inserted} + already present ${counts.alreadyPresent} + in-batch duplicates ${counts.inBatchDuplicates} + rejected ${counts.rejected} + out of window ${counts.outOfWindow}${accounted === counts.read ? '' : ` (accounts for ${accounted})`}`,
      },
      {
        name: REJECT_RATE_CHECK,
        scope: 'load',
        status: rejectRate <= config.max_reject_rate ? 'pass' : 'fail',
        blocking: true,
        observed: rejectRate,
        expected: `<= ${config.max_reject_rate}`,
        message: `${counts.rejected} of ${inWindow} records rejected (${pct(rejectRate)}); limit ${pct(config.max_reject_rate)}`,
      },
    ];
    if (completeness) results.push(judgedLoss(completenessResult(config, completeness), window, accepted));
    return results;
  };
}

/**
 * Present (this pipeline's loaded ∪ quarantined) against what the source
 * counted: short fails; more present than counted is said so (late arrivals
 * after the count, or a source count that missed some), never capped.
 */
export function completenessResult(
  config: ChecksConfig,
  { expected, present, scope }: NonNullable<LoadFacts['completeness']>,
): CheckResult {
  const ratio = expected === 0 ? (present === 0 ? 1 : Infinity) : present / expected;
  const ok = ratio >= config.completeness.min_ratio;
  const balance =
    present < expected
      ? `${expected - present} missing`
      : present > expected
        ? `${present - expected} more present than the source counted`
        : 'none missing';
  return {
    name: COMPLETENESS_CHECK,
    scope,
    status: ok ? 'pass' : failed(config.completeness.severity),
    blocking: config.completeness.blocking,
    observed: Number.isFinite(ratio) ? ratio : null,
    expected: `>= ${config.completeness.min_ratio}`,
    message: `${present} of ${expected} source events present${expected === 0 ? '' : ` (${pct(ratio)})`}, ${balance}`,
  };
}

/**
 * A window's failing completeness, as the operator can act on it (issue 20,
 * item 5): inside a loss accepted with `aetl accept-loss` it warns and no
 * longer blocks, naming the acceptance; otherwise it says how to accept the
 * loss if the source lost those events for good (reconcile retries later).
 */
function judgedLoss(result: CheckResult, window: TimeWindow | null, accepted: AcceptedLoss[]): CheckResult {
  if (result.status === 'pass' || window === null) return result;
  const covering = accepted.find((loss) => loss.fromMs <= window.startMs && window.endMs <= loss.toMs);
  if (covering) {
    return {
      ...result,
      status: 'warn',
      blocking: false,
      message: `${result.message}; accepted loss "${covering.reason}" (by ${covering.acceptedBy}, run ${covering.runId})`,
    };
  }
  return {
    ...result,
    message: `${result.message}. If the source re-sends them, a later run or \`aetl reconcile\` loads them; if it lost them for good, \`${acceptLossCommand(window)}\` lets runs move on`,
  };
}
