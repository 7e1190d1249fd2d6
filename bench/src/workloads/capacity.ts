import type { BenchContext } from '../context.js'
import { type Launcher, singleInstance, startDeploymentCpuWindow } from '../deployment.js'
import { machineBusySeconds, startCpuWindow } from '../proc-stats.js'
import { inBatches, percentile, sleep } from '../stats.js'
import type { SystemSpec } from '../systems.js'
import { TypingRooms } from '../typing-rooms.js'

/** One load level of the capacity search. */
export interface CapacityStep {
  rooms: number
  p50Ms: number
  p99Ms: number
  /** CPU of the busiest server instance over the window, as a fraction of its core. */
  serverCpu: number
  /** CPU of every instance, each as a fraction of its core (one entry for a single instance). */
  instancesCpu: number[]
  /** CPU of the services the instances share (Redis, PostgreSQL), in cores; 0 without. */
  servicesCpu: number
  loadgenCpu: number
  /** Keystrokes sent in the window that some reader had not received a second after it. */
  late: number
  /** CPU other processes used over the window, in cores: work on the machine neither this bench nor its services did. */
  otherCpu: number
  passed: boolean
}

export interface CapacityResult {
  /** Most rooms held with p99 within the limit and the server core not saturated. */
  roomsHeld: number
  clientsHeld: number
  /** Why the search stopped. */
  stoppedBy: 'latency' | 'server cpu' | 'load generator' | 'connecting' | 'cap'
  steps: CapacityStep[]
}

/** CPU of other processes (in cores) above which a window says more about the machine than about the server. */
const disturbedCpu = 0.2

const pct = (fraction: number) => `${(fraction * 100).toFixed(0)}%`

/** How many times the search halves the gap between the last level that held and the first that failed. */
const refinements = 3
/** Levels of the refined search are multiples of this many rooms. */
const refineStep = 25

/** Longest a step may take to connect its new rooms; a server that cannot take them has reached its capacity. */
const growTimeoutMs = 15_000

/**
 * How a load balancer in front of several instances places clients: `round-robin` gives each new connection to the
 * next instance (nginx's default and `least_conn` alike, for connections that stay open), so a room of three has
 * clients on several instances; `by-document` sends every client of a document to the same instance (nginx
 * `hash $uri consistent`), so a room lives on one instance. The same with one instance.
 */
export type Placement = 'round-robin' | 'by-document'

/**
 * Capacity: rooms of three clients (one typing at a steady rate, two listening) are added in doubling steps until
 * p99 relay latency exceeds the limit or the server's core is saturated, then the gap between the last level that
 * held and the first that failed is halved a few times, up or down. Every room types continuously from the moment
 * it joins.
 */
export async function runCapacity(
  ctx: BenchContext,
  spec: SystemSpec,
  launch: Launcher = singleInstance,
  placement: Placement = 'round-robin',
): Promise<CapacityResult> {
  const plan = ctx.plan.capacity
  const deployment = await launch(ctx, spec, 'capacity')
  const { urls } = deployment
  let connections = 0
  const urlFor = (roomIndex: number) =>
    placement === 'by-document' ? urls[roomIndex % urls.length]! : urls[connections++ % urls.length]!
  const steps: CapacityStep[] = []
  // Receipts of keystrokes sent inside the current window: [latency, ...]; late ones are counted at its end.
  let window: { from: number; to: number; latencies: number[]; expected: number } | null = null
  const typing = new TypingRooms(
    'capacity',
    spec.client,
    plan.keystrokesPerSecond,
    (latency, sent) => {
      if (window && sent >= window.from && sent < window.to) window.latencies.push(latency)
    },
    (readers, at) => {
      if (window && at >= window.from && at < window.to) window.expected += readers
    },
  )
  const { rooms } = typing
  const measure = async (): Promise<CapacityStep> => {
    await sleep(plan.settleMs)
    const from = performance.now()
    window = { from, to: from + plan.windowMs, latencies: [], expected: 0 }
    const serverWindow = startDeploymentCpuWindow(deployment)
    const machineStart = machineBusySeconds()
    const loadgen = startCpuWindow()
    await sleep(plan.windowMs)
    const seconds = (performance.now() - from) / 1000
    const used = serverWindow()
    const serverCpu = Math.max(...used.instances)
    const loadgenUsed = loadgen()
    const loadgenCpu = loadgenUsed.fraction
    const otherCpu =
      Math.max(
        0,
        machineBusySeconds() - machineStart - used.instancesSeconds - used.servicesSeconds - loadgenUsed.seconds,
      ) / seconds
    await sleep(1_000)
    const current = window
    window = null
    const late = Math.max(0, current.expected - current.latencies.length)
    // A keystroke that did not arrive counts as slower than any that did.
    const latencies = [...current.latencies, ...Array<number>(late).fill(Number.POSITIVE_INFINITY)]
    const p99Ms = percentile(latencies, 99)
    return {
      rooms: rooms.length,
      p50Ms: percentile(latencies, 50),
      p99Ms,
      serverCpu,
      instancesCpu: used.instances,
      servicesCpu: used.services,
      loadgenCpu,
      late,
      otherCpu,
      passed: p99Ms <= plan.p99LimitMs && serverCpu < plan.cpuLimit,
    }
  }
  /**
   * Measures the current level; a level that fails is measured again and fails only if that fails too, so a single
   * hiccup (a GC of the load generator) does not end the search. A window in which other processes took a fifth of
   * a core or more does not count as a failure of the server: it is measured again, up to 4 windows in all.
   */
  const measureLevel = async (): Promise<CapacityStep> => {
    let failures = 0
    for (let attempt = 1; ; attempt++) {
      const step = await measure()
      steps.push(step)
      const disturbed = step.otherCpu >= disturbedCpu
      if (!step.passed && !disturbed) failures++
      const last = step.passed || failures >= 2 || attempt >= 4
      ctx.log(
        `    ${spec.id}: ${step.rooms} rooms p50 ${step.p50Ms.toFixed(1)} ms p99 ${step.p99Ms.toFixed(1)} ms, server cpu ${step.instancesCpu.map(pct).join(' + ')}${deployment.urls.length > 1 || step.servicesCpu > 0 ? `, services ${pct(step.servicesCpu)}` : ''}, load generator ${pct(step.loadgenCpu)}, other processes ${pct(step.otherCpu)}${last ? '' : disturbed ? ': disturbed, measuring again' : ': measuring again'}`,
      )
      if (last) return step
    }
  }
  /** Set when a step gave up connecting: the rooms not yet started are not added. */
  let abandoned = false
  /**
   * Adds rooms up to `target`; false if the server did not take them within the time allowed. Then the rooms whose
   * clients are connecting are given as long again to finish (they join the level or are left out), no new ones start.
   */
  const growTo = async (target: number): Promise<boolean> => {
    const indexes = Array.from({ length: target - rooms.length }, (_, i) => rooms.length + i)
    abandoned = false
    let timer: NodeJS.Timeout | undefined
    const growing = inBatches(indexes, 50, async () => {
      if (!ctx.signal?.aborted && !abandoned) await typing.add(urlFor)
    })
    const grown = await Promise.race([
      growing.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), growTimeoutMs)
      }),
    ])
    clearTimeout(timer)
    if (!grown) {
      abandoned = true
      await Promise.race([growing, sleep(growTimeoutMs)])
    }
    return grown
  }
  let stoppedBy: CapacityResult['stoppedBy'] = 'cap'
  /** The fewest rooms that failed: by latency or CPU, or because the server could not take them in time. */
  let failedAt = 0
  const connectFailed = (target: number) =>
    ctx.log(
      `    ${spec.id}: could not connect ${target} rooms within ${growTimeoutMs / 1000} s (${rooms.length} joined)`,
    )
  try {
    typing.start()
    let target = plan.startRooms
    for (;;) {
      const growing = performance.now()
      const grown = await growTo(target)
      ctx.log(
        `    ${spec.id}: ${rooms.length} rooms connected (${((performance.now() - growing) / 1000).toFixed(1)} s)`,
      )
      if (!grown) {
        connectFailed(target)
        stoppedBy = 'connecting'
        failedAt = target
        break
      }
      const step = await measureLevel()
      if (!step.passed) {
        stoppedBy = step.p99Ms > plan.p99LimitMs ? 'latency' : 'server cpu'
        failedAt = target
        break
      }
      if (step.loadgenCpu > 0.9) {
        stoppedBy = 'load generator'
        break
      }
      if (target >= plan.maxRooms) break
      target = Math.min(plan.maxRooms, target * 2)
    }
    // Finer steps: halve the gap between the most rooms that held and the fewest that did not, a few times, going
    // back down from an overload as well as up (a server must recover once the load drops). A level whose rooms
    // could not all connect in time fails like one over the latency limit; when the first level fails, the search
    // goes down from it (a layout that holds 150 rooms is not one that holds none).
    let held = steps.filter((s) => s.passed).at(-1)?.rooms ?? 0
    for (let refinement = 0; refinement < refinements && failedAt > 0; refinement++) {
      const target = Math.round((held + failedAt) / 2 / refineStep) * refineStep
      if (target <= held || target >= failedAt) break
      if (target < rooms.length) typing.shrinkTo(target)
      else if (!(await growTo(target))) {
        connectFailed(target)
        failedAt = target
        continue
      }
      // Rooms that finished joining after a step gave up may leave more than the target: back to it.
      if (rooms.length > target) typing.shrinkTo(target)
      // The level is what was measured: rooms still finishing their handshakes may have joined meanwhile.
      const step = await measureLevel()
      if (step.passed) held = step.rooms
      else failedAt = step.rooms
    }
    // The most rooms of a level whose last measurement passed.
    const verdicts = new Map<number, boolean>()
    for (const step of steps) verdicts.set(step.rooms, step.passed)
    const roomsHeld = Math.max(0, ...[...verdicts].filter(([, passed]) => passed).map(([rooms]) => rooms))
    return { roomsHeld, clientsHeld: roomsHeld * 3, stoppedBy, steps }
  } finally {
    typing.stop()
    await deployment.stop()
  }
}
