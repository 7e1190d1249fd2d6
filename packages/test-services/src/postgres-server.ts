import { type SpawnSyncReturns, spawnSync } from 'node:child_process'
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { freePort } from '@collab/test-support'
import { isAlive, onExit, removeDir, signalIfAlive, sleep } from './cleanup.js'
import { ensureProgram, postgresBinDir } from './install.js'

/** A PostgreSQL cluster of its own for a test, on a free loopback port. */
export interface PostgresServer {
  /** `postgres://collab@127.0.0.1:<port>/collab` (trust authentication, loopback only). */
  readonly url: string
  readonly port: number
  /** Whether the server is running. */
  readonly running: boolean
  /** The postmaster's process id while it runs (its backends are its children), otherwise null. */
  readonly pid: number | null
  /** Stops the server: `fast` disconnects clients and shuts down cleanly, `immediate` is a crash. */
  stop(mode?: 'fast' | 'immediate'): Promise<void>
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>
  /** A new database on this server, and its URL (for tests that want a clean slate). */
  createDatabase(name: string): Promise<string>
  /** Stops it and removes its data. Idempotent. */
  close(): Promise<void>
}

const user = 'collab'

/**
 * Creates and starts a PostgreSQL cluster in a temporary directory (installing PostgreSQL from Debian packages
 * when missing and running as root). PostgreSQL refuses to run as root, so as root every server command runs as
 * the `postgres` user, in a directory that user owns (STACK.md trap 15).
 */
export async function startPostgres(): Promise<PostgresServer> {
  const binDir = ensureProgram('PostgreSQL (initdb, pg_ctl)', 'postgresql', postgresBinDir)
  const asRoot = process.getuid?.() === 0
  const dir = mkdtempSync(join(tmpdir(), 'collab-postgres-'))
  const dataDir = join(dir, 'data')
  const socketDir = join(dir, 'socket')
  mkdirSync(socketDir)
  if (asRoot) {
    const owner = postgresUser()
    chownSync(dir, owner.uid, owner.gid)
    chownSync(socketDir, owner.uid, owner.gid)
  }
  const port = await freePort()
  let pid: number | null = null
  const unhook = onExit(() => {
    // Synchronous on purpose: SIGQUIT is PostgreSQL's immediate shutdown, and nothing async runs at exit.
    if (pid !== null) signalIfAlive(pid, 'SIGQUIT')
    removeDir(dir)
  })

  function run(program: string, args: string[]): SpawnSyncReturns<string> {
    const command = join(binDir, program)
    const result = asRoot
      ? spawnSync('runuser', ['-u', 'postgres', '--', command, ...args], { encoding: 'utf8', cwd: dir })
      : spawnSync(command, args, { encoding: 'utf8', cwd: dir })
    if (result.error) throw result.error
    return result
  }

  function check(result: SpawnSyncReturns<string>, what: string): void {
    if (result.status !== 0) {
      throw new Error(`${what} failed (exit ${result.status}): ${result.stderr || result.stdout}\n${logOf(dir)}`)
    }
  }

  async function start(): Promise<void> {
    const options = [
      `-p ${port}`,
      `-k ${socketDir}`,
      "-c listen_addresses='127.0.0.1'",
      // A test server: durability against power loss is not what is being tested, speed is welcome.
      '-c fsync=off',
      '-c full_page_writes=off',
      '-c max_connections=200',
    ].join(' ')
    check(
      run('pg_ctl', ['start', '-w', '-t', '30', '-D', dataDir, '-l', join(dir, 'postgres.log'), '-o', options]),
      'pg_ctl start',
    )
    pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0])
  }

  async function stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    const current = pid
    if (current === null) return
    const result = run('pg_ctl', ['stop', '-w', '-t', '30', '-m', mode, '-D', dataDir])
    if (result.status !== 0) signalIfAlive(current, 'SIGQUIT')
    while (isAlive(current)) await sleep(10)
    pid = null
  }

  try {
    check(run('initdb', ['-D', dataDir, '-U', user, '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']), 'initdb')
    await start()
    check(run('createdb', ['-h', socketDir, '-p', String(port), '-U', user, user]), 'createdb')
  } catch (err) {
    await stop('immediate').catch(() => undefined)
    removeDir(dir)
    unhook()
    throw err
  }
  let closed = false
  return {
    url: `postgres://${user}@127.0.0.1:${port}/${user}`,
    port,
    get running() {
      return pid !== null
    },
    get pid() {
      return pid
    },
    stop,
    start,
    async createDatabase(name: string) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new RangeError(`Invalid database name ${JSON.stringify(name)}`)
      check(run('createdb', ['-h', socketDir, '-p', String(port), '-U', user, name]), `createdb ${name}`)
      return `postgres://${user}@127.0.0.1:${port}/${name}`
    },
    async close() {
      if (closed) return
      closed = true
      await stop('immediate')
      removeDir(dir)
      unhook()
    },
  }
}

function postgresUser(): { uid: number; gid: number } {
  const result = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' })
  const gidResult = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' })
  if (result.status !== 0 || gidResult.status !== 0) {
    throw new Error(
      `PostgreSQL refuses to run as root and there is no "postgres" user to run it as (${userInfo().username}); ` +
        'install the postgresql package, which creates it.',
    )
  }
  return { uid: Number(result.stdout.trim()), gid: Number(gidResult.stdout.trim()) }
}

function logOf(dir: string): string {
  const file = join(dir, 'postgres.log')
  return existsSync(file) ? readFileSync(file, 'utf8').slice(-2_000) : ''
}
