import type { Plan } from './plan.js'
import type { TraceUpdates } from './trace-updates.js'

/** A trace replayed into per-transaction updates, with what the workloads derive from it once. */
export interface BenchTrace extends TraceUpdates {
  name: string
  /** The final document encoded as one update (what a fully compacted store holds). */
  finalState: Uint8Array
  finalStateVector: Uint8Array
}

/** What every workload gets. */
export interface BenchContext {
  plan: Plan
  trace: BenchTrace
  /** A scratch directory for data directories; removed at the end of the run. */
  workDir: string
  log(line: string): void
  /** Aborted when the measurement runs out of time; long-running loops stop on it. */
  signal?: AbortSignal
}
