import type { VersionMeta } from './version-records.js'

/**
 * When the server makes a version by itself (docs/OPERATIONS.md, "Version history"). Each rule applies only when
 * the document changed since its latest version.
 */
export interface VersionRules {
  /** After a burst of editing, once the document has gone this long without an edit. Default 60 s. */
  quietMs: number
  /** During a long session, at least this often, counted from the first edit after the latest version. Default 10 min. */
  maxIntervalMs: number
  /**
   * After this many stored updates (one per burst a client sends) since the latest version; 0 turns the rule off
   * (the default). Tests and the benchmark use it to make a version every 1,000 updates of a trace.
   */
  maxUpdates: number
  /** When the last connection leaves the document, and when it unloads. Default true. */
  whenLastLeaves: boolean
}

/** The default {@link VersionRules}. */
export const defaultVersionRules: VersionRules = {
  quietMs: 60_000,
  maxIntervalMs: 10 * 60_000,
  maxUpdates: 0,
  whenLastLeaves: true,
}

const hourMs = 3_600_000
const dayMs = 24 * hourMs

/**
 * The unnamed versions to drop as they age: every version of the last hour is kept; of the versions between an hour
 * and a day old, the newest of each clock hour (UTC); of older ones, the newest of each day (UTC). Named versions
 * are kept until someone deletes them, and the latest version always stays (the next delta starts from it).
 * Time comes from the caller, so the policy is exact under test.
 */
export function versionsToThin(metas: readonly VersionMeta[], now: number): number[] {
  const latest = metas.reduce((max, meta) => Math.max(max, meta.id), 0)
  const newestOfBucket = new Map<string, VersionMeta>()
  const candidates: VersionMeta[] = []
  for (const meta of metas) {
    const age = now - meta.at
    if (meta.id === latest || meta.name !== undefined || meta.hidden || age < hourMs) continue
    candidates.push(meta)
    const bucket = age < dayMs ? `h${Math.floor(meta.at / hourMs)}` : `d${Math.floor(meta.at / dayMs)}`
    const newest = newestOfBucket.get(bucket)
    if (!newest || meta.at > newest.at || (meta.at === newest.at && meta.id > newest.id)) {
      newestOfBucket.set(bucket, meta)
    }
  }
  const kept = new Set(newestOfBucket.values())
  return candidates.filter((meta) => !kept.has(meta)).map((meta) => meta.id)
}
