/**
 * A test hook for crash tests: with `AETL_FAILPOINT=<name>` (or `<name>:<n>`
 * for the n-th pass) the process kills itself with SIGKILL when it reaches
 * that point, so tests can prove a re-run repairs a crash at any step.
 * Without the variable it does nothing.
 */
const spec = process.env.AETL_FAILPOINT;
const [target, nth] = spec ? spec.split(':') : [];
const wanted = Number(nth ?? 1);
let passes = 0;

export function failpoint(name: string): void {
  if (name !== target) return;
  passes++;
  if (passes === wanted) process.kill(process.pid, 'SIGKILL');
}
