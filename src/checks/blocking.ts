import type { ChecksConfig } from '../config/checks-schema.js';
import type { CheckResult, LoadFacts } from '../warehouse/warehouse.js';
import { failedStatus as failed } from './status.js';

/** A reject-rate breach fails the run (exit 1), unlike other check failures (exit 3): DESIGN.md decision 3. */
export const REJECT_RATE_CHECK = 'reject_rate';

const pct = (ratio: number) => `${(ratio * 100).toFixed(3).replace(/\.?0+$/, '')}%`;

/**
 * The checks judged inside the load's transaction (DESIGN.md decision 1):
 * a failing blocking check keeps the checkpoint where it is; the loaded data
 * is kept either way.
 */
export function blockingChecks(config: ChecksConfig): (facts: LoadFacts) => CheckResult[] {
  return ({ counts, duplicateIdsInRange, completeness }) => {
    const accounted =
      counts.inserted + counts.alreadyPresent + counts.inBatchDuplicates + counts.rejected + counts.outOfWindow;
    const inWindow = counts.read - counts.outOfWindow;
    const rejectRate = inWindow === 0 ? 0 : counts.rejected / inWindow;
    const results: CheckResult[] = [
      {
        name: 'duplicates',
        scope: 'fact_ai_event, dates this load touched',
        status: duplicateIdsInRange === 0 ? 'pass' : failed(config.duplicates.severity),
        blocking: config.duplicates.blocking,
        observed: duplicateIdsInRange,
        expected: '0',
        message:
          duplicateIdsInRange === 0
            ? 'no duplicate event_id on the dates this load touched'
            : `${duplicateIdsInRange} duplicate event_id rows on the dates this load touched`,
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
    if (completeness) {
      const { expected, present, scope } = completeness;
      const ratio = expected === 0 ? 1 : Math.min(present / expected, 1);
      const missing = Math.max(expected - present, 0);
      const ok = ratio >= config.completeness.min_ratio;
      results.push({
        name: 'completeness',
        scope,
        status: ok ? 'pass' : failed(config.completeness.severity),
        blocking: config.completeness.blocking,
        observed: ratio,
        expected: `>= ${config.completeness.min_ratio}`,
        message: `${present} of ${expected} source events present (${pct(ratio)}), ${missing} missing`,
      });
    }
    return results;
  };
}
