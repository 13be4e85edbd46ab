import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { registerSecret } from '../util/redact.js';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../util/errors.js';
import { configSchema, type Config } from './schema.js';

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replaces `${NAME}` / `${NAME:-default}` in every string value; a missing variable names its key path. */
function interpolateEnv(value: unknown, path: string[], file: string, env: NodeJS.ProcessEnv): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (_, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      throw new ConfigError(`${file}: ${path.join('.')}: environment variable ${name} is not set`);
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolateEnv(item, [...path, String(i)], file, env));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, interpolateEnv(item, [...path, key], file, env)]),
    );
  }
  return value;
}

function describeIssues(file: string, error: z.ZodError): string {
  const lines = error.issues.map((issue) => {
    const path = issue.path.join('.') || '(top level)';
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

export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new ConfigError(`${file}: not valid YAML: ${(error as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`${file}: expected a YAML mapping at the top level`);
  }
  const interpolated = interpolateEnv(raw, [], file, env);
  registerSecrets(interpolated, []);
  const parsed = configSchema.safeParse(interpolated);
  if (!parsed.success) throw new ConfigError(describeIssues(file, parsed.error));
  return resolvePaths(parsed.data, dirname(resolve(file)));
}

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  return parseConfig(text, file, env);
}
