import { configDefaults, defineConfig } from 'vitest/config';

/** Analyzes what the BigQuery stand-ins captured, so it runs after every other test file. */
const CAPTURED_SQL = 'test/zetasql/captured-bigquery-sql.test.ts';
/** One capture folder for the run's BigQuery stand-ins (made by whichever project starts first). */
const CAPTURE_SETUP = 'test/zetasql/capture-setup.ts';

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
      {
        test: {
          ...shared,
          name: 'suite',
          globalSetup: CAPTURE_SETUP,
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, CAPTURED_SQL],
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
