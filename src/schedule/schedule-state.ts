import { readFileSync } from 'node:fs';
import { writeFileDurably } from '../util/durable-write.js';

/**
 * When each scheduled job last fired, kept in a small file beside the
 * staging folder so that a scheduler started after downtime knows what it
 * missed. Written atomically (write, then rename): a crash leaves the old
 * or the new file, never half of one.
 */
export class ScheduleState {
  private lastFired: Record<string, number>;

  constructor(private readonly file: string) {
    this.lastFired = ScheduleState.read(file);
  }

  private static read(file: string): Record<string, number> {
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as { last_fired?: Record<string, string> };
      return Object.fromEntries(Object.entries(parsed.last_fired ?? {}).map(([job, iso]) => [job, Date.parse(iso)]));
    } catch {
      return {}; // no file yet (first start) or unreadable: nothing is known to be missed
    }
  }

  lastFiredMs(job: string): number | undefined {
    const ms = this.lastFired[job];
    return ms === undefined || Number.isNaN(ms) ? undefined : ms;
  }

  recordFire(job: string, atMs: number): void {
    this.lastFired[job] = atMs;
    const lastFired = Object.fromEntries(
      Object.entries(this.lastFired).map(([name, ms]) => [name, new Date(ms).toISOString()]),
    );
    writeFileDurably(this.file, `${JSON.stringify({ last_fired: lastFired }, null, 2)}\n`);
  }
}
