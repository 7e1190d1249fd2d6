import type { BenchContext } from '../context.js'
import { singleInstance, startDeploymentCpuWindow } from '../deployment.js'
import { percentile, sleep } from '../stats.js'
import type { SystemSpec } from '../systems.js'
import { TypingRooms } from '../typing-rooms.js'

/** Keystroke latency over one stretch of send times. */
export interface LatencyFigures {
  /** Keystroke deliveries expected (keystrokes sent times readers). */
  expected: number
  /** Of those, how many had not arrived a second after the last keystroke was sent: counted as infinitely late. */
  unarrived: number
  p50Ms: number
  p99Ms: number
}

export interface RecoveryResult {
  rooms: number
  /** Before the overload, at the steady rate. */
  baseline: LatencyFigures
  /** Keystrokes sent during the overload (they wait behind it: shown, not judged). */
  overload: LatencyFigures & { keystrokesPerSecond: number; serverCpu: number }
  /** Consecutive buckets of send time from the end of the overload on, back at the steady rate. */
  after: Array<LatencyFigures & { fromMs: number }>
  /** Keystrokes sent from {@link settledAfterMs} after the overload to the end: as many as the baseline's. */
  settled: LatencyFigures
  /** What the p99 of keystrokes sent from some time on must be within to count as back to the baseline. */
  boundMs: number
  /**
   * From the end of the overload until the first bucket start from which on the keystrokes sent (all of them
   * together, at least {@link minTailMs} of sending) have a p99 within {@link RecoveryResult.boundMs}; `null` if
   * none does.
   */
  recoveredMs: number | null
}

/** Where the settled stretch starts: the bound for being back (issue 19). */
export const settledAfterMs = 2_000
/**
 * The shortest stretch of sending whose p99 decides whether latency is back. One bucket (500 ms, 1,000 deliveries:
 * its p99 is its 10th-slowest keystroke) is far noisier than the baseline's 3 s: judged bucket by bucket, every
 * system looked "not back" most of the time, decided by one late bucket out of ten, also with no overload at all.
 */
const minTailMs = 2_000

/**
 * Recovery after an overload (issue 19): rooms of three type at a steady rate; then for `overloadMs` every writer
 * types `overloadFactor` times as fast, more than a core can relay for any of the servers compared; then back at
 * the steady rate, the latency of keystrokes sent in each following bucket of `bucketMs`. A server that recovers
 * has keystrokes sent a second or two after the overload as fast as before it; one that keeps a queue (or makes a
 * keystroke wait for a later one) does not. Keystrokes are matched by clock (keystrokes.ts), so a server that
 * merges a writer's keystrokes under load is measured correctly.
 */
export async function runRecovery(ctx: BenchContext, spec: SystemSpec): Promise<RecoveryResult> {
  const plan = ctx.plan.recovery
  const deployment = await singleInstance(ctx, spec, 'recovery')
  const url = deployment.urls[0]!
  const arrivals: Array<{ sentAt: number; latency: number }> = []
  const sends: Array<{ at: number; readers: number }> = []
  const typing = new TypingRooms(
    'recovery',
    spec.client,
    plan.keystrokesPerSecond,
    (latency, sentAt) => arrivals.push({ sentAt, latency }),
    (readers, at) => sends.push({ at, readers }),
  )
  try {
    for (let i = 0; i < plan.rooms; i++) await typing.add(() => url)
    typing.start()
    await sleep(plan.settleMs)
    const baselineFrom = performance.now()
    await sleep(plan.baselineMs)
    const overloadFrom = performance.now()
    typing.setRate(plan.keystrokesPerSecond * plan.overloadFactor)
    const cpu = startDeploymentCpuWindow(deployment)
    await sleep(plan.overloadMs)
    const serverCpu = Math.max(...cpu().instances)
    const overloadTo = performance.now()
    typing.setRate(plan.keystrokesPerSecond)
    await sleep(plan.afterMs)
    const afterTo = performance.now()
    // Connected a second longer: the last keystrokes get as long to arrive as the others had.
    typing.pause()
    await sleep(1_000)
    const figuresOf = (from: number, to: number): LatencyFigures => {
      const latencies = arrivals.filter((a) => a.sentAt >= from && a.sentAt < to).map((a) => a.latency)
      const expected = sends.filter((s) => s.at >= from && s.at < to).reduce((sum, s) => sum + s.readers, 0)
      const unarrived = Math.max(0, expected - latencies.length)
      const all = [...latencies, ...Array<number>(unarrived).fill(Number.POSITIVE_INFINITY)]
      return { expected, unarrived, p50Ms: percentile(all, 50), p99Ms: percentile(all, 99) }
    }
    const baseline = figuresOf(baselineFrom, overloadFrom)
    const boundMs = Math.max(baseline.p99Ms * 1.5, baseline.p99Ms + 2)
    const after: RecoveryResult['after'] = []
    for (let from = overloadTo; from + plan.bucketMs <= afterTo + 1; from += plan.bucketMs)
      after.push({ fromMs: Math.round(from - overloadTo), ...figuresOf(from, from + plan.bucketMs) })
    let recoveredMs: number | null = null
    for (let fromMs = 0; fromMs + minTailMs <= plan.afterMs; fromMs += plan.bucketMs) {
      if (figuresOf(overloadTo + fromMs, afterTo).p99Ms <= boundMs) {
        recoveredMs = fromMs
        break
      }
    }
    return {
      rooms: plan.rooms,
      baseline,
      overload: {
        ...figuresOf(overloadFrom, overloadTo),
        keystrokesPerSecond: plan.rooms * plan.keystrokesPerSecond * plan.overloadFactor,
        serverCpu,
      },
      after,
      settled: figuresOf(overloadTo + settledAfterMs, afterTo),
      boundMs,
      recoveredMs,
    }
  } finally {
    typing.stop()
    await deployment.stop()
  }
}
