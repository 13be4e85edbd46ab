import type { LoadCounts, LoadFacts, LoadRequest } from './warehouse.js';

/**
 * The records of one package accounted for: its distinct events now stored,
 * the in-batch duplicates, the quarantined and the out-of-window ones.
 */
export function accountedRecords(counts: LoadCounts, batchPresent: number): number {
  return batchPresent + counts.inBatchDuplicates + counts.rejected + counts.outOfWindow;
}

/**
 * File completeness (DESIGN.md decision 9), judged with a file's last
 * package: the records the reader found in the file (its own count of lines,
 * CSV rows or array items, not the staged batch) against those every package
 * of the file accounted for. A record lost between the reader and the load
 * shows as missing. Null for a package that is not a file's last.
 */
export function fileCompleteness(
  request: LoadRequest,
  counts: LoadCounts,
  batchPresent: number,
): LoadFacts['completeness'] {
  const { sourceRecords, sourceFiles } = request.manifest;
  if (sourceRecords === null) return null;
  return {
    expected: sourceRecords,
    present: (request.accountedBefore ?? 0) + accountedRecords(counts, batchPresent),
    scope: `file ${sourceFiles.map((f) => f.path).join(', ')}`,
  };
}
