import type { InProcessFloors } from './floors.js'
import type { MeasurementHealth } from './health.js'
import type { Plan } from './plan.js'
import type { SystemId } from './systems.js'
import type { AwarenessResult } from './workloads/awareness.js'
import type { BrowserResult } from './workloads/browser.js'
import type { CapacityResult } from './workloads/capacity.js'
import type { ColdLoadResult, StoreLeftResult } from './workloads/cold-load.js'
import type { FastClientResult } from './workloads/fast-client.js'
import type { FloodResult } from './workloads/flood.js'
import type { HistoryResult } from './workloads/history.js'
import type { HttpTransportResult } from './workloads/http-transport.js'
import type { IdleMemoryResult } from './workloads/idle-memory.js'
import type { IngestResult } from './workloads/ingest.js'
import type { OtEchoResult, OtPushResult } from './workloads/ot.js'
import type { StormResult } from './workloads/reconnect-storm.js'
import type { RecoveryResult } from './workloads/recovery.js'
import type { RelayResult } from './workloads/relay.js'
import type { ColdLoadBySizeResult, ScalingResult } from './workloads/scaling.js'

/**
 * A run that threw, or during which a server process died or a connection closed: kept in the results so a
 * failure is visible instead of silently missing, and never read as the system's behaviour.
 */
export interface Failed {
  error: string
  /** What the process and connection watch recorded (see health.ts), when it recorded anything wrong. */
  cause?: string
  /** The servers' last log lines, written beside the results (relative to bench/). */
  serverLog?: string
}

/** One measurement's watch, kept for every measurement whether it failed or not. */
export interface MeasurementRecord extends MeasurementHealth {
  workload: string
  system: SystemId
  failed: boolean
  serverLog?: string
}

/** Every repetition of one workload, per system. */
export type Runs<T> = Partial<Record<SystemId, Array<T | Failed>>>

/** Everything one `npm run bench` measured; written to results/<date>.json. */
export interface RunResults {
  date: string
  startedAt: string
  durationSeconds: number
  machine: {
    cpus: number
    cpuModel: string
    node: string
    pinned: boolean
    /** Scheduling priority of the load generator and the servers. */
    priority: string
    /** 1-minute load average sampled every 5 s over the run. */
    loadAverage: { min: number; median: number; max: number }
    /** CPU other processes on the machine used during each workload, in cores (0 to the number of cores). */
    otherProcessesCpu: Record<string, number>
  }
  versions: Record<string, string>
  /**
   * Every measurement in order: whether each server process was still alive at its end (exit code or signal if
   * not), the close codes of its connections and the acknowledgements its clients received.
   */
  measurements: MeasurementRecord[]
  plan: Plan
  trace: { name: string; updates: number; bytes: number }
  floors: InProcessFloors
  durability: Record<string, string>
  ingest: Runs<IngestResult>
  coldLoad: Runs<ColdLoadResult>
  /** Ours only: the server-side load after each way a server can leave its store. */
  coldLoadLeft: Runs<StoreLeftResult>
  relay: Record<number, Runs<RelayResult>>
  capacity: Runs<CapacityResult>
  idle: Runs<IdleMemoryResult>
  storm: Runs<StormResult>
  awareness: Runs<AwarenessResult>
  /**
   * Relay keyed by the number of instances, capacity by the layout's label (`clusterLayoutLabel`); `error` when
   * Redis or PostgreSQL could not be started.
   */
  cluster: {
    relay: Record<number, Runs<RelayResult>>
    capacity: Record<string, Runs<CapacityResult>>
    error?: string
  }
  /** Ours with its default limits (see `oursWithDefaultLimits`), as the peers. */
  fastClient: Runs<FastClientResult>
  /** Ours with its default limits, as the peers. */
  flood: Runs<FloodResult>
  /**
   * Ours only (no peer speaks @codemirror/collab): lagging clients' pushes, push-to-echo latency, and the relay
   * workload on a document no OT client ever opened.
   */
  ot: { pushes: Runs<OtPushResult>; echo: Runs<OtEchoResult>; yjsOnly: Runs<RelayResult> }
  /** Ours only (no peer keeps versions): listing and rebuilding the versions of the trace's document. */
  history?: Runs<HistoryResult>
  /** Latency before and after a 10 s overload. */
  recovery: Runs<RecoveryResult>
  /** CPU per delivery at 1x, 2x and 4x the rooms. */
  scaling: Runs<ScalingResult>
  /** Cold load of the trace's first 10k and 50k updates and of all of it (absent from runs before 2026-12-02). */
  coldLoadBySize?: Runs<ColdLoadBySizeResult>
  /** Ours only (no peer has an HTTP transport): delivery and cost on HTTP beside WebSocket. */
  httpTransport?: Runs<HttpTransportResult>
  /** Keystroke to another tab in Chromium, each system with its own editor page (absent before 2026-12-02). */
  browser?: Runs<BrowserResult>
}

/** The cause of a failed run: what the watch recorded, or the first line of the error. */
export function failureText(failed: Failed): string {
  return failed.cause ?? failed.error.split('\n')[0] ?? 'failed'
}

export function isFailed<T>(value: T | Failed): value is Failed {
  return typeof value === 'object' && value !== null && 'error' in value
}

/** The successful repetitions of `system` in `runs`. */
export function successes<T>(runs: Runs<T>, system: SystemId): T[] {
  return (runs[system] ?? []).filter((run): run is T => !isFailed(run))
}
