import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, realpathSync } from 'node:fs'
import { delimiter, dirname, join } from 'node:path'

/** Whether this process may install Debian packages itself (CI runs as root on Debian). */
function canInstallPackages(): boolean {
  return process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')
}

/** The first executable called `name` on PATH or in `extraDirs`, or null. */
export function findExecutable(name: string, extraDirs: readonly string[] = []): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...extraDirs]
  for (const dir of dirs) {
    if (dir && existsSync(join(dir, name))) return join(dir, name)
  }
  return null
}

function aptInstall(packages: readonly string[]): void {
  // RUNLEVEL=1 keeps the packages' install scripts from starting system services (a Redis on 6379, a PostgreSQL
  // cluster on 5432): invoke-rc.d starts nothing in runlevel 1, and the tests start their own servers.
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', RUNLEVEL: '1' }
  const args = ['install', '-y', '--no-install-recommends', ...packages]
  let result = spawnSync('apt-get', args, { stdio: 'inherit', env })
  if (result.status !== 0) {
    // A fresh machine has no package lists yet.
    spawnSync('apt-get', ['update'], { stdio: 'inherit', env })
    result = spawnSync('apt-get', args, { stdio: 'inherit', env })
  }
  if (result.status !== 0) throw new Error(`apt-get install ${packages.join(' ')} failed (exit ${result.status})`)
}

/**
 * Finds a program, installing `debianPackage` when it is missing and this process runs as root on Debian;
 * otherwise fails with a message that names what to install.
 */
export function ensureProgram(name: string, debianPackage: string, find: () => string | null): string {
  const found = find()
  if (found) return found
  if (canInstallPackages()) {
    console.log(`${name} is missing: installing it from Debian packages (apt-get install ${debianPackage})`)
    aptInstall([debianPackage])
    const installed = find()
    if (installed) return installed
  }
  throw new Error(
    `${name} is needed by these tests and was not found. Install it (Debian/Ubuntu: sudo apt-get install ` +
      `${debianPackage}) and run the tests again.`,
  )
}

/** The directory of PostgreSQL's server programs (initdb, pg_ctl): Debian keeps them off PATH. */
export function postgresBinDir(): string | null {
  // A link on PATH (/usr/local/bin/initdb) leads to the directory that also has createdb and pg_ctl.
  const onPath = findExecutable('initdb')
  if (onPath) {
    const dir = dirname(realpathSync(onPath))
    if (existsSync(join(dir, 'pg_ctl')) && existsSync(join(dir, 'createdb'))) return dir
  }
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return null
  const versions = readdirSync(root)
    .filter((entry) => existsSync(join(root, entry, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a))
  return versions[0] ? join(root, versions[0], 'bin') : null
}
