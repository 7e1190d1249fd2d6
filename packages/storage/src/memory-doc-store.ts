import { type DocStats, emptyStats, statsNeedCompaction, storedBytes, storedRecords } from './doc-stats.js'
import { type CompactionPolicy, type DocInfo, type DocStore, defaultCompactionPolicy } from './doc-store.js'
import { mergeUpdatesViaDoc } from './merge.js'

interface MemoryDoc {
  snapshot: Uint8Array | null
  updates: Uint8Array[]
  stats: DocStats
}

/** Options of {@link MemoryDocStore}. */
export interface MemoryDocStoreOptions {
  compaction?: Partial<CompactionPolicy>
}

/**
 * A store that keeps documents in memory, for tests and for servers that must not touch the disk.
 * Nothing survives the process.
 */
export class MemoryDocStore implements DocStore {
  private readonly docs = new Map<string, MemoryDoc>()
  private readonly policy: CompactionPolicy
  private closed = false

  constructor(options: MemoryDocStoreOptions = {}) {
    this.policy = { ...defaultCompactionPolicy, ...options.compaction }
  }

  async load(name: string): Promise<Uint8Array[]> {
    this.assertOpen()
    const doc = this.docs.get(name)
    if (!doc) return []
    return doc.snapshot ? [doc.snapshot, ...doc.updates] : [...doc.updates]
  }

  async append(name: string, update: Uint8Array): Promise<void> {
    this.assertOpen()
    const doc = this.docOf(name)
    // Copy: the caller may reuse the buffer, and a stored document must not change behind the store's back.
    doc.updates.push(update.slice())
    doc.stats.tailUpdates++
    doc.stats.tailBytes += update.length
    doc.stats.updatedAt = Date.now()
  }

  needsCompaction(name: string): boolean {
    const doc = this.docs.get(name)
    return doc !== undefined && statsNeedCompaction(doc.stats, this.policy)
  }

  async compact(name: string, snapshot?: Uint8Array): Promise<void> {
    this.assertOpen()
    const doc = this.docs.get(name)
    if (!doc || doc.updates.length === 0) return
    const merged = snapshot ?? mergeUpdatesViaDoc(doc.snapshot ? [doc.snapshot, ...doc.updates] : doc.updates)
    doc.snapshot = merged.slice()
    doc.updates = []
    doc.stats = { ...doc.stats, snapshotBytes: merged.length, tailUpdates: 0, tailBytes: 0 }
  }

  async list(): Promise<DocInfo[]> {
    this.assertOpen()
    return [...this.docs].map(([name, doc]) => ({
      name,
      bytes: storedBytes(doc.stats),
      records: storedRecords(doc.stats),
      updatedAt: doc.stats.updatedAt,
    }))
  }

  async delete(name: string): Promise<void> {
    this.assertOpen()
    this.docs.delete(name)
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true
  }

  private docOf(name: string): MemoryDoc {
    let doc = this.docs.get(name)
    if (!doc) {
      doc = { snapshot: null, updates: [], stats: emptyStats() }
      this.docs.set(name, doc)
    }
    return doc
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('MemoryDocStore is closed')
  }
}
