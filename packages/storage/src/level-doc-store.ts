import { ClassicLevel } from 'classic-level'
import { type DocStats, emptyStats, statsNeedCompaction, storedBytes, storedRecords } from './doc-stats.js'
import {
  type CompactionPolicy,
  type DocInfo,
  type DocStore,
  DocumentUnreadableError,
  defaultCompactionPolicy,
} from './doc-store.js'
import { mergeUpdatesViaDoc } from './merge.js'
import { decodeRecord, encodeRecord, RecordKind } from './record.js'

/** Options of {@link LevelDocStore.open}. */
export interface LevelDocStoreOptions {
  /** Directory of the LevelDB database; created if missing. */
  path: string
  compaction?: Partial<CompactionPolicy>
  /**
   * fsync every batch. Off by default: a batch that was written survives `kill -9` of the process either way
   * (it is in the OS page cache); `sync` also makes it survive a power cut, at a large cost per batch.
   */
  sync?: boolean
}

type BatchOp = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string }
/** A change to a document's figures that takes effect when its batch is written. */
type StatsDelta = { name: string; snapshotBytes: number; tailUpdates: number; tailBytes: number }

interface DocState {
  /** Sequence number of the next appended record. */
  nextSeq: number
  stats: DocStats
  compacting: Promise<void> | null
}

interface PendingBatch {
  ops: BatchOp[]
  deltas: StatsDelta[]
  done: Promise<void>
  resolve: () => void
  reject: (err: unknown) => void
}

// Key layout (all strings; document names never contain control characters, see docNameError):
//   d\0<name>\0<seq: 12 hex digits>  a record: an update, or a snapshot of everything up to that seq
//   i\0<name>                        JSON DocInfo for listings, rewritten with every batch touching the document
const recordPrefix = (name: string) => `d\u0000${name}\u0000`
const recordKey = (name: string, seq: number) => recordPrefix(name) + seq.toString(16).padStart(12, '0')
const infoKey = (name: string) => `i\u0000${name}`
const infoRange = { gte: 'i\u0000', lt: 'i\u0001' }

function recordRange(name: string, upTo?: number): { gte: string; lte?: string; lt?: string } {
  const prefix = recordPrefix(name)
  return upTo === undefined ? { gte: prefix, lt: `d\u0000${name}\u0001` } : { gte: prefix, lte: recordKey(name, upTo) }
}

function seqOfKey(key: string): number {
  return Number.parseInt(key.slice(key.lastIndexOf('\u0000') + 1), 16)
}

/**
 * The embedded default store, on LevelDB. Appends from the whole process are written as one batch per tick
 * (group commit), documents keep their own sequence numbers (no global lock), and compaction is one atomic batch
 * that deletes the merged records and writes the snapshot under the last merged sequence number.
 */
export class LevelDocStore implements DocStore {
  private readonly docs = new Map<string, DocState>()
  private readonly initializing = new Map<string, Promise<DocState>>()
  private pending: PendingBatch | null = null
  private writing: Promise<void> | null = null
  private lastBatch: Promise<void> = Promise.resolve()
  private closed = false

  private constructor(
    private readonly db: ClassicLevel<string, Uint8Array>,
    private readonly policy: CompactionPolicy,
    private readonly sync: boolean,
  ) {}

  /** Opens (or creates) the database at `options.path`. Fails if another handle has it open. */
  static async open(options: LevelDocStoreOptions): Promise<LevelDocStore> {
    const db = new ClassicLevel<string, Uint8Array>(options.path, { keyEncoding: 'utf8', valueEncoding: 'view' })
    await db.open()
    return new LevelDocStore(db, { ...defaultCompactionPolicy, ...options.compaction }, options.sync ?? false)
  }

  async load(name: string): Promise<Uint8Array[]> {
    this.assertOpen()
    await this.settled()
    const updates: Uint8Array[] = []
    const stats = emptyStats()
    let lastSeq = 0
    for await (const [key, value] of this.db.iterator(recordRange(name))) {
      const record = decodeRecord(value)
      if (!record.ok) throw new DocumentUnreadableError(name, `record ${seqOfKey(key)}: ${record.error}`)
      updates.push(record.payload)
      lastSeq = seqOfKey(key)
      if (record.kind === RecordKind.Snapshot) stats.snapshotBytes += record.payload.length
      else {
        stats.tailUpdates++
        stats.tailBytes += record.payload.length
      }
    }
    if (!this.docs.has(name)) {
      stats.updatedAt = await this.readUpdatedAt(name)
      this.docs.set(name, { nextSeq: lastSeq + 1, stats, compacting: null })
    }
    return updates
  }

  async append(name: string, update: Uint8Array): Promise<void> {
    this.assertOpen()
    // Encoded (copied) before any await, so a caller that reuses its buffer cannot change what is stored.
    const record = encodeRecord(RecordKind.Update, update)
    const doc = this.docs.get(name) ?? (await this.initDoc(name))
    const seq = doc.nextSeq++
    return this.enqueue(
      [{ type: 'put', key: recordKey(name, seq), value: record }],
      [{ name, snapshotBytes: 0, tailUpdates: 1, tailBytes: update.length }],
    )
  }

  needsCompaction(name: string): boolean {
    const doc = this.docs.get(name)
    return doc !== undefined && doc.compacting === null && statsNeedCompaction(doc.stats, this.policy)
  }

  async compact(name: string, snapshot?: Uint8Array): Promise<void> {
    this.assertOpen()
    const doc = this.docs.get(name) ?? (await this.initDoc(name))
    // One compaction per document at a time; a second request while one runs is covered by the next threshold.
    if (doc.compacting) return doc.compacting
    const upTo = doc.nextSeq - 1
    if (upTo < 1) return
    doc.compacting = this.compactUpTo(name, upTo, snapshot).finally(() => {
      doc.compacting = null
    })
    return doc.compacting
  }

  private async compactUpTo(name: string, upTo: number, snapshot: Uint8Array | undefined): Promise<void> {
    // Records up to `upTo` may still sit in a batch; merge only what is on disk.
    await this.settled()
    const keys: string[] = []
    const payloads: Uint8Array[] = []
    const delta: StatsDelta = { name, snapshotBytes: 0, tailUpdates: 0, tailBytes: 0 }
    for await (const [key, value] of this.db.iterator(recordRange(name, upTo))) {
      const record = decodeRecord(value)
      if (!record.ok) throw new DocumentUnreadableError(name, `record ${seqOfKey(key)}: ${record.error}`)
      keys.push(key)
      if (snapshot === undefined) payloads.push(record.payload)
      if (record.kind === RecordKind.Snapshot) delta.snapshotBytes -= record.payload.length
      else {
        delta.tailUpdates--
        delta.tailBytes -= record.payload.length
      }
    }
    if (keys.length <= 1 && delta.tailUpdates === 0) return
    const merged = snapshot ?? mergeUpdatesViaDoc(payloads)
    delta.snapshotBytes += merged.length
    const ops: BatchOp[] = keys.map((key) => ({ type: 'del', key }))
    // The put comes after the deletes in the same batch, so it wins for its own key.
    ops.push({ type: 'put', key: recordKey(name, upTo), value: encodeRecord(RecordKind.Snapshot, merged) })
    await this.enqueue(ops, [delta])
    // Deleted records keep their disk space until LevelDB compacts the files holding them; asking for it now (it
    // runs on a background thread) makes the space come back when the document's log is merged, not eventually.
    await this.db.compactRange(recordPrefix(name), recordKey(name, upTo))
  }

  async list(): Promise<DocInfo[]> {
    this.assertOpen()
    await this.settled()
    const docs: DocInfo[] = []
    for await (const [key, value] of this.db.iterator(infoRange)) {
      const name = key.slice(2)
      const known = this.docs.get(name)
      if (known) {
        docs.push(infoOf(name, known.stats))
        continue
      }
      try {
        const info = JSON.parse(new TextDecoder().decode(value)) as Omit<DocInfo, 'name'>
        docs.push({ name, bytes: info.bytes, records: info.records, updatedAt: info.updatedAt })
      } catch {
        // The listing entry is only a cache of figures; the document itself is still listed.
        docs.push({ name, bytes: 0, records: 0, updatedAt: 0 })
      }
    }
    return docs
  }

  async delete(name: string): Promise<void> {
    this.assertOpen()
    await this.settled()
    const ops: BatchOp[] = [{ type: 'del', key: infoKey(name) }]
    for await (const key of this.db.keys(recordRange(name))) ops.push({ type: 'del', key })
    this.docs.delete(name)
    await this.db.batch(ops, { sync: this.sync })
  }

  flush(): Promise<void> {
    return this.lastBatch
  }

  async close(): Promise<void> {
    if (this.closed) return
    await this.settled()
    this.closed = true
    await this.db.close()
  }

  /** Waits for every batch queued so far, whether it succeeds or fails. */
  private settled(): Promise<void> {
    return this.lastBatch.then(
      () => undefined,
      () => undefined,
    )
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('LevelDocStore is closed')
  }

  private async readUpdatedAt(name: string): Promise<number> {
    const value = await this.db.get(infoKey(name))
    if (value === undefined) return 0
    try {
      const info = JSON.parse(new TextDecoder().decode(value)) as { updatedAt?: unknown }
      return typeof info.updatedAt === 'number' ? info.updatedAt : 0
    } catch {
      // Only a listing figure; the records themselves are intact.
      return 0
    }
  }

  /** Reads a document's figures and last sequence number, once, for documents written before being loaded. */
  private initDoc(name: string): Promise<DocState> {
    let init = this.initializing.get(name)
    if (!init) {
      init = (async () => {
        const stats = emptyStats()
        let lastSeq = 0
        for await (const [key, value] of this.db.iterator(recordRange(name))) {
          lastSeq = seqOfKey(key)
          const record = decodeRecord(value)
          const bytes = record.ok ? record.payload.length : value.length
          if (record.ok && record.kind === RecordKind.Snapshot) stats.snapshotBytes += bytes
          else {
            stats.tailUpdates++
            stats.tailBytes += bytes
          }
        }
        const existing = this.docs.get(name)
        if (existing) return existing
        const doc: DocState = { nextSeq: lastSeq + 1, stats, compacting: null }
        this.docs.set(name, doc)
        return doc
      })().finally(() => this.initializing.delete(name))
      this.initializing.set(name, init)
    }
    return init
  }

  /** Adds operations to the batch of this tick; resolves when that batch is written. */
  private enqueue(ops: BatchOp[], deltas: StatsDelta[]): Promise<void> {
    let batch = this.pending
    if (!batch) {
      let resolve!: () => void
      let reject!: (err: unknown) => void
      const done = new Promise<void>((res, rej) => {
        resolve = res
        reject = rej
      })
      batch = { ops: [], deltas: [], done, resolve, reject }
      this.pending = batch
      this.lastBatch = done
      // Callers that only wait (flush, settled) must not turn a failed write into an unhandled rejection.
      done.catch(() => undefined)
      if (!this.writing) setImmediate(() => this.drain())
    }
    for (const op of ops) batch.ops.push(op)
    for (const delta of deltas) batch.deltas.push(delta)
    return batch.done
  }

  private drain(): void {
    const batch = this.pending
    if (!batch || this.writing) return
    this.pending = null
    this.writing = this.writeBatch(batch).finally(() => {
      this.writing = null
      // Appends that arrived while this batch was being written form the next one.
      if (this.pending) this.drain()
    })
  }

  private async writeBatch(batch: PendingBatch): Promise<void> {
    const projected = new Map<string, DocStats>()
    const now = Date.now()
    for (const delta of batch.deltas) {
      const doc = this.docs.get(delta.name)
      if (!doc) continue
      const stats = projected.get(delta.name) ?? { ...doc.stats }
      stats.snapshotBytes += delta.snapshotBytes
      stats.tailUpdates += delta.tailUpdates
      stats.tailBytes += delta.tailBytes
      stats.updatedAt = now
      projected.set(delta.name, stats)
    }
    const ops = batch.ops
    for (const [name, stats] of projected) {
      const { name: _, ...info } = infoOf(name, stats)
      ops.push({ type: 'put', key: infoKey(name), value: new TextEncoder().encode(JSON.stringify(info)) })
    }
    try {
      await this.db.batch(ops, { sync: this.sync })
    } catch (err) {
      batch.reject(err)
      return
    }
    for (const [name, stats] of projected) {
      const doc = this.docs.get(name)
      if (doc) doc.stats = stats
    }
    batch.resolve()
  }
}

function infoOf(name: string, stats: DocStats): DocInfo {
  return { name, bytes: storedBytes(stats), records: storedRecords(stats), updatedAt: stats.updatedAt }
}
