import type { CompactionPolicy } from './doc-store.js'

/** Running figures a store keeps per document to decide when to compact. */
export interface DocStats {
  snapshotBytes: number
  /** Records stored after the last snapshot: one per append. */
  tailRecords: number
  tailBytes: number
  updatedAt: number
}

export function emptyStats(): DocStats {
  return { snapshotBytes: 0, tailRecords: 0, tailBytes: 0, updatedAt: 0 }
}

/**
 * Whether the tail is so long that a load should merge it (and store the snapshot) instead of returning it: twice
 * what makes a live document compact, so only a tail nothing compacted gets there (a server from before the record
 * threshold, a store written without a room). Applying each record has a fixed cost (decoding, integration, and in
 * a fresh process unoptimized code) that merging pays once for every later load.
 */
export function statsHaveLongTail(stats: DocStats, policy: CompactionPolicy): boolean {
  return stats.tailRecords > 0 && stats.tailRecords >= 2 * policy.maxRecords
}

export function statsNeedCompaction(stats: DocStats, policy: CompactionPolicy): boolean {
  if (stats.tailRecords === 0) return false
  return stats.tailRecords >= policy.maxRecords || stats.tailBytes >= Math.max(policy.maxBytes, stats.snapshotBytes)
}

export function storedBytes(stats: DocStats): number {
  return stats.snapshotBytes + stats.tailBytes
}

export function storedRecords(stats: DocStats): number {
  return (stats.snapshotBytes > 0 ? 1 : 0) + stats.tailRecords
}
