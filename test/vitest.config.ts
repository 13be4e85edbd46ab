import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { configDefaults, defineConfig } from 'vitest/config';

/** Analyzes what the BigQuery stand-ins captured, so it runs after every other test file. */
const CAPTURED_SQL = 'test/zetasql/captured-bigquery-sql.test.ts';
/** One capture folder for the run's BigQuery stand-ins (made by whichever project starts first). */
const CAPTURE_SETUP = 'test/zetasql/capture-setup.ts';
/**
 * End-to-end files that load a warehouse client in the test's own process (the Snowflake driver resets the
 * umask): each keeps a fresh worker, as the unit and integration files do.
 */
const ISOLATED_E2E = [
  'test/e2e/snowflake-live.test.ts',
  'test/e2e/bigquery-live.test.ts',
  'test/e2e/migrate-previous-schema.test.ts',
];
const SHARED_WORKER_E2E = readdirSync(join(import.meta.dirname, 'e2e'))
  .filter((name) => name.endsWith('.test.ts'))
  .map((name) => `test/e2e/${name}`)
  .filter((file) => !ISOLATED_E2E.includes(file));

// End-to-end tests spawn `node dist/...` (built once by `npm test`), so they
// are slower than unit tests: give them room.
export const shared = {
  testTimeout: 60_000,
  hookTimeout: 60_000,
  pool: 'forks' as const,
  // The AWS SDK inside snowflake-sdk warns on Node 20 at import; it is not used (stages are local in tests).
  env: {
    NO_PROXY: '127.0.0.1,localhost',
    METADATA_SERVER_DETECTION: 'none',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  },
};

export default defineConfig({
  test: {
    maxWorkers: 2, // the two cores CI has

    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
    projects: [
      // The end-to-end files drive the built CLI in child processes and change nothing of their worker's
      // process (no environment, umask, working folder, module mocks or fake timers), so one worker runs many
      // of them without a fresh process and module graph for each (about half a second of CPU a file).
      // Named to sort first: the long files start first, the short isolated ones fill the end.
      {
        test: {
          ...shared,
          name: 'e2e',
          globalSetup: CAPTURE_SETUP,
          include: SHARED_WORKER_E2E,
          isolate: false,
        },
      },
      {
        test: {
          ...shared,
          name: 'isolated',
          globalSetup: CAPTURE_SETUP,
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, CAPTURED_SQL, ...SHARED_WORKER_E2E],
        },
      },
      // A later group: it starts when every file of the suite has finished.
      {
        test: {
          ...shared,
          name: 'captured-sql',
          globalSetup: CAPTURE_SETUP,
          include: [CAPTURED_SQL],
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
