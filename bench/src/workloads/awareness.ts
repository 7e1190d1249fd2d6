import { mkdtempSync } from 'node:fs'
import { join } from 'node:path'
import { encodeAwarenessEntry, SyncClient } from '../client.js'
import type { BenchContext } from '../context.js'
import { freePort, startSystem } from '../server-process.js'
import { inBatches, sleep } from '../stats.js'
import type { SystemSpec } from '../systems.js'

export interface AwarenessResult {
  clients: number
  /** Server CPU over the window, as a fraction of its core. */
  serverCpu: number
  /** Data messages the server sent, per second, summed over all clients. */
  messagesPerSecond: number
  /** WebSocket ping frames the server sent per second (its liveness traffic). */
  pingsPerSecond: number
  bytesPerSecond: number
}

/** A presence state like y-codemirror.next's: the user and a cursor as two relative positions. */
function presence(i: number, clientID: number): unknown {
  const position = { type: null, tname: 'codemirror', item: { client: clientID, clock: i * 7 }, assoc: 0 }
  return {
    user: { name: `User ${i}`, color: '#30bced', colorLight: '#30bced33' },
    cursor: { anchor: position, head: position },
  }
}

/**
 * Awareness: one room with `clients` idle clients, each with a cursor. An idle y-protocols client still renews its
 * state every 15 s (half the 30 s timeout), so each client does that, their phases spread evenly over the period;
 * the window measures the server's CPU and everything it sends.
 */
export async function runAwareness(ctx: BenchContext, spec: SystemSpec): Promise<AwarenessResult> {
  const { clients: count, windowMs, renewMs } = ctx.plan.awareness
  const dataDir = mkdtempSync(join(ctx.workDir, `${spec.id}-awareness-`))
  const server = await startSystem(spec, await freePort(), dataDir)
  const clients: SyncClient[] = []
  const timers: NodeJS.Timeout[] = []
  try {
    const indexes = Array.from({ length: count }, (_, i) => i)
    await inBatches(indexes, 20, async (i) => {
      const client = new SyncClient(server.url, 'presence', spec.client)
      clients[i] = client
      await client.opened
      if (spec.client.handshake) await client.whenSynced()
      client.sendAwareness(encodeAwarenessEntry(10_000 + i, 1, presence(i, 10_000 + i)))
    })
    const phaseStart = performance.now()
    indexes.forEach((i) => {
      let clock = 1
      const renew = () => clients[i]!.sendAwareness(encodeAwarenessEntry(10_000 + i, ++clock, presence(i, 10_000 + i)))
      timers.push(
        setTimeout(
          () => {
            renew()
            timers.push(setInterval(renew, renewMs))
          },
          (i * renewMs) / count,
        ),
      )
    })
    // The joins' burst (each new state relayed to everyone) is over well before the window starts.
    await sleep(Math.max(0, 1_000 - (performance.now() - phaseStart)))
    const sum = (pick: (c: SyncClient) => number) => clients.reduce((total, c) => total + pick(c), 0)
    const start = { messages: sum((c) => c.received.messages), pings: sum((c) => c.received.pings) }
    const bytesStart = sum((c) => c.received.bytes)
    const cpuStart = server.cpuSeconds()
    const from = performance.now()
    await sleep(windowMs)
    const seconds = (performance.now() - from) / 1000
    return {
      clients: count,
      serverCpu: (server.cpuSeconds() - cpuStart) / seconds,
      messagesPerSecond: (sum((c) => c.received.messages) - start.messages) / seconds,
      pingsPerSecond: (sum((c) => c.received.pings) - start.pings) / seconds,
      bytesPerSecond: (sum((c) => c.received.bytes) - bytesStart) / seconds,
    }
  } finally {
    for (const timer of timers) clearTimeout(timer)
    for (const client of clients) client?.ws.terminate()
    await server.stop()
  }
}
