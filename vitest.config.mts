import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Worker processes, not threads: the native addon holds libtorch's process-wide state.
    pool: 'forks',
    // MiniLM-L6 over hundreds of 512-token pairs, plus the Python reference, takes tens of
    // seconds on 2 slow cores.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
