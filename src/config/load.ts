import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { registerSecret } from '../util/redact.js';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../util/errors.js';
import { configSchema, type Config } from './schema.js';

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * The top-level sections a command never reads (DESIGN.md decision 23: a
 * secret is resolved only by a command that uses it): an unset variable there
 * is left as written, `${NAME}`, so e.g. `status` runs without the source token.
 */
export interface ConfigUse {
  unused?: readonly string[];
}

/** Where an unset variable was left as written: key path → variable. */
type Unresolved = Map<string, string>;

/**
 * Which environment variable filled each key of the config loaded last (key path → variable), so
 * a refused credential's next step names the variable to fix (pipeline/next-step.ts). A process
 * runs one config, so the last one loaded is the one in use.
 */
let variables = new Map<string, string>();

/** The environment variable the config in use reads `keyPath` from (e.g. `source.token`), if any. */
export function configVariable(keyPath: string): string | undefined {
  return variables.get(keyPath);
}

/** Replaces `${NAME}` / `${NAME:-default}` in every string value; a missing variable names its key path. */
function interpolateEnv(
  value: unknown,
  path: string[],
  file: string,
  env: NodeJS.ProcessEnv,
  left: Unresolved,
  use: ConfigUse,
  read: Map<string, string>,
): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (reference: string, name: string, fallback: string | undefined) => {
      read.set(path.join('.'), name);
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      if (use.unused?.includes(path[0]!)) {
        left.set(path.join('.'), name);
        return reference;
      }
      throw new ConfigError(`${file}: ${path.join('.')}: environment variable ${name} is not set`);
    });
  }
  const inner = (item: unknown, key: string) => interpolateEnv(item, [...path, key], file, env, left, use, read);
  if (Array.isArray(value)) return value.map((item, i) => inner(item, String(i)));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, inner(item, key)]));
  }
  return value;
}

function describeIssues(file: string, error: z.ZodError, left: Unresolved): string {
  const lines = error.issues.map((issue) => {
    const path = issue.path.join('.') || '(top level)';
    // A value left as `${NAME}` is invalid because its variable is unset: say that.
    const unset = left.get(path);
    if (unset !== undefined) return `  ${path}: environment variable ${unset} is not set`;
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((key) => (path === '(top level)' ? key : `${path}.${key}`));
      return `  ${keys.join(', ')}: unknown key`;
    }
    return `  ${path}: ${issue.message}`;
  });
  return `invalid config ${file}:\n${lines.join('\n')}`;
}

/** Relative paths in a config are relative to the config file, so cron and CI can run from anywhere. */
function resolvePaths(config: Config, baseDir: string): Config {
  const at = (path: string) => (isAbsolute(path) ? path : resolve(baseDir, path));
  const optional = (path: string | undefined) => (path === undefined ? undefined : at(path));
  return {
    ...config,
    source: { ...config.source, files: optional(config.source.files) },
    warehouse:
      config.warehouse.kind === 'duckdb'
        ? { ...config.warehouse, path: at(config.warehouse.path) }
        : config.warehouse.kind === 'snowflake'
          ? { ...config.warehouse, private_key_path: optional(config.warehouse.private_key_path) }
          : config.warehouse,
    lake: { ...config.lake, path: at(config.lake.path) },
    staging: { ...config.staging, path: at(config.staging.path) },
    metrics: { textfile: optional(config.metrics.textfile) },
    reference: {
      users: optional(config.reference.users),
      gateways: optional(config.reference.gateways),
      models: optional(config.reference.models),
    },
  };
}

/** Keys whose values are credentials; a webhook URL is one too (it is all a caller needs). */
const SECRET_KEY = /(^|_)(token|password|secret|passphrase|private_key|key)$/;

/** Registers every credential in the config with the redaction layer, before anything can print one. */
function registerSecrets(value: unknown, path: string[]): void {
  if (typeof value === 'string') {
    const key = path.at(-1) ?? '';
    if (SECRET_KEY.test(key) || path.join('.') === 'checks.alert.url') registerSecret(value);
    return;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) registerSecrets(item, [...path, key]);
  }
}

export function parseConfig(
  text: string,
  file: string,
  env: NodeJS.ProcessEnv = process.env,
  use: ConfigUse = {},
): Config {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new ConfigError(`${file}: not valid YAML: ${(error as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`${file}: expected a YAML mapping at the top level`);
  }
  const left: Unresolved = new Map();
  const read = new Map<string, string>();
  const interpolated = interpolateEnv(raw, [], file, env, left, use, read);
  registerSecrets(interpolated, []);
  const parsed = configSchema.safeParse(interpolated);
  if (!parsed.success) throw new ConfigError(describeIssues(file, parsed.error, left));
  variables = read;
  return resolvePaths(parsed.data, dirname(resolve(file)));
}

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env, use: ConfigUse = {}): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  return parseConfig(text, file, env, use);
}
