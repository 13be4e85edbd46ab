import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import type { ReferenceRow } from '../transform/scd2.js';
import { parseCliInstant } from '../util/dates.js';
import { pseudonym, type PrivacyRules } from '../contract/privacy.js';
import { ConfigError } from '../util/errors.js';

/** Which CSV columns feed which dimension (see config/reference/). */
export const REFERENCE_DIMENSIONS = {
  users: { table: 'dim_user', key: 'user_key', natural: 'user_id', attributes: ['team', 'department'] },
  gateways: {
    table: 'dim_gateway',
    key: 'gateway_key',
    natural: 'gateway_id',
    attributes: ['gateway_name', 'team', 'environment', 'region'],
  },
  models: {
    table: 'dim_model',
    key: 'model_key',
    natural: 'model',
    attributes: ['provider', 'input_price_per_1k', 'output_price_per_1k'],
  },
} as const;

export type ReferenceKind = keyof typeof REFERENCE_DIMENSIONS;
/** One SCD2 dimension: its table, surrogate and natural key, and versioned attributes. */
export type Scd2Spec = (typeof REFERENCE_DIMENSIONS)[ReferenceKind];
export type ReferenceData = Record<ReferenceKind, ReferenceRow[]>;

const DECIMAL_COLUMNS = new Set(['input_price_per_1k', 'output_price_per_1k']);

function readCsv(path: string, kind: ReferenceKind): ReferenceRow[] {
  const spec = REFERENCE_DIMENSIONS[kind];
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(`reference.${kind}: cannot read ${path} (${code}); fix the path or remove the key`);
  }
  let rows: { record: Record<string, string>; info: { lines: number } }[];
  try {
    rows = parse(text, { columns: true, skip_empty_lines: true, trim: true, bom: true, info: true });
  } catch (error) {
    throw new ConfigError(`reference.${kind}: ${path} is not valid CSV: ${(error as Error).message}`);
  }
  const header = Object.keys(rows[0]?.record ?? {});
  if (rows.length > 0 && !header.includes(spec.natural)) {
    throw new ConfigError(`reference.${kind}: ${path} has no ${spec.natural} column`);
  }
  return rows.map(({ record: row, info }) => {
    const where = `${path} line ${info.lines}`;
    const natural = row[spec.natural];
    if (!natural) throw new ConfigError(`reference.${kind}: ${where}: ${spec.natural} is empty`);
    const attributes = Object.fromEntries(spec.attributes.map((c) => [c, row[c] ? row[c] : null]));
    for (const column of spec.attributes.filter((c) => DECIMAL_COLUMNS.has(c) && attributes[c] !== null)) {
      if (!/^\d+(\.\d+)?$/.test(attributes[column]!)) {
        throw new ConfigError(
          `reference.${kind}: ${where}: ${column} must be a decimal number, got "${attributes[column]}"`,
        );
      }
    }
    let validFromMs: number | null = null;
    if (row.valid_from) {
      const parsed = parseCliInstant(row.valid_from);
      if (parsed === undefined) {
        throw new ConfigError(
          `reference.${kind}: ${where}: valid_from must be a date or ISO timestamp, got "${row.valid_from}"`,
        );
      }
      validFromMs = parsed;
    }
    return { natural, validFromMs, attributes, where };
  });
}

export function loadReferenceData(paths: Partial<Record<ReferenceKind, string>>): ReferenceData {
  const read = (kind: ReferenceKind) => (paths[kind] === undefined ? [] : readCsv(paths[kind], kind));
  return { users: read('users'), gateways: read('gateways'), models: read('models') };
}

/** Reference data as the warehouse may hold it: users' natural keys pseudonymised when privacy asks. */
export function pseudonymizedReference(reference: ReferenceData, privacy: PrivacyRules): ReferenceData {
  const key = privacy.pseudonymKey;
  if (key === null) return reference;
  return { ...reference, users: reference.users.map((row) => ({ ...row, natural: pseudonym(key, row.natural) })) };
}
