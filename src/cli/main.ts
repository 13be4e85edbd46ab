#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { ConfigError, EXIT, UsageError, type ExitCode } from '../util/errors.js';
import { redact } from '../util/redact.js';
import { currentExitCode, resultPrinted, setExitCode } from './command-kit.js';
import { errorJson, errorKind, EXIT_OF_KIND, jsonText } from './json-output.js';
import { buildProgram } from './program.js';

/**
 * Whether `--json` was asked for, read from the command line itself: a usage error can stop
 * commander before it has parsed the option, and the failure still owes its one JSON object.
 */
function jsonWanted(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return argv.slice(2, end === -1 ? undefined : end).includes('--json');
}

function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof CommanderError && error.exitCode === 0) return EXIT.ok;
  return EXIT_OF_KIND[errorKind(error)];
}

const json = jsonWanted(process.argv);
// With --json, commander's own output (help, the version) is returned as the object's text: stdout holds one object.
let commanderText = '';
const program = buildProgram().configureOutput({
  writeErr: (text) => process.stderr.write(text),
  writeOut: (text) => (json ? (commanderText += text) : process.stdout.write(text)),
});

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
  const code = exitCodeFor(error);
  setExitCode(code);
  let nextStep: string | null = null;
  if (!(error instanceof CommanderError)) {
    const message = error instanceof Error ? error.message : String(error);
    const prefix = error instanceof ConfigError || error instanceof UsageError ? '' : 'error: ';
    // Loaded only on failure: it reads the config module, which `--version` and `--help` need not load.
    const { nextStepFor } = await import('../pipeline/next-step.js');
    nextStep = nextStepFor(error, commandPath);
    process.stderr.write(redact(`aetl: ${prefix}${message}\nnext: ${nextStep}\n`));
  }
  if (json && !resultPrinted()) {
    const result =
      code === EXIT.ok
        ? (error as CommanderError).code === 'commander.version'
          ? { version: commanderText.trim() }
          : { help: commanderText }
        : { error: { ...errorJson(error), ...(nextStep === null ? {} : { next_step: nextStep }) } };
    process.stdout.write(redact(jsonText(result, code)));
  }
}
process.exitCode = currentExitCode();
