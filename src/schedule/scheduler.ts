import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../log/logger.js';
import { ConfigError, EXIT, type ExitCode } from '../util/errors.js';
import { StopSignal } from '../util/stop.js';
import type { ScheduleState } from './schedule-state.js';

/** One configured job: an ordinary command on a cron schedule. */
export interface JobSpec {
  name: string;
  cron: string;
  command: 'run' | 'reconcile' | 'check';
  /** reconcile: how many days back. */
  days?: number | undefined;
  /** Up to this long a random delay before each fire, so many pipelines do not hit the source at once. */
  jitterMs: number;
  /** After downtime, run once if any fire was missed (never once per missed fire). */
  catchUp: boolean;
}

export interface SchedulerOptions {
  jobs: JobSpec[];
  timezone: string;
  heartbeatMs: number;
  /** On SIGTERM, how long the running job may go on before it is asked to stop at its next safe point. */
  stopTimeoutMs: number;
  state: ScheduleState;
  logger: Logger;
  /** Runs one job through the CLI's own code path; `stop` asks it to stop at its next safe point. */
  runJob(job: JobSpec, stop: StopSignal): Promise<ExitCode>;
}

/** Scanning back for the last fire stops after this many steps (~2 s); a longer gap counts as missed. */
const MAX_SCAN_STEPS = 100_000;

/**
 * Whether the task's pattern fired in `(sinceMs, untilMs]`: scans back from
 * `untilMs` at minute (or, for six fields, second) resolution to the most
 * recent fire, which for usual schedules is close. Returns that fire, or null.
 */
export function lastMissedFire(task: ScheduledTask, sinceMs: number, untilMs: number): number | null {
  const step = task.getPattern().trim().split(/\s+/).length === 6 ? 1000 : 60_000;
  let steps = 0;
  for (let t = Math.floor(untilMs / step) * step; t > sinceMs; t -= step) {
    if (task.match(new Date(t))) return t;
    if (++steps > MAX_SCAN_STEPS) return t; // so long ago that something was surely missed
  }
  return null;
}

/** The shortest time between two of the task's next fires. */
function shortestInterval(task: ScheduledTask): number {
  const next = task.getNextRuns(4).map((d) => d.getTime());
  return Math.min(...next.slice(1).map((t, i) => t - next[i]!));
}

/**
 * The built-in scheduler (`aetl schedule`): node-cron fires each job; a fire
 * while the same job still runs is dropped (node-cron's `noOverlap`), other
 * jobs wait their turn (one job at a time, as the warehouse has one writer),
 * and every job takes the run lock like any command, so a manual run and a
 * scheduled one never overlap either.
 */
export class Scheduler {
  private readonly tasks = new Map<string, ScheduledTask>();
  private queue: Promise<void> = Promise.resolve();
  private current: { job: string; stop: StopSignal } | null = null;
  private stopping = false;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(private readonly options: SchedulerOptions) {
    const { logger } = options;
    const cronLogger = {
      info: (message: string) => logger.debug({ source: 'node-cron' }, message),
      warn: (message: string) => logger.warn({ source: 'node-cron' }, message),
      error: (message: string | Error) => logger.error({ source: 'node-cron' }, String(message)),
      debug: (message: string | Error) => logger.debug({ source: 'node-cron' }, String(message)),
    };
    for (const job of options.jobs) {
      const task = cron.createTask(job.cron, (context) => this.enqueue(job, 'scheduled', context.date.getTime()), {
        name: job.name,
        timezone: options.timezone,
        noOverlap: true,
        maxRandomDelay: job.jitterMs,
        // node-cron drops a fire whose timer ran late (default: by 1 s); a GC pause or a busy
        // machine must not cost a run, so a fire up to a minute late still runs.
        missedExecutionTolerance: 60_000,
        logger: cronLogger,
      });
      // A fire waiting out its jitter counts as running: jitter as long as the interval would drop fires.
      if (job.jitterMs > 0 && job.jitterMs >= shortestInterval(task)) {
        throw new ConfigError(
          `schedule.jobs.${job.name}.jitter must be shorter than the time between its fires (${job.cron})`,
        );
      }
      task.on('execution:overlap', () =>
        logger.warn({ job: job.name }, 'fire skipped: the previous run of this job is still going'),
      );
      this.tasks.set(job.name, task);
    }
  }

  /** Each job's next fire times, for `--list` and the heartbeat. */
  nextFires(count: number): { job: string; cron: string; command: string; next: string[] }[] {
    return this.options.jobs.map((job) => ({
      job: job.name,
      cron: job.cron,
      command: job.command,
      next: this.tasks
        .get(job.name)!
        .getNextRuns(count)
        .map((d) => d.toISOString()),
    }));
  }

  /** Starts firing; first runs, once each, the jobs that missed a fire while no scheduler ran. */
  async start(): Promise<void> {
    const { logger, state } = this.options;
    const now = Date.now();
    for (const job of this.options.jobs) {
      const last = state.lastFiredMs(job.name);
      if (!job.catchUp || last === undefined) continue;
      const missed = lastMissedFire(this.tasks.get(job.name)!, last, now);
      if (missed === null) continue;
      logger.info(
        { job: job.name, last_fired: new Date(last).toISOString(), missed: new Date(missed).toISOString() },
        'catching up: running once for the fires missed while the scheduler was down',
      );
      void this.enqueue(job, 'catch-up', now);
    }
    for (const task of this.tasks.values()) await task.start();
    this.heartbeat = setInterval(
      () => logger.info({ running: this.current?.job ?? null, jobs: this.nextFires(1) }, 'scheduler heartbeat'),
      this.options.heartbeatMs,
    );
    logger.info({ jobs: this.nextFires(1) }, 'scheduler started');
  }

  /**
   * One job at a time; a job queued when the scheduler stops does not start.
   * A fire is recorded once its job completed (exit 0, or 3: the data was
   * processed, a check failed), so a failed or stopped one is caught up after a restart.
   */
  private enqueue(job: JobSpec, reason: 'scheduled' | 'catch-up', firedMs: number): Promise<void> {
    const run = this.queue.then(async () => {
      if (this.stopping) return;
      const { logger, state } = this.options;
      const stop = new StopSignal(false);
      this.current = { job: job.name, stop };
      const started = performance.now();
      logger.info({ job: job.name, command: job.command, reason }, 'job started');
      let exitCode: ExitCode = EXIT.runFailed;
      try {
        exitCode = await this.options.runJob(job, stop);
        if (exitCode === EXIT.ok || exitCode === EXIT.checksFailed) state.recordFire(job.name, firedMs);
      } catch (error) {
        logger.error({ job: job.name, error: (error as Error).message }, 'job failed');
      } finally {
        this.current = null;
      }
      logger.info(
        { job: job.name, exit_code: exitCode, duration_ms: Math.round(performance.now() - started) },
        'job finished',
      );
    });
    // Whatever one job does, the next still runs: the queue itself never rejects.
    this.queue = run.catch(() => undefined);
    return this.queue;
  }

  /**
   * Graceful stop: no new fires; the running job may finish within the stop
   * timeout, then is asked to stop at its next safe point (its lock is
   * released either way). `now` skips the wait (a second signal).
   */
  async stop(now = false): Promise<void> {
    const { logger } = this.options;
    if (this.stopping) {
      this.current?.stop.request('SIGTERM');
      return;
    }
    this.stopping = true;
    clearInterval(this.heartbeat);
    for (const task of this.tasks.values()) await task.destroy();
    if (this.current) {
      logger.info(
        { job: this.current.job, timeout_ms: this.options.stopTimeoutMs },
        'stopping: letting the running job finish',
      );
    }
    const timer = setTimeout(() => this.current?.stop.request('SIGTERM'), now ? 0 : this.options.stopTimeoutMs);
    await this.queue;
    clearTimeout(timer);
    logger.info('scheduler stopped');
  }
}
