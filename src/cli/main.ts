#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { ConfigError, EXIT, UsageError, type ExitCode } from '../util/errors.js';
import { redact } from '../util/redact.js';
import { currentExitCode, setExitCode } from './command-kit.js';
import { buildProgram } from './program.js';

const program = buildProgram();

function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  if (error instanceof ConfigError || error instanceof UsageError) return EXIT.usage;
  return EXIT.runFailed;
}

// A reader that goes away (`aetl query ... | head`) is not a failure: later output is dropped
// and the command ends as it would have, instead of dying on an unhandled EPIPE.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
});

/** The command being run, as its help names it (`rejects replay`), for the next step after an error. */
let commandPath: string | undefined;
program.hook('preAction', (_, action) => {
  const names: string[] = [];
  for (let at: Command | null = action; at !== null && at !== program; at = at.parent) names.unshift(at.name());
  commandPath = names.join(' ');
});

try {
  await program.parseAsync(process.argv);
} catch (error) {
  setExitCode(exitCodeFor(error));
  if (!(error instanceof CommanderError)) {
    const message = error instanceof Error ? error.message : String(error);
    const prefix = error instanceof ConfigError || error instanceof UsageError ? '' : 'error: ';
    // Loaded only on failure: it reads the config module, which `--version` and `--help` need not load.
    const { nextStepFor } = await import('../pipeline/next-step.js');
    process.stderr.write(redact(`aetl: ${prefix}${message}\nnext: ${nextStepFor(error, commandPath)}\n`));
  }
}
process.exitCode = currentExitCode();
