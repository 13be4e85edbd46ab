import { rmSync } from 'node:fs';
import { isOutOfMemory } from '../../util/errors.js';
import type { Dialect } from '../dialect.js';
import { int, int64, text, type Driver, type SqlParams } from '../driver.js';
import { isFactTable, selectionSql, type RowSelection } from './sql-lake.js';

/**
 * Rows of a table that do not fit the engine's memory at once, read a slice
 * at a time. Values of tens of KB are the case (BENCHMARKS.md "Wide
 * records"): a DuckDB scan reads 2,048 of them at once (~120 MB at 60 KB)
 * whatever it filters on, unless the filter lets it skip rows by their
 * storage: a package's rows (stored together) or a range of positions.
 */

/** One slice of a selection: its extra predicate (on the alias `f`) and values. */
interface Slice {
  where: string;
  params: SqlParams;
  name: string;
}

/** `package_seq` of rows loaded before packages were numbered (migration 015): one slice per such run. */
const UNNUMBERED = -1;
/** Rows of a slice by position: at most 64 KiB of payload each (the quarantine's cap), so ≤ 4 MiB a slice. */
const POSITION_SLICE_ROWS = 64;

/** Rows `from` (inclusive) to `to` (exclusive) of a table by physical position. */
export interface PositionRange {
  from: number;
  to: number;
}

/**
 * The ranges of `POSITION_SLICE_ROWS` physical positions (DuckDB's rowid)
 * that hold rows of `rows` (alias `f`), in order: a range none of whose rows
 * the selection keeps is no statement (nor an empty file). Null where the
 * engine has no such position (it bounds a statement's memory itself).
 */
export async function positionRanges(
  driver: Driver,
  rows: Pick<RowSelection, 'table' | 'where' | 'params'>,
): Promise<PositionRange[] | null> {
  const position = driver.dialect.rowPosition('f');
  if (position === null) return null;
  const found = await driver.run(
    `sizing ${rows.table} to read it in slices`,
    `SELECT DISTINCT CAST(FLOOR(${position} / ${POSITION_SLICE_ROWS}) AS BIGINT) AS k FROM ${driver.dialect.table(rows.table)} f
WHERE ${rows.where}
ORDER BY k`,
    rows.params,
  );
  return found.map((row) => {
    const from = Number(int64(row.k)) * POSITION_SLICE_ROWS;
    return { from, to: from + POSITION_SLICE_ROWS };
  });
}

/**
 * Runs `read` over each range, in order; a range that runs out of memory is
 * read again as two halves (a single row is not split: its error stands).
 */
export async function eachRangeInHalves(
  ranges: readonly PositionRange[],
  read: (range: PositionRange) => Promise<void>,
): Promise<void> {
  const toRead = ranges.toReversed();
  for (let range = toRead.pop(); range !== undefined; range = toRead.pop()) {
    try {
      await read(range);
    } catch (error) {
      if (!isOutOfMemory(error) || range.to - range.from === 1) throw error;
      const middle = range.from + Math.floor((range.to - range.from) / 2);
      toRead.push({ from: middle, to: range.to }, { from: range.from, to: middle });
    }
  }
}

/** `count` rows from position 0 in ranges of `rows`. */
export function rangesOf(count: number, rows: number): PositionRange[] {
  const ranges: PositionRange[] = [];
  for (let from = 0; from < count; from += rows) ranges.push({ from, to: from + rows });
  return ranges;
}

/**
 * A predicate: the row `alias` is in `range`. Literal bounds, ours and
 * integers: DuckDB skips the rows outside them only for constants, not for
 * bound values.
 */
export function inPositionRange(d: Dialect, alias: string, range: PositionRange): string {
  const position = d.rowPosition(alias);
  if (position === null) throw new Error(`${d.name} has no row positions`);
  return `${position} >= ${Math.trunc(range.from)} AND ${position} < ${Math.trunc(range.to)}`;
}

/** A fact selection's slices: the packages that loaded its rows, each bounded by `staging.package_bytes` then. */
async function packageSlices(driver: Driver, rows: RowSelection): Promise<Slice[]> {
  const d = driver.dialect;
  const packageOf = `COALESCE(f.package_seq, ${UNNUMBERED})`;
  const packages = await driver.run(
    `listing the packages of ${rows.table}, too large to write at once`,
    // DISTINCT, not GROUP BY the COALESCE: ZetaSQL (BigQuery) refuses that grouping once ORDER BY follows.
    `SELECT DISTINCT f.run_id AS run_id, ${packageOf} AS package_seq FROM ${d.table(rows.table)} f
WHERE ${rows.where}
ORDER BY run_id, package_seq`,
    rows.params,
  );
  return packages.map((row) => {
    const runId = String(row.run_id);
    const packageSeq = Number(int64(row.package_seq));
    return {
      where: `f.run_id = ${d.param('slice_run_id')} AND ${packageOf} = ${d.param('slice_package_seq')}`,
      params: { slice_run_id: text(runId), slice_package_seq: int(packageSeq) },
      name: `package ${runId}-${packageSeq}`,
    };
  });
}

/**
 * Writes a selection as one Parquet file, or, when the engine runs out of
 * memory on it, as one file per slice: fact rows by the package that loaded
 * them, other tables by position (an engine without positions fails as it
 * did). Returns the files, in the order `nextFile` named them. Ordinary
 * selections keep one file; the lake compacts slices later, from Parquet,
 * which streams.
 */
export async function exportInSlices(
  driver: Driver,
  purpose: string,
  rows: RowSelection,
  nextFile: () => string,
): Promise<string[]> {
  const whole = nextFile();
  try {
    await driver.exportParquet(purpose, selectionSql(driver.dialect, rows), rows.params, rows.table, whole);
    return [whole];
  } catch (error) {
    if (!isOutOfMemory(error)) throw error;
    rmSync(whole, { force: true });
    const files: string[] = [];
    const write = async (slice: Slice) => {
      const file = nextFile();
      const one = { ...rows, where: `${rows.where} AND ${slice.where}`, params: { ...rows.params, ...slice.params } };
      try {
        await driver.exportParquet(
          `${purpose}, ${slice.name}`,
          selectionSql(driver.dialect, one),
          one.params,
          rows.table,
          file,
        );
      } catch (sliceError) {
        rmSync(file, { force: true });
        throw sliceError;
      }
      files.push(file);
    };
    if (isFactTable(rows.table)) {
      for (const slice of await packageSlices(driver, rows)) await write(slice);
      return files;
    }
    const ranges = await positionRanges(driver, rows);
    if (ranges === null) throw error;
    // Halved while a range does not fit, as the erasure's search of the quarantine is.
    await eachRangeInHalves(ranges, (range) =>
      write({ where: inPositionRange(driver.dialect, 'f', range), params: {}, name: `rows ${range.from}-${range.to}` }),
    );
    return files;
  }
}
