/**
 * Graceful stop: SIGTERM or SIGINT asks the run to stop at the next safe
 * point (between pages, between windows); a load already in its transaction
 * commits or rolls back as a whole first. A second signal exits at once.
 */
export class RunStoppedError extends Error {
  override readonly name = 'RunStoppedError';
}

export class StopSignal {
  private signal: NodeJS.Signals | undefined;
  private readonly onSignal = (signal: NodeJS.Signals) => {
    if (this.signal) process.exit(130);
    this.signal = signal;
  };

  /**
   * `listen: false` for a job the scheduler runs: the scheduler owns the
   * process's signals and asks the job to stop (`request`) when it decides.
   */
  constructor(private readonly listen = true) {
    if (!listen) return;
    process.on('SIGTERM', this.onSignal);
    process.on('SIGINT', this.onSignal);
  }

  get requested(): boolean {
    return this.signal !== undefined;
  }

  request(signal: NodeJS.Signals): void {
    this.signal ??= signal;
  }

  throwIfRequested(): void {
    if (this.signal) throw new RunStoppedError(`stopped by ${this.signal}; state is consistent, re-run to continue`);
  }

  dispose(): void {
    if (!this.listen) return;
    process.off('SIGTERM', this.onSignal);
    process.off('SIGINT', this.onSignal);
  }
}
