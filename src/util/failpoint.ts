/**
 * A test hook for crash tests: with `AETL_FAILPOINT=<name>` (or `<name>:<n>`
 * for the n-th pass) the process kills itself with SIGKILL when it reaches
 * that point, so tests can prove a re-run repairs a crash at any step.
 * With `AETL_FAILPOINT_SIGNAL=SIGSTOP` it stops itself there instead, as a
 * paused holder of the run lock would (until SIGCONT). Without the variable
 * it does nothing.
 */
const match = /^(.+?)(?::(\d+))?$/.exec(process.env.AETL_FAILPOINT ?? '');
const target = match?.[1];
const wanted = Number(match?.[2] ?? 1);
const signal = process.env.AETL_FAILPOINT_SIGNAL === 'SIGSTOP' ? 'SIGSTOP' : 'SIGKILL';
let passes = 0;

export function failpoint(name: string): void {
  if (name !== target) return;
  passes++;
  if (passes === wanted) process.kill(process.pid, signal);
}

/**
 * A test hook for the checks' own tests: with `AETL_FAULT=<name>` a component
 * misbehaves on purpose at that point (a record lost between reader and
 * load, an insert or a reject that goes missing), so a test can prove the
 * check meant to catch it fails. Without the variable it is never true.
 */
export function fault(name: string): boolean {
  return process.env.AETL_FAULT === name;
}
