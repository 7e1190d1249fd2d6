import * as Y from 'yjs'
import type { BenchContext } from '../context.js'
import { singleInstance, startDeploymentCpuWindow } from '../deployment.js'
import { inBatches, percentile, sleep } from '../stats.js'
import type { SystemSpec } from '../systems.js'
import { TypingRooms } from '../typing-rooms.js'
import { type ColdLoadClient, runColdLoad } from './cold-load.js'
import { type IngestInput, runIngest } from './ingest.js'

/** One load level of the scaling curve. */
export interface ScalingLevel {
  rooms: number
  /** Keystroke deliveries (keystroke x reader) that arrived per second of the window. */
  deliveriesPerSecond: number
  /** Server CPU over the window, as a fraction of its core. */
  serverCpu: number
  /** Server CPU (percent of a core) per 1,000 deliveries a second: the cost of one unit of work. */
  cpuPer1000Deliveries: number
  p99Ms: number
}

export interface ScalingResult {
  levels: ScalingLevel[]
}

/**
 * Scaling curve (issue 19): rooms of three typing at a steady rate at 1x, 2x and 4x a base number of rooms (all below
 * every compared server's capacity), each level measured over a window after a settle; the figure is server CPU per
 * 1,000 deliveries a second, which stays flat when cost grows linearly with work.
 */
export async function runScaling(ctx: BenchContext, spec: SystemSpec): Promise<ScalingResult> {
  const plan = ctx.plan.scaling
  const deployment = await singleInstance(ctx, spec, 'scaling')
  const url = deployment.urls[0]!
  let window: { from: number; to: number; latencies: number[] } | null = null
  const typing = new TypingRooms('scaling', spec.client, plan.keystrokesPerSecond, (latency, sentAt) => {
    if (window && sentAt >= window.from && sentAt < window.to) window.latencies.push(latency)
  })
  try {
    typing.start()
    const levels: ScalingLevel[] = []
    for (const factor of plan.factors) {
      const target = plan.baseRooms * factor
      const adding = Array.from({ length: target - typing.rooms.length }, (_, i) => i)
      await inBatches(adding, 50, () => typing.add(() => url))
      await sleep(plan.settleMs)
      const from = performance.now()
      const current = { from, to: from + plan.windowMs, latencies: [] as number[] }
      window = current
      const cpu = startDeploymentCpuWindow(deployment)
      await sleep(plan.windowMs)
      const serverCpu = Math.max(...cpu().instances)
      // Keystrokes sent in the window get until half a second after it to arrive; they count as deliveries of it.
      await sleep(500)
      window = null
      const deliveriesPerSecond = current.latencies.length / (plan.windowMs / 1000)
      levels.push({
        rooms: typing.rooms.length,
        deliveriesPerSecond,
        serverCpu,
        cpuPer1000Deliveries: (serverCpu * 100) / (deliveriesPerSecond / 1000),
        p99Ms: percentile(current.latencies, 99),
      })
    }
    return { levels }
  } finally {
    typing.stop()
    await deployment.stop()
  }
}

/** One document size of the cold-load curve. */
export interface ColdLoadSize {
  /** The trace's first this many updates. */
  updates: number
  /** From creating the system's own client to holding the document (as workload 2). */
  ms: number
  /** From creating the client until the document's bytes arrived (the server's share). */
  receivedMs: number
  /** The data directory the ingest left, as the server found it. */
  storedBytes: number
}

export interface ColdLoadBySizeResult {
  sizes: ColdLoadSize[]
}

/** The sizes of the cold-load curve: the plan's, then the whole trace, each at most the trace's length. */
export function coldLoadSizes(coldLoadUpdates: readonly number[], traceUpdates: number): number[] {
  const sizes = [...coldLoadUpdates, traceUpdates].map((n) => Math.min(n, traceUpdates))
  return [...new Set(sizes)].sort((a, b) => a - b)
}

/** The trace's first `n` updates, with the state vector and text they make; computed once per size. */
const prefixes = new Map<number, IngestInput & { text: string }>()

function tracePrefix(ctx: BenchContext, n: number): IngestInput & { text: string } {
  const { trace } = ctx
  if (n >= trace.updates.length) return { ...trace, text: trace.endContent }
  const cached = prefixes.get(n)
  if (cached) return cached
  const updates = trace.updates.slice(0, n)
  const doc = new Y.Doc()
  doc.transact(() => {
    for (const update of updates) Y.applyUpdate(doc, update)
  })
  const prefix = { updates, finalStateVector: Y.encodeStateVector(doc), text: doc.getText('codemirror').toString() }
  doc.destroy()
  prefixes.set(n, prefix)
  return prefix
}

/** The data directories the ingests of {@link runColdLoadBySize} left, per system and size: each is ingested once. */
const histories = new Map<string, string>()

/**
 * Cold load by document size (issue 19's scaling curve): for each size, the trace's first updates ingested as
 * workload 1 does (one client, as fast as the socket takes them, until durably stored; then a graceful stop; once
 * per system and size), and the document opened by the system's own client on a freshly started server, as
 * workload 2 does. The client process must have loaded documents of these sizes before (an unmeasured pass per
 * client library): its first two loads of a 50,000-update document took 190-220 ms, the next ones 63-75 ms.
 */
export async function runColdLoadBySize(
  ctx: BenchContext,
  spec: SystemSpec,
  client: ColdLoadClient,
): Promise<ColdLoadBySizeResult> {
  const sizes: ColdLoadSize[] = []
  for (const n of coldLoadSizes(ctx.plan.scaling.coldLoadUpdates, ctx.trace.updates.length)) {
    const prefix = tracePrefix(ctx, n)
    const key = `${spec.id}:${n}`
    let historyDir = histories.get(key)
    if (!historyDir) {
      historyDir = (await runIngest(ctx, spec, prefix)).historyDir
      histories.set(key, historyDir)
    }
    const load = await runColdLoad(ctx, spec, historyDir, client, prefix.text)
    sizes.push({ updates: n, ms: load.ms, receivedMs: load.receivedMs, storedBytes: load.bytesBefore })
  }
  return { sizes }
}
