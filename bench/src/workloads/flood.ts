import { mkdtempSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SyncClient } from '../client.js'
import { ClientProcess } from '../client-process.js'
import type { BenchContext } from '../context.js'
import type { FlooderEvent, FlooderRequest } from '../flooder-process.js'
import { KeystrokeSequence } from '../keystrokes.js'
import { paced } from '../pacer.js'
import { freePort, type RunningSystem, startSystem } from '../server-process.js'
import { percentile, sleep } from '../stats.js'
import type { SystemSpec } from '../systems.js'

/** Keystroke-to-other-client latency of one honest pair over one window. */
export interface KeystrokeFigures {
  keystrokes: number
  /** Keystrokes the reader did not have when the window was over; counted at their age then. */
  unarrived: number
  p50Ms: number
  p99Ms: number
  maxMs: number
}

/** The rooms of the honest pairs: the flooded one and another one on the same server. */
export const floodRooms = ['sameRoom', 'otherRoom'] as const
export type FloodRoom = (typeof floodRooms)[number]

/** One system's keystroke latency without and with a flood, and what the flood did. */
export interface FloodResult {
  quiet: Record<FloodRoom, KeystrokeFigures>
  flooded: Record<FloodRoom, KeystrokeFigures>
  /** Flood updates written during the flooded window (at most the whole trace). */
  floodUpdates: number
  /**
   * From the flood's first update until the server had handled its last (the socket buffers hold megabytes, so the
   * flooder may have written the whole trace long before). Shorter than the window: the flood ended within it.
   */
  floodAppliedMs: number
  floodAppliedPerSecond: number
  /** The close code and reason if the server closed the flooding connection. */
  flooderClosed: string | null
  /** Server CPU over each window, as a fraction of its core. */
  serverCpu: { quiet: number; flooded: number }
}

/**
 * The flooding client's process. One serves every measurement of a workload, as encoding the trace takes seconds;
 * after a measurement that failed, it may still be flooding or have answers under way: start another.
 */
export type Flooder = ClientProcess<FlooderRequest, FlooderEvent>

const flooderScript = join(dirname(fileURLToPath(import.meta.url)), '../flooder-process.js')

/**
 * Starts the flooder at a lower priority than this process: it shares the load generator's core with the honest
 * clients, and taking turns with it would add its time slices to their latency. Whatever they leave of the core is
 * still its own, so it floods as fast as the server reads.
 */
export function startFlooder(): Flooder {
  return new ClientProcess(flooderScript, { lowerPriorityBy: 10 })
}

const roomNames: Record<FloodRoom, string> = { sameRoom: 'flooded', otherRoom: 'elsewhere' }

/**
 * Flood: two honest pairs (a writer typing one character every `plan.flood.everyMs` and a reader), one in the
 * document the flood goes to and one in another document, measure keystroke-to-reader latency for a window
 * without a flood and then for one while a connection in another process sends the trace's updates, encoded
 * beforehand, as fast as its socket takes them. The pairs' clients are the load generator's (src/client.ts), in
 * this process; the first `warmupMs` of typing is not counted.
 */
export async function runFlood(ctx: BenchContext, spec: SystemSpec, flooder: Flooder): Promise<FloodResult> {
  const { everyMs, warmupMs, windowMs, settleMs } = ctx.plan.flood
  const dataDir = mkdtempSync(join(ctx.workDir, `${spec.id}-flood-`))
  const server = await startSystem(spec, await freePort(), dataDir)
  const clients: SyncClient[] = []
  const client = (room: FloodRoom) => {
    const created = new SyncClient(server.url, roomNames[room], spec.client)
    clients.push(created)
    return created
  }
  try {
    const keystrokes = Math.ceil((warmupMs + 2 * windowMs) / everyMs) + 1
    const pairs = floodRooms.map((room) => new KeystrokePair(client(room), client(room), keystrokes))
    await Promise.all(
      clients.map(async (c) => {
        await c.opened
        await c.whenSynced()
      }),
    )
    flooder.send({
      type: 'connect',
      url: server.url,
      flavour: spec.client,
      docName: roomNames.sameRoom,
      trace: ctx.trace.name,
    })
    await flooder.take('connected', 120_000)
    await typeFor(pairs, everyMs, warmupMs, settleMs)
    const serverCpu = { quiet: 0, flooded: 0 }
    const quietCpu = serverCpuWindow(server)
    const quiet = await typeFor(pairs, everyMs, windowMs, settleMs, () => {
      serverCpu.quiet = quietCpu()
    })
    const floodedCpu = serverCpuWindow(server)
    flooder.send({ type: 'flood' })
    const flooded = await typeFor(pairs, everyMs, windowMs, settleMs, () => {
      serverCpu.flooded = floodedCpu()
      flooder.send({ type: 'stop' })
    })
    const stopped = await flooder.take('stopped', 10_000)
    const applied = await flooder.take('applied', 310_000)
    flooder.send({ type: 'disconnect' })
    await flooder.take('disconnected', 10_000)
    return {
      quiet: byRoom(quiet),
      flooded: byRoom(flooded),
      floodUpdates: stopped.sent,
      floodAppliedMs: applied.ms,
      floodAppliedPerSecond: (stopped.sent / applied.ms) * 1000,
      flooderClosed: applied.closed,
      serverCpu,
    }
  } finally {
    for (const c of clients) c.ws.terminate()
    await server.stop()
  }
}

/**
 * Types on every pair for `ms`, calls `atEnd`, gives the keystrokes under way up to `settleMs` to arrive, and
 * returns each pair's figures.
 */
async function typeFor(
  pairs: KeystrokePair[],
  everyMs: number,
  ms: number,
  settleMs: number,
  atEnd: () => void = () => undefined,
): Promise<KeystrokeFigures[]> {
  for (const pair of pairs) pair.startWindow()
  const perPair = Math.round(ms / everyMs)
  // The writers take turns, so that the two rooms' keystrokes do not reach the server together.
  await paced(everyMs / pairs.length, perPair * pairs.length, (i) => pairs[i % pairs.length]!.type())
  atEnd()
  const deadline = performance.now() + settleMs
  while (pairs.some((pair) => pair.waiting) && performance.now() < deadline) await sleep(5)
  return pairs.map((pair) => pair.figures())
}

function byRoom(figures: KeystrokeFigures[]): Record<FloodRoom, KeystrokeFigures> {
  return { sameRoom: figures[0]!, otherRoom: figures[1]! }
}

/** CPU the server used from now until the returned function is called, as a fraction of its core. */
function serverCpuWindow(server: RunningSystem): () => number {
  const started = performance.now()
  const cpuStart = server.cpuSeconds()
  return () => (server.cpuSeconds() - cpuStart) / ((performance.now() - started) / 1000)
}

/**
 * A writer that types one character at the end of its own text per keystroke (every update made in advance) and a
 * reader that notes when each one arrives. A keystroke has arrived once an update the reader receives reaches past
 * its clock for the writer's client ID: the servers relay updates re-encoded, or merged with others, so their
 * bytes do not say whose they are.
 */
class KeystrokePair {
  private readonly keystrokes: KeystrokeSequence
  private next = 0
  private pending: Array<{ clock: number; at: number }> = []
  private latencies: number[] = []

  constructor(
    private readonly writer: SyncClient,
    reader: SyncClient,
    keystrokes: number,
  ) {
    this.keystrokes = new KeystrokeSequence(keystrokes)
    reader.onUpdate = (update, _kind, at) => this.received(update, at)
  }

  /** Keystrokes sent and not yet arrived. */
  get waiting(): boolean {
    return this.pending.length > 0
  }

  /** Forgets the figures so far (and any keystroke still under way). */
  startWindow(): void {
    this.pending = []
    this.latencies = []
  }

  type(): void {
    const update = this.keystrokes.update(this.next)
    this.pending.push({ clock: this.next++, at: performance.now() })
    this.writer.sendUpdate(update)
  }

  figures(): KeystrokeFigures {
    const now = performance.now()
    const all = [...this.latencies, ...this.pending.map((keystroke) => now - keystroke.at)]
    return {
      keystrokes: all.length,
      unarrived: this.pending.length,
      p50Ms: percentile(all, 50),
      p99Ms: percentile(all, 99),
      maxMs: percentile(all, 100),
    }
  }

  private received(update: Uint8Array, at: number): void {
    // Most of what the flooded room's reader receives is the flood; with nothing under way it is not looked at.
    if (this.pending.length === 0) return
    const reached = this.keystrokes.reachedBy(update)
    if (reached === undefined) return
    while (this.pending.length > 0 && this.pending[0]!.clock < reached) {
      this.latencies.push(at - this.pending.shift()!.at)
    }
  }
}
