/**
 * A test hook for crash tests: with `AETL_FAILPOINT=<name>` (or `<name>:<n>`
 * for the n-th pass) the process kills itself with SIGKILL when it reaches
 * that point, so tests can prove a re-run repairs a crash at any step.
 * Without the variable it does nothing.
 */
const match = /^(.+?)(?::(\d+))?$/.exec(process.env.AETL_FAILPOINT ?? '');
const target = match?.[1];
const wanted = Number(match?.[2] ?? 1);
let passes = 0;

export function failpoint(name: string): void {
  if (name !== target) return;
  passes++;
  if (passes === wanted) process.kill(process.pid, 'SIGKILL');
}
