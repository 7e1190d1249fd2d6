import { mkdtempSync } from 'node:fs'
import { join } from 'node:path'
import * as Y from 'yjs'
import { encodeAwarenessEntry, SyncClient } from '../client.js'
import type { BenchContext } from '../context.js'
import { freePort, type RunningSystem, startSystem } from '../server-process.js'
import { inBatches, sleep } from '../stats.js'
import type { SystemSpec } from '../systems.js'

/** Server memory at one moment: resident (from /proc) and V8 heap after a full GC (from the probe). */
export interface MemoryFigures {
  rss: number
  heapUsed: number
}

export interface IdleMemoryResult {
  rooms: number
  baseline: MemoryFigures
  loaded: MemoryFigures
  /** (loaded - baseline) / rooms */
  perRoom: MemoryFigures
  /** After every client left and the server unloaded the rooms (or gave up waiting). */
  afterLeave: MemoryFigures
  /** Time from the last client leaving until the server reported no documents loaded; null if it never did. */
  unloadMs: number | null
  /**
   * Bytes of JavaScript objects on the heap (a heap snapshot without V8's compiled code and its metadata) after
   * every client left, and again after as many rooms as {@link rooms} came and went once more: what opening and
   * closing documents leaves behind, without the first round's one-time costs (absent before 2026-12-03).
   */
  objects?: { before: number; after: number }
}

/** A few hundred characters of the trace's text, as one update: the "small document" of each room. */
function smallDocument(endContent: string): Uint8Array {
  const doc = new Y.Doc()
  doc.getText('codemirror').insert(0, endContent.slice(0, 300))
  const update = Y.encodeStateAsUpdate(doc)
  doc.destroy()
  return update
}

/** Rooms opened and left before the baseline is taken. */
const warmupRooms = 100

async function memoryOf(server: RunningSystem): Promise<MemoryFigures> {
  const { heapUsed } = await server.heap()
  return { rss: server.residentMemory().rss, heapUsed }
}

/**
 * Idle memory: `rooms` documents, each with a short text and one connected client that has a presence state and
 * then does nothing. Memory per room is the growth over the server's baseline (taken after a warm-up of
 * {@link warmupRooms} rooms that came and went); then every client leaves and the server gets up to 30 s to unload
 * the rooms (ours waits a 10 s grace period first).
 */
export async function runIdleMemory(ctx: BenchContext, spec: SystemSpec): Promise<IdleMemoryResult> {
  const roomCount = ctx.plan.idle.rooms
  const content = smallDocument(ctx.trace.endContent)
  const dataDir = mkdtempSync(join(ctx.workDir, `${spec.id}-idle-`))
  const server = await startSystem(spec, await freePort(), dataDir)
  const clients: SyncClient[] = []
  try {
    const open = async (name: string, i: number) => {
      const client = new SyncClient(server.url, name, spec.client)
      clients.push(client)
      await client.opened
      if (spec.client.handshake) await client.whenSynced()
      client.sendUpdate(content)
      client.sendAwareness(encodeAwarenessEntry(1000 + i, 1, { user: { name: `User ${i}`, color: '#30bced' } }))
      // The floor answers nothing; for it, the bytes having been written is all there is to wait for.
      if (spec.client.handshake) await client.handled()
    }
    /**
     * Every client leaves; resolves when the server has no document loaded and has gone quiet (an unload may still
     * be writing after the document left the server's table), or null if that did not happen within 30 s.
     */
    const leaveAll = async (): Promise<number | null> => {
      const leftAt = performance.now()
      await Promise.all(clients.map((client) => client.close()))
      clients.length = 0
      while (spec.persistent && performance.now() - leftAt < 30_000) {
        if ((await server.rooms()) === 0 && (await quiet())) return performance.now() - leftAt
        await sleep(100)
      }
      return null
    }
    /** Whether the server used less than 5% of its core over the next half second. */
    const quiet = async (): Promise<boolean> => {
      const before = server.cpuSeconds()
      await sleep(500)
      return server.cpuSeconds() - before < 0.025
    }
    // A first, smaller round trip through the same code paths, so that the baseline already holds the compiled
    // code (and its metadata on the heap) and the figures below are about the documents.
    await inBatches(
      Array.from({ length: warmupRooms }, (_, i) => i),
      100,
      (i) => open(`warmup-${i}`, i),
    )
    await leaveAll()
    await sleep(500)
    const baseline = await memoryOf(server)
    await inBatches(
      Array.from({ length: roomCount }, (_, i) => i),
      100,
      (i) => open(`idle-${i}`, i),
    )
    await sleep(1_000)
    const loaded = await memoryOf(server)
    const unloadMs = await leaveAll()
    await sleep(spec.persistent ? 500 : 1_000)
    const afterLeave = await memoryOf(server)
    // Heap snapshots only now: writing one grows the process's resident memory by tens of MB that the allocator
    // keeps, which would distort every resident-memory figure above. The growth between two snapshots around a
    // second round of rooms is what documents that come and go leave behind.
    const objectsBefore = await server.heapObjects()
    await inBatches(
      Array.from({ length: roomCount }, (_, i) => i),
      100,
      (i) => open(`again-${i}`, i),
    )
    await leaveAll()
    await sleep(spec.persistent ? 500 : 1_000)
    const objectsAfter = await server.heapObjects()
    return {
      rooms: roomCount,
      baseline,
      loaded,
      perRoom: {
        rss: (loaded.rss - baseline.rss) / roomCount,
        heapUsed: (loaded.heapUsed - baseline.heapUsed) / roomCount,
      },
      afterLeave,
      unloadMs,
      objects: { before: objectsBefore, after: objectsAfter },
    }
  } finally {
    for (const client of clients) client.ws.terminate()
    await server.stop()
  }
}
