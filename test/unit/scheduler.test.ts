import cron from 'node-cron';
import { describe, expect, it } from 'vitest';
import { lastMissedFire, Scheduler, type JobSpec } from '../../src/schedule/scheduler.js';
import { ScheduleState } from '../../src/schedule/schedule-state.js';
import { createLogger } from '../../src/log/logger.js';

const at = (iso: string) => Date.parse(iso);
const task = (pattern: string) => cron.createTask(pattern, () => undefined, { timezone: 'UTC' });

describe('the scheduler', () => {
  it('finds the last fire missed between two instants, at minute or second resolution', () => {
    const hourly = task('0 * * * *');
    expect(lastMissedFire(hourly, at('2026-05-01T10:00:00Z'), at('2026-05-01T13:30:00Z'))).toBe(
      at('2026-05-01T13:00:00Z'),
    );
    expect(lastMissedFire(hourly, at('2026-05-01T13:00:00Z'), at('2026-05-01T13:59:59Z'))).toBeNull();
    const everyTenSeconds = task('*/10 * * * * *');
    expect(lastMissedFire(everyTenSeconds, at('2026-05-01T10:00:00Z'), at('2026-05-01T10:00:15Z'))).toBe(
      at('2026-05-01T10:00:10Z'),
    );
    // A rare pattern and a long gap: the scan gives up early and counts it as missed.
    const yearly = task('0 0 1 1 *');
    expect(lastMissedFire(yearly, at('2020-01-02T00:00:00Z'), at('2026-05-01T00:00:00Z'))).not.toBeNull();
  });

  it('refuses jitter as long as the time between fires (every fire would be dropped)', () => {
    const job: JobSpec = {
      name: 'incremental',
      cron: '*/15 * * * *',
      command: 'run',
      jitterMs: 15 * 60_000,
      catchUp: true,
    };
    const options = {
      jobs: [job],
      timezone: 'UTC',
      heartbeatMs: 60_000,
      stopTimeoutMs: 1000,
      state: new ScheduleState('/nonexistent/state.json'),
      logger: createLogger('silent'),
      runJob: async () => 0 as const,
    };
    expect(() => new Scheduler(options)).toThrow(/schedule\.jobs\.incremental\.jitter must be shorter/);
    expect(() => new Scheduler({ ...options, jobs: [{ ...job, jitterMs: 60_000 }] })).not.toThrow();
  });
});
