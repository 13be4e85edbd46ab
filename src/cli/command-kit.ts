import { Command, InvalidArgumentError } from 'commander';
import { parseDuration } from '../config/duration.js';
import { discoverConfig } from '../config/discover.js';
import type { ConfigUse } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { Command as PipelineCommand, Session } from '../pipeline/session.js';
import type { Warehouse } from '../warehouse/warehouse.js';
import { nowMs } from '../util/clock.js';
import { parseCliInstant } from '../util/dates.js';
import { EXIT, UsageError, type ExitCode } from '../util/errors.js';
import { redact } from '../util/redact.js';
import { terminalProgress } from './progress.js';
import { formatRunSummary } from './summary.js';
import { jsonText, summaryJson } from './json-output.js';

/**
 * What every command's registration shares: the global options, printing
 * (always through the redaction layer), option parsers, the lock options and
 * running a pipeline command in a session. The process exit code is set here
 * and read once by main.ts. The logger, config loading (zod) and the pipeline
 * are imported when a command runs, so `--version` and `--help` load none of them.
 */

let exitCode: ExitCode = EXIT.ok;

export function setExitCode(code: ExitCode): void {
  exitCode = code;
}

export function currentExitCode(): ExitCode {
  return exitCode;
}

export interface GlobalOptions {
  /** `--config` or `AETL_CONFIG`; otherwise found in the working folder (`commandConfig`). */
  config?: string;
  logLevel: string;
  json?: boolean;
  quiet?: boolean;
}
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export async function context(command: Command): Promise<{ options: GlobalOptions; logger: Logger }> {
  const options = command.optsWithGlobals<GlobalOptions>();
  const { createLogger } = await import('../log/logger.js');
  return { options, logger: createLogger(options.logLevel) };
}

/** Commands that never read the source: its token may be unset for them (decision 23). */
export const WITHOUT_SOURCE: ConfigUse = { unused: ['source'] };

/** The config file a command uses (DESIGN.md decision 23), named in the log so no one wonders which. */
export function configFile(options: GlobalOptions, logger: Logger): string {
  const found = discoverConfig(options.config, process.env, process.cwd());
  logger.info({ config: found.file, found_by: found.how }, 'config');
  return found.file;
}

/** `context` plus the command's config, found and loaded, resolving only the secrets of the sections it uses. */
export async function configured(
  command: Command,
  use: ConfigUse = {},
): Promise<{ options: GlobalOptions; logger: Logger; config: Config }> {
  const { options, logger } = await context(command);
  const { loadConfig } = await import('../config/load.js');
  return { options, logger, config: loadConfig(configFile(options, logger), process.env, use) };
}

type Configured = Awaited<ReturnType<typeof configured>>;

/**
 * A command that reads the warehouse, never the source: its config, and the warehouse `open`ed
 * (by default read-only, so it works during a run: open-warehouse.ts), closed after `work`.
 */
export async function withWarehouse(
  command: Command,
  work: (context: Configured & { warehouse: Warehouse }) => Promise<void>,
  open?: (config: Config, logger: Logger) => Promise<Warehouse>,
): Promise<void> {
  const loaded = await configured(command, WITHOUT_SOURCE);
  const opener = open ?? (await import('../pipeline/open-warehouse.js')).openWarehouseForReading;
  const warehouse = await opener(loaded.config, loaded.logger);
  try {
    await work({ ...loaded, warehouse });
  } finally {
    await warehouse.close();
  }
}

let printed = false;

/** Whether a command printed its result: a failure after that goes to stderr only (`--json` prints one object). */
export function resultPrinted(): boolean {
  return printed;
}

/**
 * A command's result on stdout, always through the redaction layer: `human`, or with `--json`
 * the one object of the JSON contract (json-output.ts). Sets the exit code the result means.
 */
export function print(options: GlobalOptions, json: object, human: string, exitCode: ExitCode = EXIT.ok): void {
  setExitCode(exitCode);
  printed = true;
  process.stdout.write(redact(options.json ? jsonText(json, exitCode) : `${human}\n`));
}

export interface LockOptions {
  wait: number;
  skipIfLocked?: boolean;
}

export function positiveInt(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new InvalidArgumentError(`expected a positive whole number, got "${text}"`);
  return value;
}

export interface RangeOptions {
  from: number;
  to: number;
}

export function instantArg(text: string): number {
  const ms = parseCliInstant(text);
  if (ms === undefined)
    throw new InvalidArgumentError(`expected a date (2026-04-01) or an ISO timestamp, got "${text}"`);
  return ms;
}

export function rangeOf(opts: RangeOptions): { fromMs: number; toMs: number } {
  if (opts.from >= opts.to) throw new UsageError('--from must be before --to');
  return { fromMs: opts.from, toMs: opts.to };
}

export function durationArg(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new InvalidArgumentError(`expected a duration like 30s or 5m, got "${text}"`);
  return ms;
}

/** `--from` and `--to`, both required (backfill, replay, accept-loss); `start` names what `--from` is. */
export function withRequiredRange(command: Command, start: string, clipped = true): Command {
  return command
    .requiredOption('--from <instant>', `${start} (a date means UTC midnight)`, instantArg)
    .requiredOption('--to <instant>', `end, exclusive${clipped ? '; clipped to now − settle_delay' : ''}`, instantArg);
}

/** The lock options every loading command takes. */
export function withLockOptions(command: Command): Command {
  return command
    .option('--wait <duration>', 'wait up to this long for another run to release the lock', durationArg, 0)
    .option('--skip-if-locked', 'exit 0 without doing anything if another run holds the lock');
}

/** The session commands that pull from the source; the others run with its secrets unset. */
const READS_SOURCE: ReadonlySet<PipelineCommand> = new Set(['run', 'backfill', 'reconcile', 'replay']);

export async function runCommand(
  command: Command,
  name: PipelineCommand,
  lockOptions: LockOptions,
  work: (session: Session) => Promise<unknown>,
  /** The command's config when it read it already (to prepare its work): found and loaded once. */
  loaded?: Awaited<ReturnType<typeof configured>>,
): Promise<void> {
  const { options, logger, config } =
    loaded ?? (await configured(command, READS_SOURCE.has(name) ? {} : WITHOUT_SOURCE));
  const { runSession } = await import('../pipeline/session.js');
  const summary = await runSession(
    config,
    logger,
    nowMs(),
    {
      command: name,
      waitMs: lockOptions.wait,
      skipIfLocked: lockOptions.skipIfLocked ?? false,
      onProgress: options.json || options.quiet ? undefined : terminalProgress(),
    },
    work,
  );
  print(options, summaryJson(summary), formatRunSummary(summary), summary.exitCode);
  // The last line on stderr says what to run next (as an uncaught error's does, in main.ts).
  if (summary.nextStep !== null) process.stderr.write(redact(`next: ${summary.nextStep}\n`));
}
