import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.tsx'],
    // A DOM for React and CodeMirror; the WebSocket comes from `ws`, against a real engine on a loopback port.
    environment: 'happy-dom',
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
})
