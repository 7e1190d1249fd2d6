import type { CompactionPolicy } from './doc-store.js'

/** Running figures a store keeps per document to decide when to compact. */
export interface DocStats {
  snapshotBytes: number
  /** Updates stored after the last snapshot. */
  tailUpdates: number
  tailBytes: number
  updatedAt: number
}

export function emptyStats(): DocStats {
  return { snapshotBytes: 0, tailUpdates: 0, tailBytes: 0, updatedAt: 0 }
}

export function statsNeedCompaction(stats: DocStats, policy: CompactionPolicy): boolean {
  if (stats.tailUpdates === 0) return false
  return stats.tailUpdates >= policy.maxUpdates || stats.tailBytes >= Math.max(policy.maxBytes, stats.snapshotBytes)
}

export function storedBytes(stats: DocStats): number {
  return stats.snapshotBytes + stats.tailBytes
}

export function storedRecords(stats: DocStats): number {
  return (stats.snapshotBytes > 0 ? 1 : 0) + stats.tailUpdates
}
