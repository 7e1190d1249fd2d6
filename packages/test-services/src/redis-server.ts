import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '@collab/test-support'
import { isAlive, onExit, removeDir, signalIfAlive, sleep } from './cleanup.js'
import { ensureProgram, findExecutable } from './install.js'

/** A Redis server of its own for a test, on a free loopback port, without persistence. */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string
  readonly port: number
  /** Whether the server process is running. */
  readonly running: boolean
  /** Its process id while it runs (for measuring its CPU), otherwise null. */
  readonly pid: number | null
  /** Stops the server (SIGTERM, or SIGKILL with `kill: true`); its data is gone, as after a crash. */
  stop(options?: { kill?: boolean }): Promise<void>
  /** Starts it again on the same port, empty. */
  start(): Promise<void>
  /** Stops it and removes its directory. Idempotent. */
  close(): Promise<void>
}

/** Starts `redis-server` (installing it from Debian packages when missing and running as root). */
export async function startRedis(): Promise<RedisServer> {
  const binary = ensureProgram('redis-server', 'redis-server', () => findExecutable('redis-server', ['/usr/bin']))
  const dir = mkdtempSync(join(tmpdir(), 'collab-redis-'))
  const port = await freePort()
  const pidFile = join(dir, 'redis.pid')
  let pid: number | null = null
  const unhook = onExit(() => {
    if (pid !== null) signalIfAlive(pid, 'SIGKILL')
    removeDir(dir)
  })

  async function start(): Promise<void> {
    // Daemonized with a pid file, as STACK.md trap 14 says; `--save ''` keeps it from writing snapshots.
    const result = spawnSync(
      binary,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'yes',
        '--pidfile',
        pidFile,
        '--logfile',
        join(dir, 'redis.log'),
        '--dir',
        dir,
      ],
      { encoding: 'utf8' },
    )
    if (result.status !== 0) throw new Error(`redis-server failed to start: ${result.stderr || result.stdout}`)
    const deadline = Date.now() + 10_000
    while (!(await answersPing(port))) {
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${port}:\n${logOf(dir)}`)
      await sleep(20)
    }
    pid = Number(readFileSync(pidFile, 'utf8').trim())
  }

  async function stop(options: { kill?: boolean } = {}): Promise<void> {
    const current = pid
    if (current === null) return
    signalIfAlive(current, options.kill ? 'SIGKILL' : 'SIGTERM')
    const deadline = Date.now() + 10_000
    while (isAlive(current)) {
      if (Date.now() > deadline) signalIfAlive(current, 'SIGKILL')
      await sleep(10)
    }
    pid = null
  }

  await start().catch(async (err: unknown) => {
    await stop({ kill: true })
    removeDir(dir)
    unhook()
    throw err
  })
  let closed = false
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get running() {
      return pid !== null
    },
    get pid() {
      return pid
    },
    stop,
    start,
    async close() {
      if (closed) return
      closed = true
      await stop({ kill: true })
      removeDir(dir)
      unhook()
    },
  }
}

/** Whether a Redis server answers PING on `port`. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    let answer = ''
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1_000, () => done(false))
    socket.once('error', () => done(false))
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.on('data', (data) => {
      answer += data.toString()
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'))
    })
  })
}

function logOf(dir: string): string {
  const file = join(dir, 'redis.log')
  return existsSync(file) ? readFileSync(file, 'utf8').slice(-2_000) : '(no log)'
}
