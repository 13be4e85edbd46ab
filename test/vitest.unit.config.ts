import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// The unit tests alone (pure modules, no CLI, no dist/): what mutation testing drives.
export default defineConfig({
  test: {
    ...base.test,
    include: ['test/unit/**/*.test.ts'],
    reporters: ['default'],
    outputFile: undefined,
  },
});
