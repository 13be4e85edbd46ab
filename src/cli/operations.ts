import type { Command } from 'commander';
import { osUserName } from '../util/os-user.js';
import { EXIT, UsageError } from '../util/errors.js';
import {
  configured,
  context,
  instantArg,
  positiveInt,
  print,
  rangeOf,
  runCommand,
  withLockOptions,
  withRequiredRange,
  withWarehouse,
  WITHOUT_SOURCE,
  type LockOptions,
  type RangeOptions,
} from './command-kit.js';
import type { JsonError } from './json-output.js';
import { confirm, setState } from './state.js';
import { formatRows } from './summary.js';
import { isoInstant } from '../util/dates.js';

/**
 * The day-2 commands (README, Operations): the pipeline's state, replays of
 * the source and of the quarantine, erasure, and the doctor.
 */
export function registerOperations(program: Command): void {
  const state = program.command('state').description("the pipeline's checkpoint and file ledger");
  state
    .command('show')
    .description('the checkpoint, the last window committed and how many files the ledger holds')
    .action((_: unknown, command: Command) =>
      withWarehouse(command, async ({ options, config, warehouse }) => {
        const pipeline = config.pipeline.name;
        const checkpoint = await warehouse.getCheckpoint(pipeline);
        const last = await warehouse.lastWindow(pipeline);
        const files = (await warehouse.loadedFiles(pipeline)).size;
        const shown = {
          pipeline,
          checkpoint: isoInstant(checkpoint),
          last_window: last && { from: new Date(last.fromMs).toISOString(), to: new Date(last.toMs).toISOString() },
          ledger_files: files,
        };
        print(options, shown, formatRows([shown]));
      }),
    );
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
    withRequiredRange(
      program
        .command('replay')
        .description('pull a range from the source again and load what is missing (never moves the checkpoint)'),
      'range start',
    ).option('--force-update', 'replace loaded events whose content changed (old and new hash go to etl_conflict)'),
  ).action(async (opts: LockOptions & RangeOptions & { forceUpdate?: boolean }, command: Command) => {
    const { replayRange } = await import('../pipeline/explicit.js');
    return runCommand(command, 'replay', opts, replayRange(rangeOf(opts), opts.forceUpdate ?? false));
  });

  const rejects = program.command('rejects').description('the quarantine (etl_rejected_event)');
  rejects
    .command('list')
    .description('quarantined records, newest first, with the field and reason they were rejected for')
    .option('--run <run-id>', 'only those one run quarantined')
    .option('--reason <text>', 'only those whose reasons contain this text')
    .option('--replayed', 'include the ones a replay has loaded since')
    .option('--limit <n>', 'at most this many', positiveInt, 100)
    .action((opts: { run?: string; reason?: string; replayed?: boolean; limit: number }, command: Command) =>
      withWarehouse(command, async ({ options, config, warehouse }) => {
        const filter = {
          runId: opts.run ?? null,
          reason: opts.reason ?? null,
          replayed: opts.replayed ?? false,
          limit: opts.limit,
        };
        const rows = await warehouse.listRejects(config.pipeline.name, filter);
        print(options, { rejects: rows }, rows.length === 0 ? '(no rejects)' : formatRows(rows));
      }),
    );
  withLockOptions(
    rejects
      .command('replay')
      .description('re-validate quarantined records with the current contract and config; load those that pass')
      .option('--run <run-id>', 'only the rejects of this run')
      .option('--all', 'every reject not replayed yet'),
  ).action(async (opts: LockOptions & { run?: string; all?: boolean }, command: Command) => {
    if ((opts.run === undefined) === (opts.all === undefined)) throw new UsageError('pass either --run ID or --all');
    const { replayRejects } = await import('../pipeline/replay-rejects.js');
    return runCommand(command, 'rejects-replay', opts, replayRejects(opts.run ?? null));
  });

  withLockOptions(
    withRequiredRange(
      program
        .command('accept-loss')
        .description('record that the source lost the events of a window for good, so completeness stops blocking it'),
      'start of the lost range',
      false,
    )
      .requiredOption('--reason <text>', 'why (kept in etl_accepted_loss and shown by status)')
      .option('--accepted-by <name>', 'who decided, for the record', osUserName()),
  ).action((opts: LockOptions & RangeOptions & { reason: string; acceptedBy: string }, command: Command) => {
    const range = rangeOf(opts);
    if (opts.reason.trim() === '') throw new UsageError('--reason must say why the loss is accepted');
    return runCommand(command, 'accept-loss', opts, async (session) => {
      const loss = { ...range, reason: opts.reason, acceptedBy: opts.acceptedBy };
      await session.warehouse.acceptLoss({
        ...loss,
        pipeline: session.config.pipeline.name,
        runId: session.runId,
        acceptedMs: session.nowMs,
      });
      return {
        from: new Date(range.fromMs).toISOString(),
        to: new Date(range.toMs).toISOString(),
        reason: opts.reason,
        accepted_by: opts.acceptedBy,
      };
    });
  });

  withLockOptions(
    program
      .command('forget')
      .description("erase one user's facts, policy rows, dimension rows and rejects from the warehouse and the lake")
      .requiredOption('--user <id>', 'the user id as the source sends it (its pseudonym is matched too)')
      .option('--requested-by <name>', 'who asked, for the etl_erasure audit row', osUserName())
      .option('--yes', 'do not ask'),
  ).action(async (opts: LockOptions & { user: string; requestedBy: string; yes?: boolean }, command: Command) => {
    const loaded = await configured(command, WITHOUT_SOURCE);
    const { prepareForget } = await import('../pipeline/forget.js');
    const forget = prepareForget(loaded.config, { userId: opts.user, requestedBy: opts.requestedBy });
    // The question leaves the id out: stderr may be collected with the logs.
    await confirm("erase the user's rows from the warehouse and the lake (this cannot be undone)", opts.yes ?? false);
    return runCommand(command, 'forget', opts, forget, loaded);
  });

  program
    .command('doctor')
    .description(
      'check config, source and token, clock, warehouse, lake and lock; changes nothing; exit 1 if one fails',
    )
    .action(async (_: unknown, command: Command) => {
      const { options, logger } = await context(command);
      const { doctor } = await import('./doctor.js');
      const report = await doctor(options, logger);
      const failed = report.checks.filter((c) => c.status === 'fail').map((c) => c.check);
      const error: JsonError | null = report.ok
        ? null
        : { kind: 'run_failed', message: `doctor check(s) failed: ${failed.join(', ')}` };
      print(options, { ...report, error }, formatRows(report.checks), report.ok ? EXIT.ok : EXIT.runFailed);
    });
}
