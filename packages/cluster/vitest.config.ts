import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Failure tests kill servers and measure recoveries: one file at a time on a 2-core machine.
    fileParallelism: false,
    testTimeout: 90_000,
    // Installing Redis or PostgreSQL from Debian packages on a fresh machine takes a while.
    hookTimeout: 300_000,
  },
})
