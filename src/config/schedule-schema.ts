import cron from 'node-cron';
import { z } from 'zod';
import { duration } from './duration-schema.js';

/**
 * `schedule:` in the config: the jobs `aetl schedule` fires. Each job is an
 * ordinary command (`run`, `reconcile`, `check`) on a cron expression (five
 * fields, or six with seconds first), evaluated in `timezone`.
 */
const job = z
  .strictObject({
    cron: z.string().refine((text) => cron.validate(text), {
      message: 'expected a cron expression such as "*/15 * * * *" (or six fields, seconds first)',
    }),
    command: z.enum(['run', 'reconcile', 'check']),
    /** reconcile: how many days back from now. */
    days: z.int().min(1).max(400).optional(),
    /** Up to this long a random delay before each fire, so many pipelines do not hit the source at once. */
    jitter: duration.default(0),
    /** After downtime, run once if any fire was missed (never once per missed fire). */
    catch_up: z.boolean().default(true),
  })
  .superRefine((value, ctx) => {
    if (value.days !== undefined && value.command !== 'reconcile') {
      ctx.addIssue({ code: 'custom', path: ['days'], message: 'only for command: reconcile' });
    }
  });

const DEFAULT_JOBS = {
  incremental: { cron: '*/15 * * * *', command: 'run' },
  check: { cron: '5 * * * *', command: 'check' },
  reconcile: { cron: '30 2 * * *', command: 'reconcile', days: 7 },
} as const;

export const scheduleSchema = z.strictObject({
  timezone: z
    .string()
    .refine(
      (zone) => {
        try {
          new Intl.DateTimeFormat('en', { timeZone: zone });
          return true;
        } catch {
          return false;
        }
      },
      { message: 'expected an IANA time zone such as UTC or Europe/Berlin' },
    )
    .default('UTC'),
  /** How often the scheduler logs that it is alive and what fires next. */
  heartbeat: duration.default(5 * 60_000),
  /** On SIGTERM, how long the running job may go on before it is asked to stop at its next safe point. */
  stop_timeout: duration.default(5 * 60_000),
  jobs: z
    .record(z.string(), job)
    .superRefine((jobs, ctx) => {
      // A job name reaches log lines and the schedule state: plain names only.
      for (const name of Object.keys(jobs)) {
        if (!/^[a-z][a-z0-9_-]{0,62}$/.test(name)) {
          ctx.addIssue({ code: 'custom', path: [name], message: 'a job name is lower-case letters, digits, _ and -' });
        }
      }
    })
    .default(() => z.record(z.string(), job).parse(DEFAULT_JOBS)),
});
