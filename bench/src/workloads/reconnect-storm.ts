import { mkdtempSync } from 'node:fs'
import { join } from 'node:path'
import * as Y from 'yjs'
import { encodeAwarenessEntry, SyncClient } from '../client.js'
import type { BenchContext } from '../context.js'
import { listenOverflows, startCpuWindow } from '../proc-stats.js'
import { freePort, type RunningSystem, startSystem } from '../server-process.js'
import { inBatches, percentile, sleep } from '../stats.js'
import type { SystemSpec } from '../systems.js'

export interface StormResult {
  clients: number
  rooms: number
  /** From the restarted server listening until the last client is synced. */
  allSyncedMs: number
  /** Median of the clients' own times to synced. */
  medianSyncedMs: number
  /** Peak resident memory of the restarted server (VmHWM), which starts counting at its start. */
  peakRss: number
  /** Resident memory of the restarted server before the clients came back. */
  startRss: number
  /** Connections that failed and were opened again. */
  retries: number
  /** Load generator CPU (fraction of its core) from the restart until the last client synced. */
  loadgenCpu: number
  /** Connection attempts the kernel dropped because the server's listen backlog was full (machine-wide counter). */
  listenOverflows: number
  /** From the restart command until the server listened (not part of the storm time). */
  startMs: number
}

/**
 * Connection handshakes in flight at once. Node listens with a backlog of 511: beyond it the kernel drops SYNs, and
 * the clients' 1 s SYN retransmission would set every server's time alike; this keeps the storm about the servers.
 */
const maxHandshakesInFlight = 256

/** A counting semaphore: `acquire` waits while `limit` holders have not released. */
function createLimiter(limit: number): { acquire(): Promise<void>; release(): void } {
  let held = 0
  const waiting: Array<() => void> = []
  return {
    acquire() {
      if (held < limit) {
        held++
        return Promise.resolve()
      }
      return new Promise((resolve) => waiting.push(resolve))
    },
    release() {
      const next = waiting.shift()
      if (next) next()
      else held--
    },
  }
}

/** Does `stateVector` include everything `needed` describes? */
function covers(stateVector: Map<number, number>, needed: Map<number, number>): boolean {
  for (const [client, clock] of needed) if ((stateVector.get(client) ?? 0) < clock) return false
  return true
}

/**
 * Reconnect storm: `clients` clients spread over `rooms` documents hold each room's text and a presence state;
 * the server restarts (a graceful stop, after it has stored everything), and as soon as it listens again every
 * client reconnects at once (at most {@link maxHandshakesInFlight} handshakes in flight), announcing what it holds. A client counts as synced when the server has answered its
 * sync step 1 and has shown (by its own step 1, or by updates it sent) that it holds the whole room again: a
 * server that answers before it has loaded the document is not synced yet.
 */
export async function runStorm(ctx: BenchContext, spec: SystemSpec): Promise<StormResult> {
  const { clients: clientCount, rooms: roomCount } = ctx.plan.storm
  const roomState = (() => {
    const doc = new Y.Doc()
    for (const update of ctx.trace.updates.slice(0, 2_000)) Y.applyUpdate(doc, update)
    const state = Y.encodeStateAsUpdate(doc)
    doc.destroy()
    return state
  })()
  const roomVector = Y.encodeStateVectorFromUpdate(roomState)
  const needed = Y.decodeStateVector(roomVector)
  const dataDir = mkdtempSync(join(ctx.workDir, `${spec.id}-storm-`))
  const port = await freePort()
  let server: RunningSystem = await startSystem(spec, port, dataDir)
  const all: SyncClient[] = []
  try {
    const indexes = Array.from({ length: clientCount }, (_, i) => i)
    const roomOf = (i: number) => `storm-${i % roomCount}`
    // Before: every room gets its text from its first client; everyone joins with a presence state.
    await inBatches(indexes, 100, async (i) => {
      const client = new SyncClient(server.url, roomOf(i), spec.client)
      all.push(client)
      await client.opened
      await client.whenSynced()
      if (i < roomCount) client.sendUpdate(roomState)
      client.sendAwareness(encodeAwarenessEntry(5000 + i, 1, { user: { name: `User ${i}` } }))
      await client.handled()
    })
    if (spec.id === 'ours') {
      for (const client of all) while (client.acks < client.docMessagesSent) await sleep(5)
    } else {
      await server.flush()
    }
    await sleep(300)
    await server.stop(60_000)
    await Promise.all(all.map((client) => client.closed))
    all.length = 0

    const restarted = performance.now()
    server = await startSystem(spec, port, dataDir)
    const started = performance.now()
    const startRss = server.residentMemory().rss
    const syncedAt: number[] = []
    let retries = 0
    const overflowsBefore = listenOverflows()
    const loadgenCpu = startCpuWindow()
    const handshakes = createLimiter(maxHandshakesInFlight)
    const reconnect = async (i: number): Promise<void> => {
      for (;;) {
        await handshakes.acquire()
        const client = new SyncClient(server.url, roomOf(i), spec.client, roomVector)
        client.opened.then(handshakes.release, handshakes.release)
        all.push(client)
        let serverHasRoom = false
        const done = new Promise<void>((resolve) => {
          const check = () => {
            if (serverHasRoom && client.synced) resolve()
          }
          client.onServerStep1 = (stateVector) => {
            if (covers(Y.decodeStateVector(stateVector), needed)) serverHasRoom = true
            check()
          }
          client.onUpdate = (update) => {
            if (!serverHasRoom && covers(Y.decodeStateVector(Y.encodeStateVectorFromUpdate(update)), needed)) {
              serverHasRoom = true
            }
            check()
          }
        })
        try {
          await client.opened
        } catch {
          retries++
          await sleep(50)
          continue
        }
        client.sendAwareness(encodeAwarenessEntry(5000 + i, 2, { user: { name: `User ${i}` } }))
        const closed = client.closed.then(() => 'closed' as const)
        if ((await Promise.race([done.then(() => 'synced' as const), closed])) === 'synced') {
          syncedAt.push(performance.now() - started)
          return
        }
        retries++
      }
    }
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.all(indexes.map(reconnect)),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${spec.id}: ${syncedAt.length}/${clientCount} synced after 60 s`)),
          60_000,
        )
      }),
    ])
    clearTimeout(timer)
    return {
      clients: clientCount,
      rooms: roomCount,
      allSyncedMs: Math.max(...syncedAt),
      medianSyncedMs: percentile(syncedAt, 50),
      peakRss: server.residentMemory().peakRss,
      startRss,
      retries,
      listenOverflows: listenOverflows() - overflowsBefore,
      loadgenCpu: loadgenCpu().fraction,
      startMs: started - restarted,
    }
  } finally {
    for (const client of all) client.ws.terminate()
    await server.stop()
  }
}
