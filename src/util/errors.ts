/**
 * Error classes that map to the CLI's exit codes (see DESIGN.md, decision 14).
 * Anything else that escapes a command is a run failure (exit 1).
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The command line asks for something impossible (exit 2). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The run could not complete; state was left consistent (exit 1). */
export class RunFailedError extends Error {
  override readonly name = 'RunFailedError';
}

/** The source refused our credentials: retrying cannot help. */
export class SourceAuthError extends Error {
  override readonly name = 'SourceAuthError';
}

export const EXIT = { ok: 0, runFailed: 1, usage: 2, checksFailed: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
