#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { loadConfig } from '../config/load.js';
import { createLogger, LOG_LEVELS, type Logger } from '../log/logger.js';
import { runIncremental } from '../pipeline/incremental.js';
import { reconcile } from '../pipeline/reconcile.js';
import { checkRange } from '../pipeline/post-load.js';
import { backfill, replayRange, runExplicit } from '../pipeline/explicit.js';
import { replayRejects } from '../pipeline/replay-rejects.js';
import { dryRun } from '../pipeline/dry-run.js';
import { parseCliInstant } from '../util/dates.js';
import { terminalProgress } from './progress.js';
import { runQuery } from './query.js';
import { scheduleCommand, type ScheduleOptions } from './schedule.js';
import { runSession, type Command as PipelineCommand, type Session, type SessionOptions } from '../pipeline/session.js';
import { parseDuration } from '../config/duration.js';
import { openWarehouse } from '../pipeline/open-warehouse.js';
import { loadReferenceData } from '../reference/reference-data.js';
import { startSimulator } from '../simulator/simulator.js';
import { nowMs } from '../util/clock.js';
import { ConfigError, EXIT, UsageError, type ExitCode } from '../util/errors.js';
import { redact } from '../util/redact.js';
import {
  formatDryRun,
  formatRetention,
  formatRows,
  formatRunDetail,
  formatRunSummary,
  formatStatus,
} from './summary.js';
import { runDetail } from '../pipeline/run-detail.js';
import { applyRetention, retentionPlan } from '../pipeline/retention.js';
import { osUserName, prepareForget } from '../pipeline/forget.js';
import { resolve } from 'node:path';
import { writeFileSync } from 'node:fs';
import { reportData } from '../report/report-data.js';
import { reportHtml } from '../report/report-html.js';
import { initProject, nextSteps } from './init.js';
import { confirm, setState } from './state.js';
import { lakeBytes } from '../lake/lake-size.js';
import { doctor } from './doctor.js';

interface GlobalOptions {
  config: string;
  logLevel: string;
  json?: boolean;
  quiet?: boolean;
}

const program = new Command('aetl')
  .description('Batch ETL and warehouse loader for AI-gateway decision events')
  .addOption(new Option('-c, --config <file>', 'config file (YAML)').env('AETL_CONFIG').default('config/aetl.yaml'))
  .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
  .option('--json', 'print machine-readable JSON on stdout')
  .option('-q, --quiet', 'no progress line on a terminal (log lines only)')
  .exitOverride()
  .configureOutput({ writeErr: (text) => process.stderr.write(text) });

function context(command: Command): { options: GlobalOptions; logger: Logger } {
  const options = command.optsWithGlobals<GlobalOptions>();
  return { options, logger: createLogger(options.logLevel) };
}

function print(options: GlobalOptions, json: unknown, human: string): void {
  process.stdout.write(redact(options.json ? `${JSON.stringify(json, null, 2)}\n` : `${human}\n`));
}

let exitCode: ExitCode = EXIT.ok;

interface LockOptions {
  wait: number;
  skipIfLocked?: boolean;
}

function positiveInt(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new InvalidArgumentError(`expected a positive whole number, got "${text}"`);
  return value;
}

interface RangeOptions {
  from: number;
  to: number;
}

function instantArg(text: string): number {
  const ms = parseCliInstant(text);
  if (ms === undefined)
    throw new InvalidArgumentError(`expected a date (2026-04-01) or an ISO timestamp, got "${text}"`);
  return ms;
}

function rangeOf(opts: RangeOptions): { fromMs: number; toMs: number } {
  if (opts.from >= opts.to) throw new UsageError('--from must be before --to');
  return { fromMs: opts.from, toMs: opts.to };
}

function collectParam(text: string, all: Record<string, string>): Record<string, string> {
  const at = text.indexOf('=');
  if (at < 1) throw new InvalidArgumentError(`expected name=value, got "${text}"`);
  return { ...all, [text.slice(0, at)]: text.slice(at + 1) };
}

function durationArg(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new InvalidArgumentError(`expected a duration like 30s or 5m, got "${text}"`);
  return ms;
}

/** The lock options every loading command takes. */
function withLockOptions(command: Command): Command {
  return command
    .option('--wait <duration>', 'wait up to this long for another run to release the lock', durationArg, 0)
    .option('--skip-if-locked', 'exit 0 without doing anything if another run holds the lock');
}

async function runCommand(
  command: Command,
  name: PipelineCommand,
  lockOptions: LockOptions,
  work: (session: Session) => Promise<unknown>,
  afterClose?: SessionOptions['afterClose'],
): Promise<void> {
  const { options, logger } = context(command);
  const config = loadConfig(options.config);
  const summary = await runSession(
    config,
    logger,
    nowMs(),
    {
      command: name,
      waitMs: lockOptions.wait,
      skipIfLocked: lockOptions.skipIfLocked ?? false,
      onProgress: options.json || options.quiet ? undefined : terminalProgress(),
      afterClose,
    },
    work,
  );
  print(options, summary, formatRunSummary(summary));
  exitCode = summary.exitCode;
}

withLockOptions(
  program
    .command('run')
    .description('load every new window (or file) up to now − settle_delay, then check it')
    .option('--from <instant>', 'explicit window start (a date means UTC midnight); needs --to', instantArg)
    .option('--to <instant>', 'explicit window end, exclusive; clipped to now − settle_delay', instantArg)
    .option('--dry-run', 'extract and validate, print what would load per table and day, write nothing'),
).action(async (opts: LockOptions & Partial<RangeOptions> & { dryRun?: boolean }, command: Command) => {
  if ((opts.from === undefined) !== (opts.to === undefined)) {
    throw new UsageError('--from and --to go together');
  }
  if (opts.dryRun) {
    const { options, logger } = context(command);
    const range = opts.from === undefined ? null : rangeOf(opts as RangeOptions);
    const report = await dryRun(loadConfig(options.config), logger, nowMs(), range, opts.wait);
    print(options, report, formatDryRun(report));
    return;
  }
  const work = opts.from === undefined ? runIncremental : runExplicit(rangeOf(opts as RangeOptions));
  return runCommand(command, 'run', opts, work);
});

withLockOptions(
  program
    .command('backfill')
    .description('load a historical range in UTC day windows; never moves the checkpoint; resumable')
    .requiredOption('--from <instant>', 'first day (a date means UTC midnight)', instantArg)
    .requiredOption('--to <instant>', 'end, exclusive; clipped to now − settle_delay', instantArg)
    .option('--parallel <n>', 'days extracted at once (one writer loads them in order)', positiveInt, 1),
).action((opts: LockOptions & RangeOptions & { parallel: number }, command: Command) =>
  runCommand(command, 'backfill', opts, backfill(rangeOf(opts), opts.parallel)),
);

withLockOptions(
  program
    .command('reconcile')
    .description('compare per-day source counts with the warehouse and re-pull the days that differ')
    .option('--days <n>', 'how many days back from now', positiveInt, 7),
).action((opts: LockOptions & { days: number }, command: Command) =>
  runCommand(command, 'reconcile', opts, reconcile(opts.days)),
);

withLockOptions(
  program
    .command('check')
    .description('run every data-quality check over a range (default: the 24 hours before now − settle_delay)')
    .option('--window', 'judge the window the pipeline loaded last')
    .option('--from <instant>', 'range start (a date means UTC midnight)', instantArg)
    .option('--to <instant>', 'range end, exclusive', instantArg),
).action((opts: LockOptions & Partial<RangeOptions> & { window?: boolean }, command: Command) => {
  if (opts.window && (opts.from !== undefined || opts.to !== undefined)) {
    throw new UsageError('--window and --from/--to exclude each other');
  }
  const range =
    opts.from !== undefined && opts.to !== undefined
      ? rangeOf(opts as RangeOptions)
      : { fromMs: opts.from, toMs: opts.to };
  return runCommand(command, 'check', opts, checkRange({ ...range, lastWindow: opts.window }));
});

withLockOptions(
  program
    .command('rebuild-dims')
    .description('re-point facts at the dimension versions valid at their event times (after adding history)'),
).action((opts: LockOptions, command: Command) =>
  runCommand(command, 'rebuild-dims', opts, async (session) => ({
    rekeyed: await session.warehouse.rebuildDimensions(session.config.pipeline.name, session.runId),
  })),
);

withLockOptions(
  program
    .command('retention')
    .description('archive and delete fact partitions and ledger rows older than a duration (a dry run without --apply)')
    .requiredOption('--older-than <duration>', 'e.g. 400d (at least 7d)', durationArg)
    .option('--archive <dir>', 'write what goes to Parquet under this folder first')
    .option('--apply', 'delete for real (without it, only print what would go)'),
).action(async (opts: LockOptions & { olderThan: number; archive?: string; apply?: boolean }, command: Command) => {
  const options = { olderThanMs: opts.olderThan, archiveDir: opts.archive ? resolve(opts.archive) : null };
  if (opts.apply) return runCommand(command, 'retention', opts, applyRetention(options));
  const { options: global, logger } = context(command);
  const plan = await retentionPlan(loadConfig(global.config), logger, nowMs(), options);
  print(global, plan, formatRetention(plan));
});

withLockOptions(
  program
    .command('forget')
    .description("erase one user's facts, policy rows, dimension rows and rejects from the warehouse and the lake")
    .requiredOption('--user <id>', 'the user id as the source sends it (its pseudonym is matched too)')
    .option('--requested-by <name>', 'who asked, for the etl_erasure audit row', osUserName())
    .option('--yes', 'do not ask'),
).action(async (opts: LockOptions & { user: string; requestedBy: string; yes?: boolean }, command: Command) => {
  const { options } = context(command);
  const forget = prepareForget(loadConfig(options.config), { userId: opts.user, requestedBy: opts.requestedBy });
  // The question leaves the id out: stderr may be collected with the logs.
  await confirm("erase the user's rows from the warehouse and the lake (this cannot be undone)", opts.yes ?? false);
  return runCommand(command, 'forget', opts, forget.work, forget.afterClose);
});

program
  .command('status')
  .description('checkpoint, last runs, table row counts and the latest check results')
  .option('--runs <n>', 'how many recent runs to show', positiveInt, 10)
  .action(async (opts: { runs: number }, command: Command) => {
    const { options, logger } = context(command);
    const config = loadConfig(options.config);
    const warehouse = await openWarehouse(config, logger);
    try {
      const report = await warehouse.status(config.pipeline.name, opts.runs);
      const extra = {
        // How far behind now the checkpoint is: the first number to look at when loads fall behind.
        lag_seconds: report.checkpoint === null ? null : Math.round((nowMs() - Date.parse(report.checkpoint)) / 1000),
        // On BigQuery and Snowflake the tables are the lake.
        lake_bytes: config.warehouse.kind === 'duckdb' ? lakeBytes(config.lake.path) : null,
      };
      print(options, { ...report, ...extra }, formatStatus(report, extra));
    } finally {
      await warehouse.close();
    }
  });

program
  .command('schedule')
  .description('fire the jobs in the config (schedule.jobs) on their cron schedules until SIGTERM/SIGINT')
  .option('--list', 'print each job with its next fire times, then exit')
  .option('--once <job>', 'run one configured job now, as the scheduler would, and exit with its exit code')
  .action(async (opts: ScheduleOptions, command: Command) => {
    const { options, logger } = context(command);
    exitCode = await scheduleCommand(loadConfig(options.config), logger, opts, (json, human) =>
      print(options, json, human),
    );
  });

const state = program.command('state').description("the pipeline's checkpoint and file ledger");
state
  .command('show')
  .description('the checkpoint, the last window committed and how many files the ledger holds')
  .action(async (_: unknown, command: Command) => {
    const { options, logger } = context(command);
    const config = loadConfig(options.config);
    const warehouse = await openWarehouse(config, logger);
    try {
      const pipeline = config.pipeline.name;
      const checkpoint = await warehouse.getCheckpoint(pipeline);
      const last = await warehouse.lastWindow(pipeline);
      const files = (await warehouse.loadedFiles(pipeline)).size;
      const shown = {
        pipeline,
        checkpoint: checkpoint === null ? null : new Date(checkpoint).toISOString(),
        last_window: last && { from: new Date(last.fromMs).toISOString(), to: new Date(last.toMs).toISOString() },
        ledger_files: files,
      };
      print(options, shown, formatRows([shown]));
    } finally {
      await warehouse.close();
    }
  });
withLockOptions(
  state
    .command('set-checkpoint')
    .description('move the checkpoint by hand (backwards re-reads that span; nothing loads twice)')
    .argument('<instant>', 'a date (UTC midnight) or an ISO timestamp', instantArg)
    .option('--yes', 'do not ask'),
).action(async (at: number, opts: LockOptions & { yes?: boolean }, command: Command) => {
  await confirm(`set the checkpoint to ${new Date(at).toISOString()}`, opts.yes ?? false);
  return runCommand(command, 'state', opts, setState(at, false));
});
withLockOptions(
  state
    .command('reset')
    .description('forget the checkpoint and the file ledger: the next run starts from window.initial_start')
    .option('--yes', 'do not ask'),
).action(async (opts: LockOptions & { yes?: boolean }, command: Command) => {
  await confirm('forget the checkpoint and the file ledger of this pipeline', opts.yes ?? false);
  return runCommand(command, 'state', opts, setState(null, true));
});

withLockOptions(
  program
    .command('replay')
    .description('pull a range from the source again and load what is missing (never moves the checkpoint)')
    .requiredOption('--from <instant>', 'range start (a date means UTC midnight)', instantArg)
    .requiredOption('--to <instant>', 'range end, exclusive; clipped to now − settle_delay', instantArg)
    .option('--force-update', 'replace loaded events whose content changed (old and new hash go to etl_conflict)'),
).action((opts: LockOptions & RangeOptions & { forceUpdate?: boolean }, command: Command) =>
  runCommand(command, 'replay', opts, replayRange(rangeOf(opts), opts.forceUpdate ?? false)),
);

const rejects = program.command('rejects').description('the quarantine (etl_rejected_event)');
rejects
  .command('list')
  .description('quarantined records, newest first, with the field and reason they were rejected for')
  .option('--run <run-id>', 'only those one run quarantined')
  .option('--reason <text>', 'only those whose reasons contain this text')
  .option('--replayed', 'include the ones a replay has loaded since')
  .option('--limit <n>', 'at most this many', positiveInt, 100)
  .action(async (opts: { run?: string; reason?: string; replayed?: boolean; limit: number }, command: Command) => {
    const { options, logger } = context(command);
    const config = loadConfig(options.config);
    const warehouse = await openWarehouse(config, logger);
    try {
      const filter = {
        runId: opts.run ?? null,
        reason: opts.reason ?? null,
        replayed: opts.replayed ?? false,
        limit: opts.limit,
      };
      const rows = await warehouse.listRejects(config.pipeline.name, filter);
      print(options, rows, rows.length === 0 ? '(no rejects)' : formatRows(rows));
    } finally {
      await warehouse.close();
    }
  });
withLockOptions(
  rejects
    .command('replay')
    .description('re-validate quarantined records with the current contract and config; load those that pass')
    .option('--run <run-id>', 'only the rejects of this run')
    .option('--all', 'every reject not replayed yet'),
).action((opts: LockOptions & { run?: string; all?: boolean }, command: Command) => {
  if ((opts.run === undefined) === (opts.all === undefined)) throw new UsageError('pass either --run ID or --all');
  return runCommand(command, 'rejects-replay', opts, replayRejects(opts.run ?? null));
});

const runs = program.command('runs').description('the run ledger');
runs
  .command('show')
  .description("one run's full record: windows, counts, checks, rejects by field")
  .argument('<run-id>', 'as aetl status lists it')
  .action(async (runId: string, _: unknown, command: Command) => {
    const { options, logger } = context(command);
    const config = loadConfig(options.config);
    const warehouse = await openWarehouse(config, logger);
    try {
      const detail = await runDetail(warehouse, config.pipeline.name, runId);
      print(options, detail, formatRunDetail(detail));
    } finally {
      await warehouse.close();
    }
  });

program
  .command('report')
  .description('write one self-contained HTML file with charts of volume, block rate, cost, latency, runs and checks')
  .option('--days <n>', 'how many days back from now', positiveInt, 30)
  .option('--out <file>', 'where to write it', 'report.html')
  .action(async (opts: { days: number; out: string }, command: Command) => {
    const { options, logger } = context(command);
    const config = loadConfig(options.config);
    const warehouse = await openWarehouse(config, logger);
    try {
      const data = await reportData(warehouse, config.pipeline.name, opts.days, nowMs());
      const file = resolve(opts.out);
      writeFileSync(file, redact(reportHtml(data)));
      print(options, { file, checks: data.checks.length }, `report written to ${file}`);
    } finally {
      await warehouse.close();
    }
  });

program
  .command('init')
  .description('write a starter config and reference CSV templates into a folder (default: here)')
  .argument('[dir]', 'the folder', '.')
  .action((dir: string, _: unknown, command: Command) => {
    const { options } = context(command);
    const written = initProject(dir);
    print(options, { written }, nextSteps(dir));
  });

program
  .command('query')
  .description('run an analyst query file (e.g. sql/duckdb/queries/*.sql) against the warehouse or the lake')
  .argument('<file>', 'SQL file with named $parameters')
  .option('-p, --param <name=value>', 'a parameter (repeatable)', collectParam, {})
  .option('--lake', 'query the Parquet lake instead of the warehouse')
  .action(async (file: string, opts: { param: Record<string, string>; lake?: boolean }, command: Command) => {
    const { options } = context(command);
    const rows = await runQuery(loadConfig(options.config), file, opts.param, opts.lake ?? false);
    print(options, rows, rows.length === 0 ? '(no rows)' : formatRows(rows));
  });

program
  .command('migrate')
  .description('apply pending warehouse migrations and exit')
  .action(async (_: unknown, command: Command) => {
    const { options, logger } = context(command);
    const warehouse = await openWarehouse(loadConfig(options.config), logger);
    await warehouse.close();
  });

program
  .command('doctor')
  .description('check config, source and token, clock, warehouse, lake and lock; changes nothing; exit 1 if one fails')
  .action(async (_: unknown, command: Command) => {
    const { options, logger } = context(command);
    const report = await doctor(options.config, logger);
    print(options, report, formatRows(report.checks));
    exitCode = report.ok ? EXIT.ok : EXIT.runFailed;
  });

const simulate = program.command('simulate').description('the built-in event simulator');
simulate
  .command('serve')
  .description('serve the simulated Events API on 127.0.0.1 until stopped')
  .option('--port <port>', 'port (0 = any free port)', (v) => Number.parseInt(v, 10), 8787)
  .option('--seed <seed>', 'seed (default: the config’s source.simulator.seed)', (v) => Number.parseInt(v, 10))
  .addOption(new Option('--token <token>', 'bearer token clients must send').env('AETL_SIMULATOR_TOKEN'))
  .action(async (opts: { port: number; seed?: number; token?: string }, command: Command) => {
    const { options, logger } = context(command);
    const config = loadConfig(options.config);
    const settings = { ...config.source.simulator, ...(opts.seed === undefined ? {} : { seed: opts.seed }) };
    const simulator = await startSimulator(settings, loadReferenceData(config.reference), () => nowMs(), {
      port: opts.port,
      token: opts.token,
    });
    print(
      options,
      { url: simulator.url, token: simulator.token, seed: settings.seed },
      `simulator listening on ${simulator.url} (seed ${settings.seed})\ntoken: ${simulator.token}`,
    );
    logger.info({ url: simulator.url }, 'simulator serving; stop with Ctrl-C');
    await new Promise<void>((resolve) => {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve());
    });
    await simulator.close();
  });

function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  if (error instanceof ConfigError || error instanceof UsageError) return EXIT.usage;
  return EXIT.runFailed;
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  exitCode = exitCodeFor(error);
  if (!(error instanceof CommanderError)) {
    const message = error instanceof Error ? error.message : String(error);
    const prefix = error instanceof ConfigError || error instanceof UsageError ? '' : 'error: ';
    process.stderr.write(redact(`aetl: ${prefix}${message}\n`));
  }
}
process.exitCode = exitCode;
