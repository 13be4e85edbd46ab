import { CommanderError } from 'commander';
import type { RunSummary } from '../pipeline/session.js';
import { LockHeldError } from '../state/lock.js';
import { ConfigError, CredentialRefusedError, EXIT, UsageError, type ExitCode } from '../util/errors.js';

/**
 * The one JSON contract of `--json` (DESIGN.md decision 24; its schema is
 * config/schemas/cli-output.schema.json): one object per command, snake_case
 * keys at every depth, instants as ISO-8601 UTC text, `exit_code` always and
 * an `error` object whenever it is not 0. Commands build their results with
 * the names the code uses; this is where they take the contract's.
 */

/** What went wrong, for scripts to branch on (each kind has one exit code, decision 14). */
export type ErrorKind = 'usage' | 'config' | 'credential_refused' | 'lock_held' | 'run_failed' | 'checks_failed';

export const EXIT_OF_KIND: Record<ErrorKind, ExitCode> = {
  usage: EXIT.usage,
  config: EXIT.usage,
  credential_refused: EXIT.usage,
  lock_held: EXIT.runFailed,
  run_failed: EXIT.runFailed,
  checks_failed: EXIT.checksFailed,
};

export interface JsonError {
  kind: ErrorKind;
  /** The error's class, when one was thrown (for a bug report; `kind` is what scripts read). */
  class?: string;
  message: string;
}

export function errorKind(error: unknown): ErrorKind {
  if (error instanceof CommanderError || error instanceof UsageError) return 'usage';
  if (error instanceof CredentialRefusedError) return 'credential_refused';
  if (error instanceof ConfigError) return 'config';
  if (error instanceof LockHeldError) return 'lock_held';
  return 'run_failed';
}

/** A thrown error as the contract's `error` object. */
export function errorJson(error: unknown): JsonError {
  if (!(error instanceof Error)) return { kind: 'run_failed', message: String(error) };
  // Commander's message when it printed the help of a command that was given no subcommand.
  const helpShown = error instanceof CommanderError && error.code === 'commander.help';
  const message = helpShown ? 'this command needs a subcommand (its help is on stderr)' : error.message;
  return { kind: errorKind(error), class: error.constructor.name, message };
}

/** A session's summary with its error (a message in the code) as the contract's object. */
export function summaryJson(summary: RunSummary): object {
  const kind: ErrorKind =
    summary.status === 'skipped'
      ? 'lock_held'
      : summary.exitCode === EXIT.checksFailed
        ? 'checks_failed'
        : 'run_failed';
  return { ...summary, error: summary.error === null ? null : { kind, message: summary.error } };
}

/** Keys that hold an instant as epoch milliseconds in the code, and the contract's name for them. */
const INSTANT_KEYS: Record<string, string> = {
  startMs: 'start',
  endMs: 'end',
  fromMs: 'from',
  toMs: 'to',
  bucket: 'bucket',
};

const snakeCase = (key: string) => key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();

/** A command's result with the contract's key names and instants, at every depth. */
export function jsonView(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(jsonView);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, v]) =>
      Object.hasOwn(INSTANT_KEYS, key) && typeof v === 'number'
        ? [INSTANT_KEYS[key], new Date(v).toISOString()]
        : [snakeCase(key), jsonView(v)],
    ),
  );
}

/** The text `--json` prints: the result's view with its exit code, on one object. */
export function jsonText(result: object, exitCode: ExitCode): string {
  return `${JSON.stringify({ ...(jsonView(result) as object), exit_code: exitCode }, null, 2)}\n`;
}
