import type { CheckResult, LoadFacts } from '../warehouse/warehouse.js';

/**
 * The checks judged inside the load's transaction (DESIGN.md decision 1):
 * a failure keeps the checkpoint where it is, the loaded data is kept.
 */
export function blockingChecks(maxRejectRate: number): (facts: LoadFacts) => CheckResult[] {
  return ({ counts, duplicateIdsInRange }) => {
    const accounted =
      counts.inserted + counts.alreadyPresent + counts.inBatchDuplicates + counts.rejected + counts.outOfWindow;
    const inWindow = counts.read - counts.outOfWindow;
    const rejectRate = inWindow === 0 ? 0 : counts.rejected / inWindow;
    return [
      {
        name: 'duplicates',
        scope: 'fact_ai_event, batch dates',
        status: duplicateIdsInRange === 0 ? 'pass' : 'fail',
        blocking: true,
        observed: duplicateIdsInRange,
        expected: '0',
        message:
          duplicateIdsInRange === 0
            ? 'no duplicate event_id on the dates this load touched'
            : `${duplicateIdsInRange} duplicate event_id rows on the dates this load touched`,
      },
      {
        name: 'counts_balance',
        scope: 'run window',
        status: accounted === counts.read ? 'pass' : 'fail',
        blocking: true,
        observed: accounted,
        expected: String(counts.read),
        message: `read ${counts.read} = inserted ${counts.inserted} + already present ${counts.alreadyPresent} + in-batch duplicates ${counts.inBatchDuplicates} + rejected ${counts.rejected} + out of window ${counts.outOfWindow}${accounted === counts.read ? '' : ` (accounts for ${accounted})`}`,
      },
      {
        name: 'reject_rate',
        scope: 'run window',
        status: rejectRate <= maxRejectRate ? 'pass' : 'fail',
        blocking: true,
        observed: rejectRate,
        expected: `<= ${maxRejectRate}`,
        message: `${counts.rejected} of ${inWindow} records rejected (${(rejectRate * 100).toFixed(2)}%); limit ${(maxRejectRate * 100).toFixed(2)}%`,
      },
    ];
  };
}

/** A reject-rate breach fails the run (exit 1), unlike other check failures (exit 3): DESIGN.md decision 3. */
export const REJECT_RATE_CHECK = 'reject_rate';
