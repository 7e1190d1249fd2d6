#!/usr/bin/env node
// `npm test`: everything CI checks, in the order that fails fastest. Installs what the machine lacks when it
// can (Chromium and nginx from Debian packages), and otherwise says exactly what is missing.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { aptInstall, canAptInstall } from './apt.mjs'
import { findChromium } from './chromium.mjs'
import { findNginx } from './nginx.mjs'

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

// Shared with @collab/test-services through apt.mjs; a failed install shows as the program still missing below.
const canApt = canAptInstall()

function ensureChromium() {
  let chromium = findChromium()
  if (chromium) return chromium
  if (canApt) {
    console.log('Chromium is missing: installing it from Debian packages (apt-get install chromium, about 30 s)')
    aptInstall(['chromium'])
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

/** nginx runs in front of the server in e2e/tests/nginx.spec.ts, with docker/nginx.conf. */
function ensureNginx() {
  let nginx = findNginx()
  if (nginx) return nginx
  if (canApt) {
    console.log('nginx is missing: installing it from Debian packages (apt-get install nginx)')
    // The package would start a system nginx on port 80; the test starts its own on a free loopback port. A
    // policy-rc.d that exits 101 is Debian's way to tell package scripts not to start services.
    const policy = '/usr/sbin/policy-rc.d'
    const ownPolicy = !existsSync(policy)
    if (ownPolicy) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 })
    try {
      aptInstall(['nginx'])
    } finally {
      if (ownPolicy) rmSync(policy, { force: true })
    }
    nginx = findNginx()
  }
  if (!nginx) {
    console.error(
      [
        'The browser tests run the web app through nginx (docker/nginx.conf), and no nginx was found.',
        'Install it:',
        '  - Debian/Ubuntu: sudo apt-get install nginx   (provides /usr/sbin/nginx; the test starts its own instance)',
        '  - elsewhere: any nginx 1.18 or newer',
        'or point NGINX_PATH at an nginx binary, then run npm test again.',
      ].join('\n'),
    )
    process.exit(1)
  }
  return nginx
}

env.CHROMIUM_PATH = ensureChromium()
env.NGINX_PATH = ensureNginx()
run('build', 'npx', ['turbo', 'run', 'build', '--output-logs=errors-only'])
run('lint', 'npx', ['biome', 'check', '.'])
run('typecheck', 'npx', ['turbo', 'run', 'typecheck', '--output-logs=errors-only'])
// The examples install our packages from their `npm pack` tarballs, as an outside app would (about 30 s).
run('examples: packed tarballs installed and built', 'node', ['scripts/build-examples.mjs'])
run('unit and integration tests', 'npx', ['turbo', 'run', 'test', '--concurrency=1', '--output-logs=new-only'])
run('scripts', 'node', ['--test', 'scripts/check-dockerfile.test.mjs'])
run('Dockerfile: runtime layout built and started without Docker', 'node', ['scripts/check-dockerfile.mjs'])
run('browser tests', 'npm', ['run', 'test:e2e', '--workspace=@collab/e2e'])
console.log('\nAll tests passed.')
