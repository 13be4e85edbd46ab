import {
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  type Stats,
} from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fsyncPath, mkdirDurably, renameDurably } from '../util/durable-write.js';
import { failpoint } from '../util/failpoint.js';
import { pathInside } from '../util/safe-path.js';

/**
 * The lake on disk (DESIGN.md decision 2). A fact table's folder is a symlink
 * to one complete version of the table:
 *
 *   <lake>/fact_ai_event -> .versions/fact_ai_event/000003
 *   <lake>/.versions/fact_ai_event/000003/event_date=2026-05-01/<run id>-<seq>.parquet
 *
 * A package's file is added by one rename into the current version: it
 * appears whole or not at all. A change of several files at once (a
 * partition rewritten whole, compacted or removed) builds the next version
 * beside the current one, hard-linking every file it keeps, then renames a
 * new symlink over the table's: a reader globbing below `<lake>/<table>`
 * (DuckDB's `**` does not follow symlinks below its root, so the symlink is
 * the root) resolves the old version or the new one, never a mix. A
 * dimension stays one file, `<lake>/<dim>/data.parquet`, renamed over.
 */
export const FACT_TABLES = ['fact_ai_event', 'fact_policy_evaluation'];
/** The unpartitioned tables: each one file, `<lake>/<dim>/data.parquet`. */
export const DIMENSION_TABLES = ['dim_user', 'dim_gateway', 'dim_model', 'dim_policy', 'dim_date'];

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const PARTITION = /^event_date=(\d{4}-\d{2}-\d{2})$/;
const VERSION = /^\d{6}$/;
/** What a whole rewrite or a compaction leaves as a partition's only file. */
const WHOLE_FILE = 'data.parquet';
/** The files of a partition rewritten whole in several (a day too large to write at once), in their order. */
const wholeFileName = (index: number, count: number) =>
  count === 1 ? WHOLE_FILE : `data-${String(index + 1).padStart(4, '0')}.parquet`;

export function tmpDir(lake: string): string {
  return join(lake, '.tmp');
}

function versionsDir(lake: string, table: string): string {
  return pathInside(join(lake, '.versions'), table);
}

export function partitionName(eventDate: string): string {
  if (!DATE.test(eventDate)) throw new Error(`refusing lake partition ${eventDate}: not a date`);
  return `event_date=${eventDate}`;
}

function lstat(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/** Points `<lake>/<table>` at `version` by renaming a new symlink over it, durably. */
function point(lake: string, table: string, version: string): void {
  const link = join(tmpDir(lake), `${table}.link`);
  mkdirDurably(tmpDir(lake));
  rmSync(link, { force: true });
  symlinkSync(relative(lake, version), link);
  // A symlink cannot be opened to sync: syncing its folder makes it durable before it is renamed.
  fsyncPath(tmpDir(lake));
  renameSync(link, pathInside(lake, table));
  fsyncPath(lake);
}

/**
 * The real folder of the table's current version; the first version is made
 * on first use. A table folder from before versions (a real folder) becomes
 * version 1: the only moment a reader can find the table missing, once.
 */
function currentVersion(lake: string, table: string): string {
  const link = pathInside(lake, table);
  const found = lstat(link);
  if (found?.isSymbolicLink()) return resolve(lake, readlinkSync(link));
  const first = pathInside(versionsDir(lake, table), '000001');
  mkdirDurably(dirname(first));
  if (found?.isDirectory()) {
    rmSync(first, { recursive: true, force: true });
    renameSync(link, first);
  }
  mkdirDurably(first);
  point(lake, table, first);
  return first;
}

/** The dates of a folder's `event_date=...` entries, in order. */
export function datesIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => PARTITION.exec(name)?.[1])
    .filter((date): date is string => date !== undefined)
    .sort();
}

/** The dates of the table's partitions, in order (read through its folder: nothing is written). */
export function partitionDates(lake: string, table: string): string[] {
  return datesIn(pathInside(lake, table));
}

/** The Parquet files of one partition (paths through the table's folder), in name order. */
export function partitionFiles(lake: string, table: string, eventDate: string): string[] {
  const dir = join(pathInside(lake, table), partitionName(eventDate));
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith('.parquet'))
    .sort()
    .map((name) => join(dir, name));
}

/** A package's file: named by its batch, so publishing it again after a crash replaces it. */
export function packageFileName(runId: string, packageSeq: number): string {
  return `${runId}-${packageSeq}.parquet`;
}

/** Moves a finished file into the partition of the current version, durably (the partition is made if new). */
export function addFile(lake: string, table: string, eventDate: string, tmp: string, name: string): void {
  renameDurably(tmp, pathInside(currentVersion(lake, table), partitionName(eventDate), name));
}

/**
 * Replaces partitions of `table` all at once: each date maps to finished
 * files that become the partition's only files, or to null (the partition
 * goes). Crash-safe: until the symlink's rename the old version is current
 * and the half-built one is swept on the next call; after it, the old one is.
 */
export function replacePartitions(
  lake: string,
  table: string,
  changes: ReadonlyMap<string, readonly string[] | null>,
): void {
  const current = currentVersion(lake, table);
  const next = pathInside(dirname(current), String(Number(basename(current)) + 1).padStart(6, '0'));
  rmSync(next, { recursive: true, force: true });
  mkdirSync(next);
  for (const name of readdirSync(current)) {
    const date = PARTITION.exec(name)?.[1];
    if (date === undefined || changes.has(date)) continue;
    mkdirSync(join(next, name));
    for (const file of readdirSync(join(current, name))) linkSync(join(current, name, file), join(next, name, file));
    fsyncPath(join(next, name));
  }
  for (const [date, files] of changes) {
    files?.forEach((file, i) => renameDurably(file, join(next, partitionName(date), wholeFileName(i, files.length))));
  }
  fsyncPath(next);
  fsyncPath(dirname(next));
  failpoint('lake:before-swap');
  point(lake, table, next);
  failpoint('lake:after-swap');
  rmSync(current, { recursive: true, force: true });
}

/** Versions a crash left beside the current one (half built, or replaced but not yet removed). */
export function removeStaleVersions(lake: string): void {
  for (const table of FACT_TABLES) {
    const link = pathInside(lake, table);
    if (!lstat(link)?.isSymbolicLink()) continue;
    const current = basename(readlinkSync(link));
    const dir = versionsDir(lake, table);
    for (const name of existsSync(dir) ? readdirSync(dir) : []) {
      if (VERSION.test(name) && name !== current) rmSync(join(dir, name), { recursive: true, force: true });
    }
  }
}
