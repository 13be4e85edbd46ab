import type { Config } from '../config/schema.js';
import { FACT_TABLES, partitionDates, partitionName, replacePartitions } from '../lake/layout.js';
import type { Logger } from '../log/logger.js';
import { DAY_MS, isoDay, startOfUtcDay } from '../util/dates.js';
import { UsageError } from '../util/errors.js';
import { pathInside } from '../util/safe-path.js';
import type { RetentionItem, WarehouseOperations } from '../warehouse/warehouse.js';
import { openWarehouse } from './open-warehouse.js';
import type { Session } from './session.js';

/** Younger data is inside reconcile's reach (7 days by default): deleting it would only have it loaded again. */
const MIN_AGE_MS = 7 * DAY_MS;

export interface RetentionOptions {
  olderThanMs: number;
  archiveDir: string | null;
}

export interface RetentionDetail {
  /** Partitions strictly before this UTC date go. */
  cutoff: string;
  items: RetentionItem[];
  /** Lake partition folders before the cutoff (removed with --apply). */
  lakePartitions: string[];
  applied: boolean;
}

/** Refuses an age retention may not use; checked before a session starts, so a typo pages nobody. */
export function checkRetentionAge(olderThanMs: number): void {
  if (olderThanMs < MIN_AGE_MS) {
    throw new UsageError(
      '--older-than must be at least 7d: younger data is within reconcile’s reach and would come back',
    );
  }
}

function cutoffOf(nowMs: number, olderThanMs: number): number {
  checkRetentionAge(olderThanMs);
  return startOfUtcDay(nowMs - olderThanMs);
}

/** Fact partitions of the lake before the cutoff, found on disk: what an interrupted earlier run left goes too. */
function lakePartitionsBefore(lake: string, cutoffMs: number): { table: string; dates: string[] }[] {
  const cutoff = isoDay(cutoffMs);
  return FACT_TABLES.map((table) => ({ table, dates: partitionDates(lake, table).filter((date) => date < cutoff) }));
}

/** The partitions' folders, as the report names them. */
function folders(lake: string, partitions: { table: string; dates: string[] }[]): string[] {
  return partitions.flatMap(({ table, dates }) => dates.map((date) => pathInside(lake, table, partitionName(date))));
}

/** `aetl retention` without --apply: what would go, read without writing anything. */
export async function retentionPlan(
  config: Config,
  logger: Logger,
  nowMs: number,
  options: RetentionOptions,
): Promise<RetentionDetail> {
  const cutoffMs = cutoffOf(nowMs, options.olderThanMs);
  const warehouse = await openWarehouse(config, logger);
  try {
    const items = await warehouse.retentionPlan(config.pipeline.name, cutoffMs);
    return {
      cutoff: isoDay(cutoffMs),
      items,
      lakePartitions: folders(config.lake.path, lakePartitionsBefore(config.lake.path, cutoffMs)),
      applied: false,
    };
  } finally {
    await warehouse.close();
  }
}

/**
 * `aetl retention --apply`: under the run lock and in the run ledger like any
 * command; the warehouse archives and deletes in one transaction, then the
 * lake's old partition folders are removed.
 */
export function applyRetention(
  options: RetentionOptions,
): (session: Session<Pick<WarehouseOperations, 'applyRetention'>>) => Promise<RetentionDetail> {
  return async (session) => {
    const { config, warehouse } = session;
    const cutoffMs = cutoffOf(session.nowMs, options.olderThanMs);
    const items = await warehouse.applyRetention(
      config.pipeline.name,
      session.runId,
      cutoffMs,
      options.archiveDir,
      session.nowMs,
    );
    const lake = config.lake.path;
    const old = lakePartitionsBefore(lake, cutoffMs);
    // Removed all at once per table (layout.ts): a reader never sees a partition half gone.
    for (const { table, dates } of old) {
      if (dates.length > 0) replacePartitions(lake, table, new Map(dates.map((date) => [date, null])));
    }
    const lakePartitions = folders(lake, old);
    session.logger.info(
      { cutoff: isoDay(cutoffMs), items: items.length, lakePartitions: lakePartitions.length },
      'retention applied',
    );
    return { cutoff: isoDay(cutoffMs), items, lakePartitions, applied: true };
  };
}
