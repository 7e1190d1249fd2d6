import { existsSync, readdirSync, realpathSync } from 'node:fs'
import { delimiter, dirname, join } from 'node:path'
// From scripts/ rather than the other way round: `npm test` (scripts/test.mjs) installs with it before anything is
// built, so it lives in plain ESM there. The relative path is the same from src/ and from dist/.
import { aptInstall, canAptInstall } from '../../../scripts/apt.mjs'

/** The first executable called `name` on PATH or in `extraDirs`, or null. */
export function findExecutable(name: string, extraDirs: readonly string[] = []): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...extraDirs]
  for (const dir of dirs) {
    if (dir && existsSync(join(dir, name))) return join(dir, name)
  }
  return null
}

/**
 * Finds a program, installing `debianPackage` when it is missing and this process runs as root on Debian;
 * otherwise fails with a message that names what to install.
 */
export function ensureProgram(name: string, debianPackage: string, find: () => string | null): string {
  const found = find()
  if (found) return found
  if (canAptInstall()) {
    console.log(`${name} is missing: installing it from Debian packages (apt-get install ${debianPackage})`)
    if (!aptInstall([debianPackage])) throw new Error(`apt-get install ${debianPackage} failed`)
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
