// Installing what the tests need from Debian packages, for `npm test` (scripts/test.mjs) and for the Redis and
// PostgreSQL of @collab/test-services. Plain ESM here rather than TypeScript in that package because test.mjs runs
// before anything is built: it can import this file as it is, while test-services is compiled and imports it.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'

let updated = false

/** Whether this process may install Debian packages itself (CI runs as root on Debian). */
export function canAptInstall() {
  return process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')
}

/**
 * Installs Debian packages; when that fails, runs `apt-get update` (once per process: a fresh machine has no
 * package lists yet) and tries again. Whether they were installed.
 */
export function aptInstall(packages) {
  // RUNLEVEL=1 keeps the packages' install scripts from starting system services (a Redis on 6379, a PostgreSQL
  // cluster on 5432, an nginx on 80): invoke-rc.d starts nothing in runlevel 1, and the tests start their own.
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', RUNLEVEL: '1' }
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { stdio: 'inherit', env })
  if (install().status === 0) return true
  if (updated) return false
  updated = true
  spawnSync('apt-get', ['update'], { stdio: 'inherit', env })
  return install().status === 0
}
