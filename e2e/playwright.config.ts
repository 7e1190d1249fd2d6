import { defineConfig } from '@playwright/test'
import { chromiumArgs, findChromium } from '../scripts/chromium.mjs'

const executablePath = process.env.CHROMIUM_PATH || findChromium()

export default defineConfig({
  testDir: './tests',
  // Each test starts its own server; several tabs per test already keep both cores busy.
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: process.env.CI ? 1 : 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: process.env.CI ? [['list'], ['html', { open: 'never' }]] : 'list',
  use: {
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath,
      // Without these, Chromium keeps trying to reach Google's hosts, which this network refuses (STACK.md trap 10).
      args: [...chromiumArgs],
    },
  },
})
