import { randomUUID } from 'node:crypto'
import {
  type DocStats,
  emptyStats,
  statsHaveLongTail,
  statsNeedCompaction,
  storedBytes,
  storedRecords,
} from './doc-stats.js'
import {
  type CompactionPolicy,
  type DocInfo,
  type DocStore,
  defaultCompactionPolicy,
  type SideWrite,
} from './doc-store.js'
import { mergeStoredUpdates } from './merge.js'
import { type Clocks, clocksOfUpdates, decodeClocks, encodeClocks, raiseClocks } from './state-vector.js'

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
  private readonly tombstones = new Map<string, Clocks>()
  private readonly incarnations = new Map<string, string>()
  /** Side records per document, by key. */
  private readonly side = new Map<string, Map<string, Uint8Array>>()
  private readonly policy: CompactionPolicy
  private closed = false

  constructor(options: MemoryDocStoreOptions = {}) {
    this.policy = { ...defaultCompactionPolicy, ...options.compaction }
  }

  async load(name: string): Promise<Uint8Array[]> {
    this.assertOpen()
    const doc = this.docs.get(name)
    if (!doc) return []
    // As the other stores do: a long tail is merged once on load, so later loads apply one record.
    if (statsHaveLongTail(doc.stats, this.policy)) this.replaceBySnapshot(doc, mergeStoredUpdates(name, recordsOf(doc)))
    return recordsOf(doc)
  }

  async append(name: string, update: Uint8Array, side?: readonly SideWrite[]): Promise<void> {
    this.assertOpen()
    if (side) this.applySide(name, side)
    const doc = this.docOf(name)
    // Copy: the caller may reuse the buffer, and a stored document must not change behind the store's back.
    doc.updates.push(update.slice())
    doc.stats.tailRecords++
    doc.stats.tailBytes += update.length
    doc.stats.updatedAt = Date.now()
  }

  async readSide(name: string, prefix: string): Promise<Array<[key: string, value: Uint8Array]>> {
    this.assertOpen()
    const records = this.side.get(name)
    if (!records) return []
    return [...records]
      .filter(([key]) => key.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, value]) => [key, value.slice()])
  }

  async writeSide(name: string, writes: readonly SideWrite[]): Promise<void> {
    this.assertOpen()
    this.applySide(name, writes)
  }

  private applySide(name: string, writes: readonly SideWrite[]): void {
    let records = this.side.get(name)
    if (!records) {
      records = new Map()
      this.side.set(name, records)
    }
    for (const write of writes) {
      if ('from' in write) {
        for (const key of [...records.keys()]) if (key >= write.from && key < write.to) records.delete(key)
      } else if (write.value === null) records.delete(write.key)
      else records.set(write.key, write.value.slice())
    }
  }

  needsCompaction(name: string): boolean {
    const doc = this.docs.get(name)
    return doc !== undefined && statsNeedCompaction(doc.stats, this.policy)
  }

  async compact(name: string, snapshot?: Uint8Array): Promise<void> {
    this.assertOpen()
    const doc = this.docs.get(name)
    if (!doc || doc.updates.length === 0) return
    this.replaceBySnapshot(doc, snapshot ?? mergeStoredUpdates(name, recordsOf(doc)))
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

  async delete(name: string, stateVector?: Uint8Array): Promise<void> {
    this.assertOpen()
    const given = stateVector === undefined ? undefined : decodeClocks(name, stateVector)
    const doc = this.docs.get(name)
    const clocks = given ?? clocksOfUpdates(doc ? recordsOf(doc) : [])
    this.tombstones.set(name, raiseClocks(this.tombstones.get(name) ?? new Map(), clocks))
    this.docs.delete(name)
    this.side.delete(name)
    this.incarnations.delete(name)
  }

  async incarnation(name: string): Promise<string> {
    this.assertOpen()
    let id = this.incarnations.get(name)
    if (id === undefined) {
      id = randomUUID()
      this.incarnations.set(name, id)
    }
    return id
  }

  async tombstone(name: string): Promise<Uint8Array | null> {
    this.assertOpen()
    const clocks = this.tombstones.get(name)
    return clocks === undefined ? null : encodeClocks(clocks)
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true
  }

  private replaceBySnapshot(doc: MemoryDoc, snapshot: Uint8Array): void {
    doc.snapshot = snapshot.slice()
    doc.updates = []
    doc.stats = { ...doc.stats, snapshotBytes: snapshot.length, tailRecords: 0, tailBytes: 0 }
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

/** What is stored for `doc`, oldest first. */
function recordsOf(doc: MemoryDoc): Uint8Array[] {
  return doc.snapshot ? [doc.snapshot, ...doc.updates] : [...doc.updates]
}
