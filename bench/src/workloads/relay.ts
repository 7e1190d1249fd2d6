import { mkdtempSync } from 'node:fs'
import { join } from 'node:path'
import { SyncClient } from '../client.js'
import type { BenchContext } from '../context.js'
import { paced } from '../pacer.js'
import { startCpuWindow } from '../proc-stats.js'
import { freePort, startSystem } from '../server-process.js'
import { inBatches, percentile, sleep } from '../stats.js'
import type { SystemSpec } from '../systems.js'

/** Send-to-receipt latency of one writer's keystrokes at every reader of the room. */
export interface RelayResult {
  readers: number
  samples: number
  /** Keystroke deliveries that never arrived (should be 0). */
  missing: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  serverCpu: number
  loadgenCpu: number
}

/**
 * Relay latency: one room, `readers` clients that only listen and one writer sending the trace's keystroke
 * updates at a steady rate. Send and receipt times are taken in this process, so the clocks agree; the first
 * `warmupMs` of keystrokes are not counted.
 */
export async function runRelay(ctx: BenchContext, spec: SystemSpec, readerCount: number): Promise<RelayResult> {
  const { keystrokesPerSecond, warmupMs, measureMs } = ctx.plan.relay
  const intervalMs = 1000 / keystrokesPerSecond
  const warmup = Math.round(warmupMs / intervalMs)
  const total = warmup + Math.round(measureMs / intervalMs)
  const updates = ctx.trace.updates.slice(0, total)
  const dataDir = mkdtempSync(join(ctx.workDir, `${spec.id}-relay-`))
  const server = await startSystem(spec, await freePort(), dataDir)
  const clients: SyncClient[] = []
  try {
    const room = `relay-${readerCount}`
    const sentAt = new Float64Array(total)
    const latencies: number[] = []
    const received = new Uint32Array(readerCount)
    const readers = Array.from({ length: readerCount }, (_, i) => {
      const reader = new SyncClient(server.url, room, spec.client)
      reader.onUpdate = (_update, kind, at) => {
        if (kind !== 'update') return
        const index = received[i]!++
        if (index >= warmup && index < total) latencies.push(at - sentAt[index]!)
      }
      clients.push(reader)
      return reader
    })
    await inBatches(readers, 50, async (reader) => {
      await reader.opened
      if (spec.client.handshake) await reader.whenSynced()
    })
    const writer = new SyncClient(server.url, room, spec.client)
    clients.push(writer)
    await writer.opened
    if (spec.client.handshake) await writer.whenSynced()
    await sleep(300)
    let cpuServer = () => 0
    let cpuLoadgen = () => ({ fraction: 0 })
    await paced(intervalMs, total, (index) => {
      if (index === warmup) {
        const serverStart = server.cpuSeconds()
        const wallStart = performance.now()
        cpuServer = () => (server.cpuSeconds() - serverStart) / ((performance.now() - wallStart) / 1000)
        cpuLoadgen = startCpuWindow()
      }
      sentAt[index] = performance.now()
      writer.sendUpdate(updates[index]!)
    })
    const serverCpu = cpuServer()
    const loadgenCpu = cpuLoadgen().fraction
    // Let the last keystrokes arrive; anything still missing after a second is reported, not waited for.
    const deadline = performance.now() + 1_000
    while (received.some((count) => count < total) && performance.now() < deadline) await sleep(5)
    const expected = readerCount * (total - warmup)
    return {
      readers: readerCount,
      samples: latencies.length,
      missing: expected - latencies.length,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      maxMs: percentile(latencies, 100),
      serverCpu,
      loadgenCpu,
    }
  } finally {
    for (const client of clients) client.ws.terminate()
    await server.stop()
  }
}
