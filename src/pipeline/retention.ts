import { existsSync, readdirSync, rmSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { DAY_MS, isoDay, startOfUtcDay } from '../util/dates.js';
import { UsageError } from '../util/errors.js';
import { pathInside } from '../util/safe-path.js';
import type { RetentionItem, WarehouseOperations } from '../warehouse/warehouse.js';
import { openWarehouse } from './open-warehouse.js';
import type { Session } from './session.js';

/** Younger data is inside reconcile's reach (7 days by default): deleting it would only have it loaded again. */
const MIN_AGE_MS = 7 * DAY_MS;
const FACT_TABLES = ['fact_ai_event', 'fact_policy_evaluation'];

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
function lakePartitionsBefore(lake: string, cutoffMs: number): string[] {
  const cutoff = isoDay(cutoffMs);
  return FACT_TABLES.flatMap((table) => {
    const dir = pathInside(lake, table);
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((name) => /^event_date=\d{4}-\d{2}-\d{2}$/.test(name) && name.slice('event_date='.length) < cutoff)
      .map((name) => pathInside(lake, table, name));
  });
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
      lakePartitions: lakePartitionsBefore(config.lake.path, cutoffMs),
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
    const lakePartitions = lakePartitionsBefore(config.lake.path, cutoffMs);
    for (const dir of lakePartitions) rmSync(dir, { recursive: true, force: true });
    session.logger.info(
      { cutoff: isoDay(cutoffMs), items: items.length, lakePartitions: lakePartitions.length },
      'retention applied',
    );
    return { cutoff: isoDay(cutoffMs), items, lakePartitions, applied: true };
  };
}
