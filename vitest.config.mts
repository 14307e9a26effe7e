import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Worker processes, not threads: the native addon holds libtorch's process-wide state.
    pool: 'forks',
    // One file at a time: libtorch and the Python reference each use every core already. On 2
    // cores the three inference suites took 54 s one at a time and 78 s two at a time.
    fileParallelism: false,
    // MiniLM-L6 over dozens of 512-token pairs, plus the Python reference, takes tens of seconds
    // on 2 slow cores (more when the machine is busy).
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
