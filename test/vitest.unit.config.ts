import { defineConfig } from 'vitest/config';
import { shared } from './vitest.config.js';

// The unit tests alone (pure modules, no CLI, no dist/): what mutation testing drives.
export default defineConfig({
  test: {
    ...shared,
    maxWorkers: 2,
    include: ['test/unit/**/*.test.ts'],
    reporters: ['default'],
  },
});
