// Mutation testing of the pure modules, driven by the unit tests only: `npm run mutate`
// (not in CI: it takes long on two cores). Scores and surviving mutants: test/MUTATION.md.
// Paths are relative to the repository root, where npm runs it.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  // Only the unit test files that import a mutated module run (vitest's related files).
  vitest: { configFile: 'test/vitest.unit.config.ts', related: true },
  // Not the lock test: it spawns the built lock module 15 times and times out inside Stryker's
  // worker, and it exercises no mutated module.
  testFiles: ['test/unit/!(lock).test.ts'],
  coverageAnalysis: 'perTest',
  mutate: [
    'src/contract/*.ts',
    'src/state/window.ts',
    'src/checks/check-sql.ts',
    'src/checks/blocking.ts',
    'src/checks/anomaly.ts',
    'src/warehouse/sql/sql-load.ts',
  ],
  // The machine is shared: one or two sandboxes at a time.
  concurrency: 2,
  timeoutMS: 10_000,
  // Re-runs only mutants whose code or tests changed since the last run.
  incremental: true,
  incrementalFile: 'test-results/mutation/stryker-incremental.json',
  tempDirName: '.stryker-tmp',
  // dist/ stays in the sandbox: a unit test spawns the built lock module.
  ignorePatterns: ['data', 'coverage', 'test-results', 'bench/.work', 'bench/results.json'],
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'test-results/mutation/mutation.html' },
  jsonReporter: { fileName: 'test-results/mutation/mutation.json' },
  thresholds: { high: 80, low: 60, break: null },
};
