import { type MetricRow, row } from './metric-row.js'
import type { RunResults } from './results.js'
import type { FastClientResult } from './workloads/fast-client.js'
import { type FloodResult, type FloodRoom, floodRooms } from './workloads/flood.js'

const roomLabels: Record<FloodRoom, string> = { sameRoom: 'in the flooded room', otherRoom: 'in another room' }

/**
 * Workloads 9 and 10, on what ours's per-connection limits do (ours with its default limits, the peers as always):
 * a fast but honest client, and the others beside a flood.
 */
export function limitRows(r: RunResults): MetricRow[] {
  const fast = '9. Fast client, default limits'
  const updates = Math.min(r.plan.fastClient.updates, r.trace.updates).toLocaleString('en-US')
  const rows: MetricRow[] = [
    row(
      {
        workload: fast,
        label: `a stock client sends ${updates} updates at once: another holds the text`,
        unit: 'ms',
        better: 'lower',
      },
      r.fastClient,
      (x: FastClientResult) => x.relayMs ?? Number.NaN,
    ),
    row(
      { workload: fast, label: "the sender's own time to make and send them (one task)", unit: 'ms', better: 'info' },
      r.fastClient,
      (x: FastClientResult) => x.replayMs,
    ),
    row(
      {
        workload: fast,
        label: "the sender's connection closed (times, of all rounds)",
        unit: 'count',
        better: 'lower',
      },
      r.fastClient,
      (x: FastClientResult) => x.senderCloses.length,
      'sum',
    ),
  ]
  const flood = '10. Flood, default limits'
  for (const room of floodRooms) {
    const where = roomLabels[room]
    for (const p of [50, 99] as const) {
      const pick = (window: 'quiet' | 'flooded') => (x: FloodResult) =>
        p === 50 ? x[window][room].p50Ms : x[window][room].p99Ms
      rows.push(
        row(
          { workload: flood, label: `keystroke p${p} ${where}, no flood`, unit: 'ms', better: 'lower' },
          r.flood,
          pick('quiet'),
        ),
        row(
          { workload: flood, label: `keystroke p${p} ${where}, flooded`, unit: 'ms', better: 'lower' },
          r.flood,
          pick('flooded'),
        ),
      )
    }
    rows.push(
      row(
        {
          workload: flood,
          label: `keystroke p99 ${where}, flooded / no flood`,
          unit: 'ratio',
          better: 'lower',
          target: { value: 2, text: '<= 2x' },
        },
        r.flood,
        (x: FloodResult) => x.flooded[room].p99Ms / x.quiet[room].p99Ms,
      ),
    )
  }
  rows.push(
    row(
      { workload: flood, label: 'flood updates the server applied per second', unit: 'updates/s', better: 'info' },
      r.flood,
      (x: FloodResult) => x.floodAppliedPerSecond,
    ),
  )
  return rows
}
