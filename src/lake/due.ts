import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fsyncPath, mkdirDurably } from '../util/durable-write.js';
import { pathInside } from '../util/safe-path.js';
import type { PartitionRef } from './compact.js';
import { datesIn, FACT_TABLES, partitionName } from './layout.js';

/*
 * The partitions a package file was added to since a command's end last
 * checked them, as empty files `<lake>/.due/<table>/event_date=<date>`: what
 * that check reads instead of listing every partition of the lake, and what
 * a command killed before its end leaves for the next one.
 */

function dueDir(lake: string, table: string): string {
  return pathInside(join(lake, '.due'), table);
}

/** Marks the partition durably, before a file is added to it: a crash after the add finds the mark. */
export function markDue(lake: string, { table, eventDate }: PartitionRef): void {
  const dir = dueDir(lake, table);
  const mark = join(dir, partitionName(eventDate));
  if (existsSync(mark)) return;
  mkdirDurably(dir);
  writeFileSync(mark, '');
  fsyncPath(dir);
}

export function duePartitions(lake: string): PartitionRef[] {
  return FACT_TABLES.flatMap((table) => datesIn(dueDir(lake, table)).map((eventDate) => ({ table, eventDate })));
}

/** Drops the marks once checked (a mark a crash leaves only means the partition is checked again). */
export function clearDue(lake: string, partitions: readonly PartitionRef[]): void {
  for (const { table, eventDate } of partitions) {
    rmSync(join(dueDir(lake, table), partitionName(eventDate)), { force: true });
  }
}
