import { configVariable } from '../config/load.js';
import { describeOwner, LockHeldError } from '../state/lock.js';
import type { TimeWindow } from '../state/window.js';
import {
  ConfigError,
  CredentialRefusedError,
  isOutOfMemory,
  UnreadableFilesError,
  UsageError,
} from '../util/errors.js';

/**
 * What to run after a failure (issue 20, item 16), in one place: the CLI's
 * last stderr line, the run ledger (`etl_run.next_step`, shown by `status`
 * and `runs show`) and the JSON error object all take their text from here.
 */

/** How a run that ended without throwing failed, most serious first (as session.ts judges it). */
export type OutcomeFailure =
  | { kind: 'check_error' }
  | { kind: 'reject_rate' }
  | { kind: 'completeness'; window: TimeWindow; more: number }
  | { kind: 'checks_failed' };

const iso = (ms: number) => new Date(ms).toISOString();

/** A failed command left the state consistent: running it again resumes, nothing loads twice. */
const RESUME = 'the same command again: it resumes where the last commit left off';

/** The command that records a window's events as lost for good, so completeness stops blocking it. */
export function acceptLossCommand(window: TimeWindow): string {
  return `aetl accept-loss --from ${iso(window.startMs)} --to ${iso(window.endMs)} --reason TEXT`;
}

/** The next step after a run that finished with failing (or unrunnable) checks. */
export function nextStepForOutcome(failure: OutcomeFailure, runId: string): string {
  switch (failure.kind) {
    case 'check_error':
      return `aetl runs show ${runId} (which check could not run, and why), then aetl check once that is fixed`;
    case 'reject_rate':
      return `aetl rejects list --run ${runId} (what was rejected, and why); once the contract or config accepts them: aetl rejects replay --run ${runId}`;
    case 'completeness': {
      const more = failure.more > 0 ? ` (and ${failure.more} more window(s): aetl runs show ${runId})` : '';
      return `aetl reconcile if the source re-sends the missing events; if it lost them for good: ${acceptLossCommand(failure.window)}${more}`;
    }
    case 'checks_failed':
      return `aetl runs show ${runId} (the failing checks and their messages), or aetl report for the charts`;
  }
}

/** The credential's key, with the environment variable that fills it when the config names one. */
function credentialToFix(key: string): string {
  const variable = configVariable(key);
  return variable === undefined ? `${key} in the config` : `the environment variable ${variable} (${key})`;
}

/** The next step after an error a command threw; `command` is the command path, e.g. `rejects replay`. */
export function nextStepFor(error: unknown, command?: string): string {
  if (error instanceof CredentialRefusedError) {
    return `fix ${credentialToFix(error.configKey)}, then aetl doctor checks it without loading anything`;
  }
  if (error instanceof LockHeldError) {
    const holder = error.owner ? describeOwner(error.owner) : `the holder of ${error.path}`;
    return `re-run with --wait 10m to queue behind ${holder}, or with --skip-if-locked to exit 0 while it runs`;
  }
  if (error instanceof UnreadableFilesError) {
    return `repair or replace ${error.paths.join(', ')}, then aetl run (unreadable files stay out of the file ledger and are read again whole)`;
  }
  if (error instanceof UsageError) return `aetl ${command === undefined ? '' : `${command} `}--help`;
  if (error instanceof ConfigError) return 'fix the config as the message says, then aetl doctor checks it';
  // A package's rows did not fit the warehouse's pool (wide records: large metadata).
  if (isOutOfMemory(error)) {
    return `lower staging.package_bytes (a load package's text; wide records need smaller packages) or raise warehouse.memory_limit, then ${RESUME}`;
  }
  return `aetl doctor (config, source, warehouse, lake and lock), then ${RESUME}`;
}
