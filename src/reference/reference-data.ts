import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { ConfigError } from '../util/errors.js';

/** Reference data for the dimensions, one CSV per dimension (see config/reference/). */
export interface UserRef {
  user_id: string;
  team: string | null;
  department: string | null;
  valid_from: string | null;
}
export interface GatewayRef {
  gateway_id: string;
  gateway_name: string | null;
  team: string | null;
  environment: string | null;
  region: string | null;
  valid_from: string | null;
}
export interface ModelRef {
  model: string;
  provider: string | null;
  input_price_per_1k: string | null;
  output_price_per_1k: string | null;
  valid_from: string | null;
}
export interface ReferenceData {
  users: UserRef[];
  gateways: GatewayRef[];
  models: ModelRef[];
}

function readCsv(path: string | undefined, what: string, required: readonly string[]): Record<string, string | null>[] {
  if (path === undefined) return [];
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(
      `reference.${what}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}); fix the path or remove the key`,
    );
  }
  const rows = parse(text, { columns: true, skip_empty_lines: true, trim: true, bom: true }) as Record<
    string,
    string
  >[];
  const header = rows[0] ? Object.keys(rows[0]) : [];
  const missing = rows.length > 0 ? required.filter((column) => !header.includes(column)) : [];
  if (missing.length > 0) throw new ConfigError(`reference.${what}: ${path} lacks column(s) ${missing.join(', ')}`);
  return rows.map((row, i) => {
    for (const column of required) {
      if (!row[column]) throw new ConfigError(`reference.${what}: ${path} line ${i + 2}: ${column} is empty`);
    }
    return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v === '' ? null : v]));
  });
}

export function loadReferenceData(paths: { users?: string; gateways?: string; models?: string }): ReferenceData {
  const pick = <T>(row: Record<string, string | null>, columns: readonly (keyof T)[]) =>
    Object.fromEntries(columns.map((c) => [c, row[c as string] ?? null])) as T;
  return {
    users: readCsv(paths.users, 'users', ['user_id']).map((r) =>
      pick<UserRef>(r, ['user_id', 'team', 'department', 'valid_from']),
    ),
    gateways: readCsv(paths.gateways, 'gateways', ['gateway_id']).map((r) =>
      pick<GatewayRef>(r, ['gateway_id', 'gateway_name', 'team', 'environment', 'region', 'valid_from']),
    ),
    models: readCsv(paths.models, 'models', ['model']).map((r) =>
      pick<ModelRef>(r, ['model', 'provider', 'input_price_per_1k', 'output_price_per_1k', 'valid_from']),
    ),
  };
}
