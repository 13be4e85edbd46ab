// Runs one benchmark workload in this process and reports its own peak RSS and CPU time,
// so every scenario is measured alone: node bench/child.mjs <report.json> <module> [args...]
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const [report, module, ...args] = process.argv.slice(2);
const started = performance.now();
process.on('exit', (code) => {
  const usage = process.resourceUsage();
  writeFileSync(
    report,
    JSON.stringify({
      code,
      wallMs: performance.now() - started,
      peakRssMb: usage.maxRSS / 1024,
      cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000,
    }),
  );
});
// The workload reads its arguments from argv, as if it had been started directly.
process.argv = [process.argv[0], resolve(module), ...args];
await import(pathToFileURL(resolve(module)).href);
