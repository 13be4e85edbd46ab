import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { jobSpecs, runJob, scheduleState } from '../schedule/jobs.js';
import { Scheduler } from '../schedule/scheduler.js';
import { ConfigError, EXIT, UsageError, type ExitCode } from '../util/errors.js';
import { StopSignal } from '../util/stop.js';
import { formatRows, formatRunSummary } from './summary.js';
import { summaryJson } from './json-output.js';

export interface ScheduleOptions {
  list?: boolean;
  once?: string;
}

type Print = (json: object, human: string, exitCode?: ExitCode) => void;

/**
 * `aetl schedule`: fire the configured jobs until SIGTERM/SIGINT (the first
 * stops scheduling and lets the running job finish within stop_timeout, a
 * second asks it to stop at its next safe point); `--list` prints the next
 * fire times; `--once <job>` runs one job now and exits with its exit code.
 * A third signal exits at once.
 */
export async function scheduleCommand(
  config: Config,
  logger: Logger,
  options: ScheduleOptions,
  print: Print,
): Promise<ExitCode> {
  if (options.list && options.once) throw new UsageError('--list and --once exclude each other');
  const jobs = jobSpecs(config);
  if (jobs.length === 0) throw new ConfigError('schedule.jobs: no job is configured');
  if (options.once !== undefined) {
    const job = jobs.find((j) => j.name === options.once);
    if (!job) {
      throw new UsageError(`no job "${options.once}" in schedule.jobs (jobs: ${jobs.map((j) => j.name).join(', ')})`);
    }
    const stop = new StopSignal();
    try {
      const summary = await runJob(config, logger, job, stop);
      print(summaryJson(summary), formatRunSummary(summary), summary.exitCode);
      return summary.exitCode;
    } finally {
      stop.dispose();
    }
  }
  const scheduler = new Scheduler({
    jobs,
    timezone: config.schedule.timezone,
    heartbeatMs: config.schedule.heartbeat,
    stopTimeoutMs: config.schedule.stop_timeout,
    state: scheduleState(config),
    logger,
    runJob: async (job, stop) => (await runJob(config, logger, job, stop)).exitCode,
  });
  if (options.list) {
    const fires = scheduler.nextFires(3);
    print({ jobs: fires }, formatRows(fires.map((f) => ({ ...f, next: f.next.join('  ') }))));
    return EXIT.ok;
  }
  await scheduler.start();
  await new Promise<void>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals >= 3) {
        // A job stuck short of a safe point: its lock names a dead process, which the next run takes over.
        logger.warn({ signal }, 'third signal: exiting at once');
        process.exit(130);
      }
      logger.info({ signal }, signals === 1 ? 'stopping the scheduler' : 'asking the running job to stop now');
      const stopped = scheduler.stop(signals > 1);
      if (signals === 1) void stopped.then(resolve);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  print({ stopped: true }, 'scheduler stopped');
  return EXIT.ok;
}
