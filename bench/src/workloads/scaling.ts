import type { BenchContext } from '../context.js'
import { singleInstance, startDeploymentCpuWindow } from '../deployment.js'
import { inBatches, percentile, sleep } from '../stats.js'
import type { SystemSpec } from '../systems.js'
import { TypingRooms } from '../typing-rooms.js'

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
