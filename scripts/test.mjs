#!/usr/bin/env node
// `npm test`: everything CI checks, in the order that fails fastest. Installs what the machine lacks when it
// can (Chromium from Debian packages), and otherwise says exactly what is missing.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { findChromium } from './chromium.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const scratch = mkdtempSync(join(tmpdir(), 'collab-test-'))
const env = {
  ...process.env,
  TURBO_TELEMETRY_DISABLED: '1',
  DO_NOT_TRACK: '1',
  // Chromium and turbo write under ~/.config and ~/.cache (STACK.md trap 11).
  XDG_CONFIG_HOME: join(scratch, 'config'),
  XDG_CACHE_HOME: join(scratch, 'cache'),
  CI: process.env.CI ?? '1',
}

function run(title, command, args) {
  console.log(`\n=== ${title}: ${command} ${args.join(' ')}`)
  const started = Date.now()
  const result = spawnSync(command, args, { cwd: root, env, stdio: 'inherit' })
  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  if (result.status !== 0) {
    console.error(`\n=== ${title} FAILED after ${seconds}s (exit ${result.status ?? result.signal})`)
    process.exit(result.status || 1)
  }
  console.log(`=== ${title} passed in ${seconds}s`)
}

function ensureChromium() {
  let chromium = findChromium()
  if (chromium) return chromium
  const canApt = process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')
  if (canApt) {
    console.log('Chromium is missing: installing it from Debian packages (apt-get install chromium, about 30 s)')
    const result = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    })
    if (result.status !== 0) spawnSync('apt-get', ['update'], { stdio: 'inherit' })
    if (result.status !== 0) spawnSync('apt-get', ['install', '-y', 'chromium'], { stdio: 'inherit' })
    chromium = findChromium()
  }
  if (!chromium) {
    console.error(
      [
        'The browser tests need Chromium and none was found.',
        'Install one of:',
        '  - Debian/Ubuntu: sudo apt-get install chromium   (provides /usr/bin/chromium)',
        "  - Playwright's own build: npx playwright install chromium",
        'or point CHROMIUM_PATH at a Chromium or Chrome binary, then run npm test again.',
      ].join('\n'),
    )
    process.exit(1)
  }
  return chromium
}

env.CHROMIUM_PATH = ensureChromium()
run('build', 'npx', ['turbo', 'run', 'build', '--output-logs=errors-only'])
run('lint', 'npx', ['biome', 'check', '.'])
run('typecheck', 'npx', ['turbo', 'run', 'typecheck', '--output-logs=errors-only'])
run('unit and integration tests', 'npx', ['turbo', 'run', 'test', '--concurrency=1', '--output-logs=new-only'])
run('browser tests', 'npm', ['run', 'test:e2e', '--workspace=@collab/e2e'])
console.log('\nAll tests passed.')
