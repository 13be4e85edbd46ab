/**
 * Error classes that map to the CLI's exit codes (see DESIGN.md, decision 14).
 * Anything else that escapes a command is a run failure (exit 1).
 */
export class ConfigError extends Error {
  override readonly name: string = 'ConfigError';
}

/** The command line asks for something impossible (exit 2). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The run could not complete; state was left consistent (exit 1). */
export class RunFailedError extends Error {
  override readonly name = 'RunFailedError';
}

/**
 * The source or the warehouse refused our credential: retrying cannot help,
 * so it is a configuration error (exit 2, decision 14) and the orchestrator
 * does not retry it. The message names the credential's config key, never its value.
 */
export class CredentialRefusedError extends ConfigError {
  override readonly name: string = 'CredentialRefusedError';
  constructor(
    message: string,
    /** The config key that holds the refused credential, for the next step (pipeline/next-step.ts). */
    readonly configKey: string,
  ) {
    super(message);
  }
}

/** The source refused our token. */
export class SourceAuthError extends CredentialRefusedError {
  override readonly name = 'SourceAuthError';
}

/** Files the run could not read to their end: they stay out of the file ledger and are read whole next time. */
export class UnreadableFilesError extends RunFailedError {
  constructor(
    /** Each file's reason, naming the file. */
    reasons: string[],
    readonly paths: string[],
  ) {
    super(`${reasons.length} file(s) could not be read: ${reasons.join('; ')}`);
  }
}

export const EXIT = { ok: 0, runFailed: 1, usage: 2, checksFailed: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** DuckDB's words when a statement needs more than its pool (`warehouse.memory_limit`). */
export function isOutOfMemory(error: unknown): boolean {
  return error instanceof Error && error.message.includes('Out of Memory Error');
}
