import { Command, InvalidArgumentError, Option } from 'commander';
import {
  outputPlan,
  QUERY_FORMATS,
  TERMINAL_ROWS,
  truncationNote,
  writeQuery,
  type QueryOutputOptions,
} from './query-output.js';
import type { ScheduleOptions } from './schedule.js';
import { nowMs } from '../util/clock.js';
import { UsageError } from '../util/errors.js';
import { redact } from '../util/redact.js';
import { formatDryRun, formatRetention, formatRunDetail, formatStatus } from './summary.js';
import { rejectsByField, runDetail } from '../pipeline/run-detail.js';
import { resolve } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { reportData } from '../report/report-data.js';
import { reportHtml } from '../report/report-html.js';
import { initProject, nextSteps } from './init.js';
import { lakeBytes } from '../lake/lake-size.js';
import { LockHeldError } from '../state/lock.js';
import { progressPath, readProgress } from '../state/run-progress.js';
import {
  configured,
  context,
  durationArg,
  instantArg,
  LOG_LEVELS,
  positiveInt,
  print,
  rangeOf,
  runCommand,
  setExitCode,
  withLockOptions,
  withRequiredRange,
  withWarehouse,
  WITHOUT_SOURCE,
  type LockOptions,
  type RangeOptions,
} from './command-kit.js';
import { registerOperations } from './operations.js';

/*
 * Each command imports the heavy modules it uses when it runs (`await import`): the DuckDB native
 * module, zod, the pipeline and the simulator cost about a second of CPU to load, which
 * `aetl --version`, `--help` and the light commands need not pay.
 */

/** The installed package's own version, read beside the built files (not from the working folder). */
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

function collectParam(text: string, all: Record<string, string>): Record<string, string> {
  const at = text.indexOf('=');
  if (at < 1) throw new InvalidArgumentError(`expected name=value, got "${text}"`);
  return { ...all, [text.slice(0, at)]: text.slice(at + 1) };
}

/** The whole command tree, actions included; main.ts runs it (tests parse with it, README commands). */
export function buildProgram(): Command {
  const program = new Command('aetl')
    .description('Batch ETL and warehouse loader for AI-gateway decision events')
    .version(version, '-V, --version', 'print the version of aetl')
    .option('-c, --config <file>', 'config file (YAML); else AETL_CONFIG, else ./aetl.yaml, else ./config/aetl.yaml')
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .option('--json', 'print machine-readable JSON on stdout')
    .option('-q, --quiet', 'no progress line on a terminal (log lines only)')
    .exitOverride();

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
      const { options, logger, config } = await configured(command);
      const range = opts.from === undefined ? null : rangeOf(opts as RangeOptions);
      const { dryRun } = await import('../pipeline/dry-run.js');
      try {
        const report = await dryRun(config, logger, nowMs(), range, opts.wait);
        print(options, report, formatDryRun(report));
      } catch (error) {
        if (!(error instanceof LockHeldError) || !opts.skipIfLocked) throw error;
        print(options, { skipped: true, reason: error.message }, `dry run skipped: ${error.message}`);
      }
      return;
    }
    const work =
      opts.from === undefined
        ? (await import('../pipeline/incremental.js')).runIncremental
        : (await import('../pipeline/explicit.js')).runExplicit(rangeOf(opts as RangeOptions));
    return runCommand(command, 'run', opts, work);
  });

  withLockOptions(
    withRequiredRange(
      program
        .command('backfill')
        .description('load a historical range in UTC day windows; never moves the checkpoint; resumable'),
      'first day',
    ).option('--parallel <n>', 'days extracted at once (one writer loads them in order)', positiveInt, 1),
  ).action(async (opts: LockOptions & RangeOptions & { parallel: number }, command: Command) => {
    const { backfill } = await import('../pipeline/explicit.js');
    return runCommand(command, 'backfill', opts, backfill(rangeOf(opts), opts.parallel));
  });

  withLockOptions(
    program
      .command('reconcile')
      .description('compare per-day source counts with the warehouse and re-pull the days that differ')
      .option('--days <n>', 'how many days back from now', positiveInt, 7),
  ).action(async (opts: LockOptions & { days: number }, command: Command) => {
    const { reconcile } = await import('../pipeline/reconcile.js');
    return runCommand(command, 'reconcile', opts, reconcile(opts.days));
  });

  withLockOptions(
    program
      .command('check')
      .description('run every data-quality check over a range (default: the 24 hours before now − settle_delay)')
      .option('--window', 'judge the window the pipeline loaded last')
      .option('--from <instant>', 'range start (a date means UTC midnight)', instantArg)
      .option('--to <instant>', 'range end, exclusive', instantArg)
      .option('--full', 'read every hour again, also those whose checks passed and whose facts have not changed since'),
  ).action(
    async (opts: LockOptions & Partial<RangeOptions> & { window?: boolean; full?: boolean }, command: Command) => {
      if (opts.window && (opts.from !== undefined || opts.to !== undefined)) {
        throw new UsageError('--window and --from/--to exclude each other');
      }
      const range =
        opts.from !== undefined && opts.to !== undefined
          ? rangeOf(opts as RangeOptions)
          : { fromMs: opts.from, toMs: opts.to };
      const { checkRange } = await import('../pipeline/post-load.js');
      return runCommand(command, 'check', opts, checkRange({ ...range, lastWindow: opts.window, full: opts.full }));
    },
  );

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
      .command('compact')
      .description('merge each lake partition holding several files into one; readers never see rows missing or twice'),
  ).action((opts: LockOptions, command: Command) =>
    runCommand(command, 'compact', opts, async (session) => {
      const { lakeSettings } = await import('../pipeline/open-warehouse.js');
      const { compactPartitions, crowdedPartitions } = await import('../lake/compact.js');
      const lake = lakeSettings(session.config);
      return { compacted: await compactPartitions(lake.path, lake.scratch, crowdedPartitions(lake.path, 1)) };
    }),
  );

  withLockOptions(
    program
      .command('retention')
      .description(
        'archive and delete fact partitions and ledger rows older than a duration (a dry run without --apply)',
      )
      .requiredOption('--older-than <duration>', 'e.g. 400d (at least 7d)', durationArg)
      .option('--archive <dir>', 'write what goes to Parquet under this folder first')
      .option('--apply', 'delete for real (without it, only print what would go)'),
  ).action(async (opts: LockOptions & { olderThan: number; archive?: string; apply?: boolean }, command: Command) => {
    const { applyRetention, checkRetentionAge, retentionPlan } = await import('../pipeline/retention.js');
    checkRetentionAge(opts.olderThan);
    const options = { olderThanMs: opts.olderThan, archiveDir: opts.archive ? resolve(opts.archive) : null };
    if (opts.apply) return runCommand(command, 'retention', opts, applyRetention(options));
    const { options: global, logger, config } = await configured(command, WITHOUT_SOURCE);
    const plan = await retentionPlan(config, logger, nowMs(), options);
    print(global, plan, formatRetention(plan));
  });

  program
    .command('status')
    .description('checkpoint, last runs, table row counts and the latest check results')
    .option('--runs <n>', 'how many recent runs to show', positiveInt, 10)
    .action((opts: { runs: number }, command: Command) =>
      withWarehouse(command, async ({ options, config, warehouse }) => {
        const report = await warehouse.status(config.pipeline.name, opts.runs);
        const extra = {
          // How far behind now the checkpoint is: the first number to look at when loads fall behind.
          lag_seconds: report.checkpoint === null ? null : Math.round((nowMs() - Date.parse(report.checkpoint)) / 1000),
          lake_bytes: lakeBytes(config.lake.path),
          // A DuckDB run under way holds the database: its progress comes from the file beside it.
          running: config.warehouse.kind === 'duckdb' ? readProgress(progressPath(config.warehouse.path)) : null,
          rejectsByField: await rejectsByField(warehouse, config.pipeline.name, null),
          accepted_losses: (await warehouse.acceptedLosses(config.pipeline.name)).map((loss) => ({
            from: new Date(loss.fromMs).toISOString(),
            to: new Date(loss.toMs).toISOString(),
            reason: loss.reason,
            accepted_by: loss.acceptedBy,
            run_id: loss.runId,
          })),
        };
        print(options, { ...report, ...extra }, formatStatus(report, extra));
      }),
    );

  program
    .command('schedule')
    .description('fire the jobs in the config (schedule.jobs) on their cron schedules until SIGTERM/SIGINT')
    .option('--list', 'print each job with its next fire times, then exit')
    .option('--once <job>', 'run one configured job now, as the scheduler would, and exit with its exit code')
    .action(async (opts: ScheduleOptions, command: Command) => {
      const { options, logger, config } = await configured(command);
      const { scheduleCommand } = await import('./schedule.js');
      setExitCode(
        await scheduleCommand(config, logger, opts, (json, human, code) => print(options, json, human, code)),
      );
    });

  const runs = program.command('runs').description('the run ledger');
  runs
    .command('show')
    .description("one run's full record: windows, counts, checks, rejects by field")
    .argument('<run-id>', 'as aetl status lists it')
    .action((runId: string, _: unknown, command: Command) =>
      withWarehouse(command, async ({ options, config, warehouse }) => {
        const detail = await runDetail(warehouse, config.pipeline.name, runId);
        print(options, detail, formatRunDetail(detail));
      }),
    );

  program
    .command('report')
    .description('write one self-contained HTML file with charts of volume, block rate, cost, latency, runs and checks')
    .option('--days <n>', 'how many days back from now', positiveInt, 30)
    .option('--out <file>', 'where to write it', 'report.html')
    .action((opts: { days: number; out: string }, command: Command) =>
      withWarehouse(command, async ({ options, config, warehouse }) => {
        const data = await reportData(warehouse, config.pipeline.name, opts.days, nowMs());
        const file = resolve(opts.out);
        writeFileSync(file, redact(reportHtml(data)));
        print(options, { file, checks: data.checks.length }, `report written to ${file}`);
      }),
    );

  program
    .command('init')
    .description('write a starter config and reference CSV templates into a folder (default: here)')
    .argument('[dir]', 'the folder', '.')
    .action(async (dir: string, _: unknown, command: Command) => {
      const { options } = await context(command);
      const written = initProject(dir);
      print(options, { written }, nextSteps(dir));
    });

  program
    .command('query')
    .description(
      'run an analyst query (a shipped one by name, or a SQL file) on the warehouse, any engine, or the lake',
    )
    .argument('<query>', "a shipped query (e.g. top_users_by_cost, in the warehouse's own dialect) or a SQL file")
    .option('-p, --param <name=value>', 'a parameter (repeatable)', collectParam, {})
    .option('--lake', 'query the Parquet lake instead of the warehouse')
    .addOption(
      new Option('--format <format>', 'table, csv (RFC 4180, a header row), jsonl, or json (as --json)').choices(
        QUERY_FORMATS,
      ),
    )
    .option('--limit <n>', `at most N rows (default: ${TERMINAL_ROWS} in a table on a terminal, else all)`, positiveInt)
    .option('--out <file>', 'write the rows to FILE (format from --format, else from .csv, .jsonl or .json)')
    .action(
      async (
        query: string,
        opts: QueryOutputOptions & { param: Record<string, string>; lake?: boolean },
        command: Command,
      ) => {
        const { options, config } = await configured(command, WITHOUT_SOURCE);
        const { runQuery } = await import('./query.js');
        const plan = outputPlan(opts, options.json ?? false, process.stdout.isTTY === true);
        const stream = runQuery(config, query, opts.param, opts.lake ?? false);
        const outcome = await writeQuery(stream, plan);
        if (outcome.truncated) process.stderr.write(truncationNote(outcome, plan));
        if (plan.out !== null) {
          const { query: name, engine, lake } = stream;
          const written = { query: name, engine, lake, out: plan.out, format: plan.format, row_count: outcome.rows };
          const human = `wrote ${outcome.rows.toLocaleString('en-US')} row(s) to ${plan.out} (${plan.format})`;
          print(options, { ...written, truncated: outcome.truncated }, human);
        }
      },
    );

  program
    .command('migrate')
    .description('apply pending warehouse migrations and exit')
    .action((_: unknown, command: Command) =>
      withWarehouse(
        command,
        async ({ options, warehouse }) => {
          const applied = await warehouse.migrate();
          print(options, { warehouse: warehouse.description, applied }, `${applied} migration(s) applied`);
        },
        // Connected without migrating, so that migrating is this command's own result.
        async (config, logger) => (await import('../pipeline/open-warehouse.js')).connectWarehouse(config, logger),
      ),
    );

  registerOperations(program);

  const simulate = program.command('simulate').description('the built-in event simulator');
  simulate
    .command('serve')
    .description('serve the simulated Events API on 127.0.0.1 until stopped')
    .option('--port <port>', 'port (0 = any free port)', (v) => Number.parseInt(v, 10), 8787)
    .option('--seed <seed>', 'seed (default: the config’s source.simulator.seed)', (v) => Number.parseInt(v, 10))
    .addOption(new Option('--token <token>', 'bearer token clients must send').env('AETL_SIMULATOR_TOKEN'))
    .action(async (opts: { port: number; seed?: number; token?: string }, command: Command) => {
      const { options, logger, config } = await configured(command);
      const { startSimulator } = await import('../simulator/simulator.js');
      const { loadReferenceData } = await import('../reference/reference-data.js');
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
  return program;
}
