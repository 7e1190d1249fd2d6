import { readFileSync } from 'node:fs'
import type { ServerProcess } from '@collab/test-support'
import * as Y from 'yjs'

/** Bytes to MB with one decimal, for report lines. */
export const mb = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 10) / 10

/**
 * Resident memory of a process in bytes (VmRSS of /proc/<pid>/status): what the machine really gives it, heap,
 * buffers and queued socket data alike. `null` once the process is gone.
 */
export function residentBytes(pid: number): number | null {
  let status: string
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]
  // A zombie (exited, not yet reaped) has no VmRSS line.
  return kb === undefined ? null : Number(kb) * 1024
}

/**
 * CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat, or `null` once it is gone. Linux
 * counts them in clock ticks of 10 ms (USER_HZ is 100 on every mainstream kernel).
 */
export function cpuSeconds(pid: number): number | null {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
  // The command name (field 2) may contain spaces; utime and stime are fields 14 and 15 of the whole line.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** Resident memory of a process sampled over a while: what it started at and the most it reached. */
export interface MemoryTracker {
  readonly baselineBytes: number
  /** The highest sample so far (including the baseline). */
  readonly peakBytes: number
  /** Stops sampling; returns the peak growth above the baseline in bytes. */
  stop(): number
}

/**
 * Samples the resident memory of `pid` every `everyMs` from now on. A short-lived peak (a burst of queued answers
 * freed again a second later) is what a memory attack looks like, so sampling is frequent.
 */
export function trackResidentMemory(pid: number, everyMs = 50): MemoryTracker {
  const baseline = residentBytes(pid)
  if (baseline === null) throw new RangeError(`process ${pid} is not running; no memory to track`)
  let peak = baseline
  const sample = () => {
    const now = residentBytes(pid)
    if (now !== null) peak = Math.max(peak, now)
  }
  const timer = setInterval(sample, everyMs)
  return {
    baselineBytes: baseline,
    get peakBytes() {
      return peak
    },
    stop() {
      clearInterval(timer)
      sample()
      return peak - baseline
    },
  }
}

/** Whether the server process has not exited. */
export function isRunning(server: ServerProcess): boolean {
  return server.child.exitCode === null && server.child.signalCode === null
}

/** The HTTP status of `GET /healthz`, or the reason it did not answer within `timeoutMs`. */
export async function healthStatus(url: string, timeoutMs = 2_000): Promise<number | string> {
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(timeoutMs) })
    await res.arrayBuffer()
    return res.status
  } catch (err) {
    return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
  }
}

/** A document as the server serves it over HTTP. */
export interface ServedDoc {
  status: number
  /** For 200: the Yjs state as served, and applied to a new Y.Doc (the caller destroys it). */
  state: Uint8Array | null
  doc: Y.Doc | null
}

/** `GET /api/docs/<name>` as `application/octet-stream`; rejects when the server does not answer within `timeoutMs`. */
export async function fetchServedDoc(url: string, name: string, timeoutMs = 10_000): Promise<ServedDoc> {
  const res = await fetch(`${url}/api/docs/${encodeURIComponent(name)}`, {
    headers: { accept: 'application/octet-stream' },
    signal: AbortSignal.timeout(timeoutMs),
  })
  const body = new Uint8Array(await res.arrayBuffer())
  if (res.status !== 200) return { status: res.status, state: null, doc: null }
  const doc = new Y.Doc()
  Y.applyUpdate(doc, body)
  return { status: res.status, state: body, doc }
}
