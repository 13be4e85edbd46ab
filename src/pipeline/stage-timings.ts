import type { RunStage, RunTimings } from '../warehouse/warehouse.js';

/**
 * Busy time per stage of one run, in ms. Stages overlap in time (the next
 * package is extracted while one loads), so they need not add up to the
 * run's duration: each says how long that stage kept the run busy.
 */
export class StageTimings {
  private readonly ms: RunTimings = { extract: 0, stage: 0, load: 0, checks: 0, lake: 0 };

  add(stage: RunStage, ms: number): void {
    this.ms[stage] += Math.max(0, Math.round(ms));
  }

  async time<T>(stage: RunStage, work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await work();
    } finally {
      this.add(stage, performance.now() - started);
    }
  }

  get totals(): RunTimings {
    return { ...this.ms };
  }
}
