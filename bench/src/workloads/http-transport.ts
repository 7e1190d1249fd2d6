import { SyncClient } from '../client.js'
import type { BenchContext } from '../context.js'
import { type Deployment, singleInstance, startDeploymentCpuWindow } from '../deployment.js'
import { HttpSyncClient } from '../http-sync-client.js'
import { KeystrokeArrivals, KeystrokeSequence } from '../keystrokes.js'
import { paced } from '../pacer.js'
import { inBatches, percentile, sleep } from '../stats.js'
import type { SystemSpec } from '../systems.js'

/** The two transports compared: our HTTP long-polling ([HT1]-[HT10]) and WebSocket. */
export type Transport = 'http' | 'websocket'

/** Keystroke delivery from one WebSocket writer to the readers of one room, all on one transport. */
export interface HttpDelivery {
  readers: number
  samples: number
  /** Keystroke deliveries that had not arrived a second after the last keystroke (should be 0). */
  missing: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  /** Server CPU over the measured keystrokes, as a fraction of its core. */
  serverCpu: number
}

/** Rooms of one writer and readers, all on one transport, typing at a steady rate. */
export interface HttpCost {
  clients: number
  deliveriesPerSecond: number
  /** Server CPU over the window, as a fraction of its core. */
  serverCpu: number
  /** Server CPU (percent of a core) per 1,000 deliveries a second. */
  cpuPer1000Deliveries: number
  p50Ms: number
  p99Ms: number
  /** HTTP requests answered per second over the window (0 on WebSocket). */
  requestsPerSecond: number
}

export interface HttpTransportResult {
  delivery: Record<Transport, HttpDelivery>
  cost: Record<Transport, HttpCost>
}

/**
 * HTTP transport (issue 18), ours only (no peer has one). (a) Delivery: one room, one writer on WebSocket typing at
 * a steady rate, `readers` readers on the HTTP transport, each holding a poll with wait=20000; then the same with
 * WebSocket readers on a new document of the same server. (b) Cost: `docs` documents of `clientsPerDoc` clients, one
 * of them typing, all on WebSocket, then all on HTTP (the writer too: a user behind a proxy that refuses WebSocket
 * types over HTTP as well, one request per send), each layout on a server of its own; server CPU per 1,000
 * deliveries a second over a window after a settle. HTTP goes second in each server, so the sessions it leaves
 * behind ([HT8]) cost nothing in a window that is measured.
 */
export async function runHttpTransport(ctx: BenchContext, spec: SystemSpec): Promise<HttpTransportResult> {
  const delivery = await withServer(ctx, spec, 'http-delivery', async (deployment) => ({
    websocket: await measureDelivery(ctx, deployment, 'websocket'),
    http: await measureDelivery(ctx, deployment, 'http'),
  }))
  const websocket = await withServer(ctx, spec, 'http-cost-ws', (d) => measureCost(ctx, d, 'websocket'))
  const http = await withServer(ctx, spec, 'http-cost-http', (d) => measureCost(ctx, d, 'http'))
  return { delivery, cost: { websocket, http } }
}

async function withServer<T>(
  ctx: BenchContext,
  spec: SystemSpec,
  label: string,
  measure: (deployment: Deployment) => Promise<T>,
): Promise<T> {
  const deployment = await singleInstance(ctx, spec, label)
  try {
    return await measure(deployment)
  } finally {
    await deployment.stop()
  }
}

/** A reader or writer on either transport, as the workload uses it. */
interface Peer {
  synced: Promise<void>
  sendUpdate(update: Uint8Array): void
  onUpdate: ((update: Uint8Array, kind: 'step2' | 'update', at: number) => void) | null
  assertOpen(): void
  requests(): number
  stop(): void
}

function connect(url: string, docName: string, transport: Transport, spec: SystemSpec): Peer {
  if (transport === 'http') {
    const client = new HttpSyncClient(url, docName)
    return {
      synced: client.whenSynced(),
      sendUpdate: (update) => client.sendUpdate(update),
      set onUpdate(handler) {
        client.onUpdate = handler
      },
      get onUpdate() {
        return client.onUpdate
      },
      assertOpen: () => client.assertOpen(),
      requests: () => client.answered,
      stop: () => client.stop(),
    }
  }
  const client = new SyncClient(url, docName, spec.client)
  return {
    // A connection the server refuses or closes never syncs: fail with its close code rather than wait.
    synced: Promise.race([
      client.opened.then(() => client.whenSynced()),
      client.closed.then(() => client.assertOpen()),
    ]),
    sendUpdate: (update) => client.sendUpdate(update),
    set onUpdate(handler) {
      client.onUpdate = handler
    },
    get onUpdate() {
      return client.onUpdate
    },
    assertOpen: () => client.assertOpen(),
    requests: () => 0,
    stop: () => client.ws.terminate(),
  }
}

async function measureDelivery(ctx: BenchContext, deployment: Deployment, transport: Transport): Promise<HttpDelivery> {
  const { readers: readerCount, keystrokesPerSecond, warmupMs, measureMs } = ctx.plan.httpTransport
  const intervalMs = 1000 / keystrokesPerSecond
  const warmup = Math.round(warmupMs / intervalMs)
  const total = warmup + Math.round(measureMs / intervalMs)
  const keystrokes = new KeystrokeSequence(total)
  const url = deployment.urls[0]!
  const room = `http-delivery-${transport}`
  const peers: Peer[] = []
  try {
    const latencies: number[] = []
    let measureFrom = Number.POSITIVE_INFINITY
    const arrivals: KeystrokeArrivals[] = []
    for (let i = 0; i < readerCount; i++) {
      const reader = connect(url, room, transport, deployment.spec)
      const arrival = new KeystrokeArrivals(keystrokes, (latency, sentAt) => {
        if (sentAt >= measureFrom) latencies.push(latency)
      })
      arrivals.push(arrival)
      reader.onUpdate = (update, kind, at) => {
        if (kind === 'update') arrival.received(update, at)
      }
      peers.push(reader)
    }
    await inBatches(peers, 50, (reader) => reader.synced)
    // The writer is on WebSocket in both: what differs is how the readers receive.
    const writer = connect(url, room, 'websocket', deployment.spec)
    peers.push(writer)
    await writer.synced
    await sleep(300)
    let cpu = () => ({ instances: [0] })
    await paced(intervalMs, total, (index) => {
      const now = performance.now()
      if (index === warmup) {
        cpu = startDeploymentCpuWindow(deployment)
        measureFrom = now
      }
      for (const arrival of arrivals) arrival.sent(index, now)
      writer.sendUpdate(keystrokes.update(index))
    })
    const serverCpu = cpu().instances[0] ?? 0
    const deadline = performance.now() + 1_000
    while (arrivals.some((arrival) => arrival.pending > 0) && performance.now() < deadline) await sleep(5)
    for (const peer of peers) peer.assertOpen()
    return {
      readers: readerCount,
      samples: latencies.length,
      missing: readerCount * (total - warmup) - latencies.length,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      maxMs: percentile(latencies, 100),
      serverCpu,
    }
  } finally {
    for (const peer of peers) peer.stop()
  }
}

async function measureCost(ctx: BenchContext, deployment: Deployment, transport: Transport): Promise<HttpCost> {
  const { docs, clientsPerDoc, costKeystrokesPerSecond, settleMs, windowMs } = ctx.plan.httpTransport
  const url = deployment.urls[0]!
  // Enough keystrokes for the settle and the window at the rate, with room to spare.
  const keystrokes = new KeystrokeSequence(Math.ceil(((settleMs + windowMs + 5_000) / 1000) * costKeystrokesPerSecond))
  const intervalMs = 1000 / costKeystrokesPerSecond
  let window: { from: number; to: number; latencies: number[] } | null = null
  const rooms: Array<{ writer: Peer; arrivals: KeystrokeArrivals[]; sent: number; due: number }> = []
  const peers: Peer[] = []
  const typing: { timer: NodeJS.Timeout | null } = { timer: null }
  try {
    await inBatches(
      Array.from({ length: docs }, (_, i) => i),
      10,
      async (index) => {
        const name = `http-cost-${transport}-${index}`
        const readers = Array.from({ length: clientsPerDoc - 1 }, () => connect(url, name, transport, deployment.spec))
        const writer = connect(url, name, transport, deployment.spec)
        peers.push(writer, ...readers)
        const arrivals = readers.map((reader) => {
          const arrival = new KeystrokeArrivals(keystrokes, (latency, sentAt) => {
            if (window && sentAt >= window.from && sentAt < window.to) window.latencies.push(latency)
          })
          reader.onUpdate = (update, kind, at) => {
            if (kind === 'update') arrival.received(update, at)
          }
          return arrival
        })
        await Promise.all([writer, ...readers].map((peer) => peer.synced))
        rooms.push({ writer, arrivals, sent: 0, due: performance.now() + Math.random() * intervalMs })
      },
    )
    // Every writer types at the rate, the rooms' keystrokes spread over the interval (as typing-rooms.ts does).
    const tick = () => {
      const now = performance.now()
      for (const room of rooms) {
        if (room.due > now || room.sent >= keystrokes.length) continue
        const clock = room.sent++
        for (const arrival of room.arrivals) arrival.sent(clock, now)
        room.writer.sendUpdate(keystrokes.update(clock))
        room.due += intervalMs
        if (room.due < now) room.due = now + intervalMs
      }
      typing.timer = setTimeout(tick, 2)
    }
    tick()
    await sleep(settleMs)
    const from = performance.now()
    const current = { from, to: from + windowMs, latencies: [] as number[] }
    window = current
    const requestsBefore = peers.reduce((sum, peer) => sum + peer.requests(), 0)
    const cpu = startDeploymentCpuWindow(deployment)
    await sleep(windowMs)
    const serverCpu = cpu().instances[0] ?? 0
    const requests = peers.reduce((sum, peer) => sum + peer.requests(), 0) - requestsBefore
    // Keystrokes sent in the window get until half a second after it to arrive; they count as deliveries of it.
    await sleep(500)
    window = null
    for (const peer of peers) peer.assertOpen()
    const deliveriesPerSecond = current.latencies.length / (windowMs / 1000)
    return {
      clients: peers.length,
      deliveriesPerSecond,
      serverCpu,
      cpuPer1000Deliveries: (serverCpu * 100) / (deliveriesPerSecond / 1000),
      p50Ms: percentile(current.latencies, 50),
      p99Ms: percentile(current.latencies, 99),
      requestsPerSecond: requests / (windowMs / 1000),
    }
  } finally {
    if (typing.timer) clearTimeout(typing.timer)
    for (const peer of peers) peer.stop()
  }
}
