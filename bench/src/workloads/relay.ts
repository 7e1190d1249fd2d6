import { SyncClient } from '../client.js'
import type { BenchContext } from '../context.js'
import { type Launcher, singleInstance, startDeploymentCpuWindow } from '../deployment.js'
import { KeystrokeArrivals, KeystrokeSequence } from '../keystrokes.js'
import { paced } from '../pacer.js'
import { startCpuWindow } from '../proc-stats.js'
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
  /** CPU of the server instances together, in cores. */
  serverCpu: number
  /** CPU of the services they share (Redis and PostgreSQL in the cluster workload), in cores. */
  servicesCpu: number
  loadgenCpu: number
}

/** Where the relay's clients connect: one system started by `launch`, the writer and the readers on instances. */
export interface RelayLayout {
  launch: Launcher
  writerInstance: number
  readerInstance: number
}

const oneInstance: RelayLayout = { launch: singleInstance, writerInstance: 0, readerInstance: 0 }

/**
 * Relay latency: one room, `readers` clients that only listen and one writer typing one character per keystroke
 * at a steady rate. Send and receipt times are taken in this process, so the clocks agree; the first
 * `warmupMs` of keystrokes are not counted.
 */
export async function runRelay(
  ctx: BenchContext,
  spec: SystemSpec,
  readerCount: number,
  layout: RelayLayout = oneInstance,
): Promise<RelayResult> {
  const { keystrokesPerSecond, warmupMs, measureMs } = ctx.plan.relay
  const intervalMs = 1000 / keystrokesPerSecond
  const warmup = Math.round(warmupMs / intervalMs)
  const total = warmup + Math.round(measureMs / intervalMs)
  // One character per keystroke, matched by clock at the readers (keystrokes.ts): a server that relays two
  // keystrokes as one message must not shift every later latency by a keystroke interval.
  const keystrokes = new KeystrokeSequence(total)
  const deployment = await layout.launch(ctx, spec, 'relay')
  const readerUrl = deployment.urls[layout.readerInstance]!
  const writerUrl = deployment.urls[layout.writerInstance]!
  const clients: SyncClient[] = []
  try {
    const room = `relay-${readerCount}`
    const latencies: number[] = []
    /** Send time of the first counted keystroke. */
    let measureFrom = Number.POSITIVE_INFINITY
    const arrivals: KeystrokeArrivals[] = []
    const readers = Array.from({ length: readerCount }, () => {
      const reader = new SyncClient(readerUrl, room, spec.client)
      const arrival = new KeystrokeArrivals(keystrokes, (latency, sentAt) => {
        if (sentAt >= measureFrom) latencies.push(latency)
      })
      arrivals.push(arrival)
      reader.onUpdate = (update, kind, at) => {
        if (kind === 'update') arrival.received(update, at)
      }
      clients.push(reader)
      return reader
    })
    await inBatches(readers, 50, async (reader) => {
      await reader.opened
      if (spec.client.handshake) await reader.whenSynced()
    })
    const writer = new SyncClient(writerUrl, room, spec.client)
    clients.push(writer)
    await writer.opened
    if (spec.client.handshake) await writer.whenSynced()
    await sleep(300)
    let cpuServer = () => ({ instances: [0], services: 0 })
    let cpuLoadgen = () => ({ fraction: 0 })
    await paced(intervalMs, total, (index) => {
      const now = performance.now()
      if (index === warmup) {
        cpuServer = startDeploymentCpuWindow(deployment)
        cpuLoadgen = startCpuWindow()
        measureFrom = now
      }
      for (const arrival of arrivals) arrival.sent(index, now)
      writer.sendUpdate(keystrokes.update(index))
    })
    const serverCpu = cpuServer()
    const loadgenCpu = cpuLoadgen().fraction
    // Let the last keystrokes arrive; anything still missing after a second is reported, not waited for.
    const deadline = performance.now() + 1_000
    while (arrivals.some((arrival) => arrival.pending > 0) && performance.now() < deadline) await sleep(5)
    const expected = readerCount * (total - warmup)
    return {
      readers: readerCount,
      samples: latencies.length,
      missing: expected - latencies.length,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      maxMs: percentile(latencies, 100),
      serverCpu: serverCpu.instances.reduce((sum, cpu) => sum + cpu, 0),
      servicesCpu: serverCpu.services,
      loadgenCpu,
    }
  } finally {
    for (const client of clients) client.ws.terminate()
    await deployment.stop()
  }
}
