import { defineConfig } from 'vitest/config';

// End-to-end tests spawn `node dist/...` (built once by `npm test`), so they
// are slower than unit tests: give them room, and keep the fork count at the
// two cores CI has.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
    // The AWS SDK inside snowflake-sdk warns on Node 20 at import; it is not used (stages are local in tests).
    env: {
      NO_PROXY: '127.0.0.1,localhost',
      METADATA_SERVER_DETECTION: 'none',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
  },
});
