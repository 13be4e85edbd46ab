import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { runIncremental } from '../pipeline/incremental.js';
import { checkRange } from '../pipeline/post-load.js';
import { reconcile } from '../pipeline/reconcile.js';
import { runSession, type RunSummary, type Session } from '../pipeline/session.js';
import { nowMs } from '../util/clock.js';
import type { StopSignal } from '../util/stop.js';
import type { JobSpec } from './scheduler.js';
import { ScheduleState } from './schedule-state.js';

/** The configured jobs, in config order. */
export function jobSpecs(config: Config): JobSpec[] {
  return Object.entries(config.schedule.jobs).map(([name, job]) => ({
    name,
    cron: job.cron,
    command: job.command,
    days: job.days,
    jitterMs: job.jitter,
    catchUp: job.catch_up,
  }));
}

/** Where the scheduler remembers each job's last fire. */
export function scheduleState(config: Config): ScheduleState {
  return new ScheduleState(join(config.staging.path, `schedule-${config.pipeline.name}.json`));
}

/** The work a job's command does: the same functions the CLI's commands call. */
function work(job: JobSpec): (session: Session) => Promise<unknown> {
  switch (job.command) {
    case 'run':
      return runIncremental;
    case 'reconcile':
      return reconcile(job.days ?? 7);
    case 'check':
      return checkRange({});
  }
}

/**
 * Runs one job as the CLI runs its command: one session under the run lock
 * (another run holding it means this fire is skipped, exit 0), the warehouse
 * opened for the job and closed after it.
 */
export async function runJob(config: Config, logger: Logger, job: JobSpec, stop: StopSignal): Promise<RunSummary> {
  const jobLogger = logger.child({ job: job.name });
  const summary = await runSession(
    config,
    jobLogger,
    nowMs(),
    { command: job.command, waitMs: 0, skipIfLocked: true, stop },
    work(job),
  );
  jobLogger.info(
    {
      run_id: summary.runId,
      status: summary.status,
      exit_code: summary.exitCode,
      error: summary.error,
      inserted: summary.totals.inserted,
      checkpoint: summary.checkpoint,
    },
    summary.status === 'skipped' ? 'another run holds the lock: this fire is skipped' : `run ${summary.status}`,
  );
  return summary;
}
