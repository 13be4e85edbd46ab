/** DESIGN.md decision 6: `AETL_NOW` (ISO) overrides "now" for the CLI, simulator and scheduler. */
export function nowMs(env: NodeJS.ProcessEnv = process.env): number {
  const fixed = env.AETL_NOW;
  if (fixed) {
    const ms = Date.parse(fixed);
    if (Number.isNaN(ms)) throw new Error(`AETL_NOW is not an ISO timestamp: ${fixed}`);
    return ms;
  }
  return Date.now();
}
