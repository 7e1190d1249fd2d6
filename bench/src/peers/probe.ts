// Loaded into every server under test with `node --import`: answers the load generator's questions over the IPC
// channel (heap after a full GC, documents loaded, "is everything written yet?") without touching the server's
// own code. Servers that keep such figures to themselves get them from a hook installed here or by their script.

import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8'

/** Hooks a peer's script (or this probe, for the stock y-websocket server) installs on `globalThis`. */
export interface ProbeHooks {
  /** Resolves once every update the server has applied so far is written to its storage. */
  __benchFlush?: () => Promise<unknown>
  /** Number of documents the server holds in memory. */
  __benchRooms?: () => number
}

/** A question from the load generator. */
export type ProbeRequest =
  | { id: number; cmd: 'memory'; gc: boolean; snapshotTo?: string }
  | { id: number; cmd: 'flush' | 'rooms' }

const hooks = globalThis as typeof globalThis & ProbeHooks

if (process.env.BENCH_PROBE === 'y-websocket-server') {
  // The same module instance the stock server.js imports (ES modules are singletons per URL), so this sees the
  // LevelDB persistence it created from YPERSISTENCE and the documents it holds.
  const utils = await import('@y/websocket-server/utils')
  hooks.__benchFlush = async () => {
    const persistence = utils.getPersistence() as { provider: { tr: Promise<unknown> } } | null
    // y-leveldb chains every write on one promise (`tr`); waiting for its current tail waits for all of them.
    if (persistence) await persistence.provider.tr
  }
  hooks.__benchRooms = () => utils.docs.size
}

async function answer(request: ProbeRequest): Promise<Record<string, unknown>> {
  switch (request.cmd) {
    case 'memory': {
      const gc = (globalThis as { gc?: () => void }).gc
      if (request.gc && gc) {
        // Two passes: the first can leave objects whose finalizers free more.
        gc()
        gc()
      }
      const usage = process.memoryUsage()
      // Compiled code grows with whatever code paths a workload exercised; data is what the server keeps.
      const dataHeap = getHeapSpaceStatistics()
        .filter((space) => !space.space_name.startsWith('code_'))
        .reduce((sum, space) => sum + space.space_used_size, 0)
      // Written to a file by V8 as it walks the heap (building the JSON here would cost the figures taken after it
      // a hundred MB of resident memory); the load generator reads it (server-process.ts, heapObjects).
      const snapshot = request.snapshotTo ? writeHeapSnapshot(request.snapshotTo) : null
      return { heapUsed: usage.heapUsed, dataHeap, snapshot, rss: usage.rss, external: usage.external, gc: Boolean(gc) }
    }
    case 'flush':
      await hooks.__benchFlush?.()
      return { flushed: hooks.__benchFlush !== undefined }
    case 'rooms':
      return { rooms: hooks.__benchRooms?.() ?? null }
  }
}

if (process.send) {
  process.on('message', (request: ProbeRequest) => {
    answer(request).then(
      (result) => process.send?.({ id: request.id, ...result }),
      (err: unknown) => process.send?.({ id: request.id, error: err instanceof Error ? err.message : String(err) }),
    )
  })
  // The channel must not keep a server alive that would otherwise exit on its own.
  process.channel?.unref()
}
