import { type ChildProcess, spawn } from 'node:child_process'
import { appendFileSync, existsSync, readFileSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { currentMeasurement, type WatchedServer } from './health.js'
import type { ProbeRequest } from './peers/probe.js'
import { cpuSeconds, memoryOf } from './proc-stats.js'
import type { SystemSpec } from './systems.js'

const probeUrl = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), 'peers/probe.js')).href

/** `taskset`, when this machine has it: the server gets core 0 and the load generator core 1. */
export const tasksetPath = ['/usr/bin/taskset', '/bin/taskset'].find((path) => existsSync(path))

/** Every server started and not yet exited: killed if this process ends first (a failed or timed-out run). */
const running = new Map<ChildProcess, WatchedServer>()
process.once('exit', () => {
  for (const child of running.keys()) child.kill('SIGKILL')
})

/** Kills every server still running (a measurement that timed out leaves its server behind). */
export function killAllServers(): void {
  for (const [child, watched] of running) {
    watched.stopRequested = true
    child.kill('SIGKILL')
  }
}

/** How many of a server's last printed lines are kept (in `output`, and for the log of a failed measurement). */
const keptLines = 200

/** A free TCP port on the loopback interface (kept for the server's restarts). */
export { freePort } from '@collab/test-support'

/** A system under test, running as its own process. */
export interface RunningSystem {
  spec: SystemSpec
  pid: number
  port: number
  /** `ws://127.0.0.1:<port>` */
  url: string
  dataDir: string
  /** Its last printed lines, stdout and stderr together (for error messages and the logs of failed measurements). */
  output: string[]
  /** Null while it runs; how it exited (code or signal) once it has. */
  exit(): { code: number | null; signal: string | null } | null
  /** Kills it with `signal` on purpose (a measurement's deliberate crash), so that its death is not a failure. */
  kill(signal: NodeJS.Signals): void
  /** CPU seconds used so far (user + system). */
  cpuSeconds(): number
  /** Resident memory now and its peak since start, from /proc. */
  residentMemory(): { rss: number; peakRss: number }
  /** V8 heap holding data (compiled code excluded) after a full GC, and RSS, from inside the process. */
  heap(): Promise<{ heapUsed: number; rss: number }>
  /**
   * Bytes of JavaScript objects on the heap after a full GC, from a heap snapshot (V8's compiled code and its
   * metadata left out: see {@link objectBytes}). Takes a second or two on a small heap: for the figures taken once
   * everyone left.
   */
  heapObjects(): Promise<number>
  /** Resolves once the server has written everything it applied (peers; ours acknowledges writes itself). */
  flush(): Promise<void>
  /** Documents loaded in memory, or null if the system does not say. */
  rooms(): Promise<number | null>
  /** SIGTERM (a graceful shutdown where the server has one) and wait for the exit; SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>
}

/** How to start one process of a system beyond its spec. */
export interface StartOptions {
  /** The core it is pinned to (default 0; the load generator has core 1). */
  core?: number
  /** Environment variables over the spec's own (the cluster workload's REDIS_URL and DATABASE_URL). */
  env?: Record<string, string>
  /** Extra node flags, such as `--cpu-prof` when profiling a server (default: BENCH_SERVER_NODE_ARGS). */
  nodeArgs?: string[]
}

/** Starts `spec` on `port` with `dataDir`, pinned to one core, and resolves once it accepts connections. */
export async function startSystem(
  spec: SystemSpec,
  port: number,
  dataDir: string,
  options: StartOptions = {},
): Promise<RunningSystem> {
  const extraNodeArgs = options.nodeArgs ?? (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean)
  const nodeArgs = [
    '--expose-gc',
    ...(spec.nodeFlags ?? []),
    ...extraNodeArgs,
    '--import',
    probeUrl,
    spec.entry,
    ...spec.args(port, dataDir),
  ]
  const [command, args] = tasksetPath
    ? [tasksetPath, ['-c', String(options.core ?? 0), process.execPath, ...nodeArgs]]
    : [process.execPath, nodeArgs]
  const child = spawn(command, args, {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: {
      ...process.env,
      ...spec.env(port, dataDir),
      ...options.env,
      BENCH_PROBE: spec.id,
      NODE_ENV: 'production',
    },
  })
  const output: string[] = []
  const watched: WatchedServer = {
    system: spec.id,
    pid: child.pid ?? -1,
    port,
    stopRequested: false,
    exit: null,
    lastLines: () => [...output],
  }
  // The measurement under way (if any) checks at its end whether this process was still alive.
  currentMeasurement()?.servers.push(watched)
  running.set(child, watched)
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      watched.exit = { code, signal }
      running.delete(child)
      resolve()
    }),
  )
  await new Promise<void>((resolve, reject) => {
    const onLine = (line: string) => {
      output.push(line)
      if (output.length > keptLines) output.shift()
      // For investigating a server: BENCH_SERVER_LOG=<file> keeps everything every server prints.
      if (process.env.BENCH_SERVER_LOG)
        appendFileSync(process.env.BENCH_SERVER_LOG, `${spec.id} ${child.pid}: ${line}\n`)
      if (spec.ready.test(line)) resolve()
    }
    createInterface({ input: child.stdout! }).on('line', onLine)
    createInterface({ input: child.stderr! }).on('line', onLine)
    exited.then(() => reject(new Error(`${spec.id} exited before listening:\n${output.join('\n')}`)))
  })
  const pid = child.pid!
  const ask = createAsker(child)
  return {
    spec,
    pid,
    port,
    url: `ws://127.0.0.1:${port}`,
    dataDir,
    output,
    exit: () => watched.exit,
    kill: (signal) => {
      watched.stopRequested = true
      child.kill(signal)
    },
    cpuSeconds: () => cpuSeconds(pid),
    residentMemory: () => memoryOf(pid),
    heap: async () => {
      const answer = await ask({ cmd: 'memory', gc: true })
      return { heapUsed: Number(answer.dataHeap), rss: Number(answer.rss) }
    },
    heapObjects: async () => {
      const path = join(dataDir, `../heap-${pid}-${Date.now()}.heapsnapshot`)
      await ask({ cmd: 'memory', gc: true, snapshotTo: path })
      try {
        return objectBytes(readFileSync(path, 'utf8'))
      } finally {
        rmSync(path, { force: true })
      }
    },
    flush: async () => {
      await ask({ cmd: 'flush' })
    },
    rooms: async () => {
      if (spec.healthz) {
        const health = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { rooms?: unknown }
        return typeof health.rooms === 'number' ? health.rooms : null
      }
      const answer = await ask({ cmd: 'rooms' })
      return typeof answer.rooms === 'number' ? answer.rooms : null
    },
    stop: async (graceMs = 15_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return
      watched.stopRequested = true
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      await exited
      clearTimeout(timer)
    },
  }
}

type ProbeQuestion = ProbeRequest extends infer R ? (R extends ProbeRequest ? Omit<R, 'id'> : never) : never

function createAsker(child: ChildProcess): (question: ProbeQuestion) => Promise<Record<string, unknown>> {
  let nextId = 1
  const waiting = new Map<number, { resolve: (value: Record<string, unknown>) => void; reject: (e: Error) => void }>()
  child.on('message', (message: Record<string, unknown>) => {
    const entry = waiting.get(Number(message.id))
    if (!entry) return
    waiting.delete(Number(message.id))
    if (typeof message.error === 'string') entry.reject(new Error(message.error))
    else entry.resolve(message)
  })
  child.once('exit', () => {
    for (const entry of waiting.values()) entry.reject(new Error('server exited before answering'))
    waiting.clear()
  })
  return (question) =>
    new Promise((resolve, reject) => {
      const id = nextId++
      waiting.set(id, { resolve, reject })
      child.send({ id, ...question })
    })
}

/**
 * Bytes of the JavaScript objects in a heap snapshot: every node but V8's own (`code`: compiled code, bytecode,
 * feedback vectors, deoptimization data and relocation info; `hidden`: internal system structures; `synthetic`:
 * roots). Unlike the heap's data spaces, this does not grow when code is optimized: V8 keeps deoptimization data
 * and relocation info in the old space, about 1 MB of it after 1,000 rooms of ours.
 */
export function objectBytes(snapshotJson: string): number {
  const snapshot = JSON.parse(snapshotJson) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }
    nodes: number[]
  }
  const fields = snapshot.snapshot.meta.node_fields
  const types = snapshot.snapshot.meta.node_types[0]
  const typeAt = fields.indexOf('type')
  const sizeAt = fields.indexOf('self_size')
  const excluded = new Set(['code', 'hidden', 'synthetic'].map((type) => types.indexOf(type)))
  let bytes = 0
  for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
    if (!excluded.has(snapshot.nodes[i + typeAt]!)) bytes += snapshot.nodes[i + sizeAt]!
  }
  return bytes
}
