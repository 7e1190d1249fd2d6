import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The faults are timing-sensitive (detection within seconds) and the storm test saturates both cores of the
    // CI machine: files run one at a time so that one fault's load cannot slow another's clock.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
})
