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

  constructor() {
    process.on('SIGTERM', this.onSignal);
    process.on('SIGINT', this.onSignal);
  }

  get requested(): boolean {
    return this.signal !== undefined;
  }

  throwIfRequested(): void {
    if (this.signal) throw new RunStoppedError(`stopped by ${this.signal}; state is consistent, re-run to continue`);
  }

  dispose(): void {
    process.off('SIGTERM', this.onSignal);
    process.off('SIGINT', this.onSignal);
  }
}
