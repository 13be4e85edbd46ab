import { surrogateKey } from '../contract/hash.js';
import { ConfigError } from '../util/errors.js';

/**
 * Slowly changing dimensions, type 2, planned in plain code so every
 * warehouse applies the same history (DESIGN.md decision 13):
 *
 * - A member's first version starts at 1900-01-01, so an inferred member
 *   keeps its key when reference data completes it.
 * - A reference row without `valid_from` states the member's current
 *   attributes: when they differ from the current version, that version is
 *   closed and a new one opens at the moment the change is first loaded.
 * - Rows with `valid_from` declare history: the first row is the first
 *   version, each later row opens a version at its `valid_from`.
 * - `valid_to` is exclusive; the surrogate key hashes `table|natural key|valid_from`.
 */
export const FIRST_VALID_FROM_MS = Date.UTC(1900, 0, 1);

export type Attributes = Record<string, string | null>;

export interface MemberVersion {
  key: bigint;
  natural: string;
  validFromMs: number;
  attributes: Attributes;
  inferred: boolean;
}

export interface ReferenceRow {
  natural: string;
  validFromMs: number | null;
  attributes: Attributes;
  /** `file line N`, for errors. */
  where: string;
}

export type VersionChange =
  { kind: 'insert'; version: MemberVersion } | { kind: 'update'; key: bigint; attributes: Attributes };

export function versionKey(table: string, natural: string, validFromMs: number): bigint {
  const from = validFromMs === FIRST_VALID_FROM_MS ? '1900-01-01' : new Date(validFromMs).toISOString();
  return surrogateKey(table, natural, from);
}

/** Decimal text compares by value (`0.0025` = `0.00250000`), everything else as text. */
function same(a: Attributes, b: Attributes): boolean {
  const norm = (v: string | null | undefined) =>
    v === null || v === undefined ? null : /^-?\d+\.\d+$/.test(v) ? v.replace(/\.?0+$/, '') : v;
  return Object.keys(a).every((k) => norm(a[k]) === norm(b[k]));
}

function planMember(
  table: string,
  natural: string,
  existing: MemberVersion[],
  rows: ReferenceRow[],
  nowMs: number,
): VersionChange[] {
  const sorted = [...rows].sort((x, y) => (x.validFromMs ?? -Infinity) - (y.validFromMs ?? -Infinity));
  const floating = sorted.filter((r) => r.validFromMs === null);
  if (floating.length > 1 || (floating.length === 1 && sorted.length > 1 && sorted[0] !== floating[0])) {
    throw new ConfigError(
      `${floating[1]?.where ?? floating[0]!.where}: only the first row of ${natural} may omit valid_from`,
    );
  }
  const insert = (validFromMs: number, attributes: Attributes): VersionChange => ({
    kind: 'insert',
    version: { key: versionKey(table, natural, validFromMs), natural, validFromMs, attributes, inferred: false },
  });
  const byStart = new Map(existing.map((v) => [v.validFromMs, v]));
  const current = existing.at(-1);

  // One row without valid_from: the member's attributes as of now.
  if (sorted.length === 1 && floating.length === 1) {
    const { attributes } = floating[0]!;
    if (!current) return [insert(FIRST_VALID_FROM_MS, attributes)];
    if (!current.inferred && same(current.attributes, attributes)) return [];
    // An inferred member is completed in place; so is a version this same instant opened.
    if (current.inferred || current.validFromMs >= nowMs) return [{ kind: 'update', key: current.key, attributes }];
    return [insert(nowMs, attributes)];
  }

  // Declared history: the first row is the first version, the others start at their valid_from.
  return sorted.flatMap((row, i) => {
    const validFromMs = i === 0 ? FIRST_VALID_FROM_MS : row.validFromMs!;
    const found = byStart.get(validFromMs);
    if (!found) return [insert(validFromMs, row.attributes)];
    return found.inferred || !same(found.attributes, row.attributes)
      ? [{ kind: 'update' as const, key: found.key, attributes: row.attributes }]
      : [];
  });
}

/** The inserts and in-place updates that bring a dimension's versions in line with its reference rows. */
export function planScd2(
  table: string,
  existing: MemberVersion[],
  rows: ReferenceRow[],
  nowMs: number,
): VersionChange[] {
  const versions = new Map<string, MemberVersion[]>();
  for (const v of [...existing].sort((a, b) => a.validFromMs - b.validFromMs)) {
    versions.set(v.natural, [...(versions.get(v.natural) ?? []), v]);
  }
  const byMember = new Map<string, ReferenceRow[]>();
  for (const row of rows) byMember.set(row.natural, [...(byMember.get(row.natural) ?? []), row]);
  return [...byMember].flatMap(([natural, memberRows]) =>
    planMember(table, natural, versions.get(natural) ?? [], memberRows, nowMs),
  );
}
