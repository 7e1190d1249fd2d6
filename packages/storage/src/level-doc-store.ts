import { randomUUID } from 'node:crypto'
import { ClassicLevel } from 'classic-level'
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
  DocumentUnreadableError,
  defaultCompactionPolicy,
  type SideWrite,
  type StoreLogger,
} from './doc-store.js'
import { mergeStoredUpdates } from './merge.js'
import { decodeRecord, encodeRecord, RecordKind } from './record.js'
import { type Rewritable, Rewrites } from './rewrites.js'
import { type Clocks, clocksOfUpdates, decodeClocks, encodeClocks, raiseClocks } from './state-vector.js'

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
  /** Where background work reports failures: a compaction started by a load (the records are then kept). */
  logger?: StoreLogger
}

type BatchOp = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string }
/** A range of keys to delete, resolved into single deletes when its batch is written. */
type RangeDelete = { gte: string; lt: string }
/**
 * A change to a document's figures that takes effect when its batch is written: added to them, or, with `reset`,
 * replacing them by those of a document with no records (a deletion).
 */
type StatsDelta = {
  name: string
  snapshotBytes: number
  tailRecords: number
  tailBytes: number
  reset?: true
  /** Only the listing entry is due: written with the figures as they are, `updatedAt` included. */
  listing?: true
}

/**
 * How often at most a document's listing entry is rewritten while it is being written to. It was rewritten with every
 * batch touching the document, one of the two LevelDB operations per keystroke (about two thirds of its bytes):
 * appending 12,000 keystrokes to 400 documents at 2,000/s cost 31.9 instead of 35.4 us of CPU each. The entry is written at once when the
 * document has none this process wrote (so a new document is listed from its first write, also after a crash) and
 * when it goes; otherwise its figures may lag up to this long behind, on disk only: `list` reports the live ones of
 * the documents in use, and `close` and `forget` write what is due.
 */
const listingIntervalMs = 1_000

/**
 * Merged records keep their disk space until LevelDB compacts the files holding them. A document's range is compacted
 * on purpose (`compactRange`) once its compactions have merged away this many bytes since the last time; less is left
 * to LevelDB's own compactions. Each `compactRange` flushes the memtable and compacts every level-0 file with what
 * it overlaps, however little the range holds: asked for every compaction, 200 rooms unloading at once (200 small
 * documents, about 3 KB each) kept the server's core at 100% for more than 30 s, with keystroke p50 going from
 * 0.7 ms to 8-110 ms (1,000 rooms of three typing after 200 left; 55-70% of the core without the requests).
 */
const reclaimMinBytes = 1 << 20

/**
 * The share of the time space reclaims may take: after a reclaim that took t ms, the next starts 9t ms later at the
 * earliest. They run on LevelDB's threads, which share the server's core, so a backlog drains without taking it.
 */
const reclaimDutyCycle = 0.1

interface DocState extends Rewritable {
  /**
   * Sequence number of the next appended record. It keeps counting after a deletion, so a record of a new
   * document of the same name never takes the key of one the deletion is removing.
   */
  nextSeq: number
  stats: DocStats
  /** When this process last wrote the document's listing entry (`Date.now()`); never: -Infinity. */
  listedAt: number
  /** The listing entry on disk lags behind `stats`: a write is scheduled. */
  listingDue: boolean
  /** Bytes of records merged away since its space was last asked back (see {@link reclaimMinBytes}). */
  unreclaimedBytes: number
}

interface PendingBatch {
  ops: BatchOp[]
  /** Deleted ranges, read just before the batch is written so they cover what earlier batches wrote. */
  ranges: RangeDelete[]
  deltas: StatsDelta[]
  done: Promise<void>
  resolve: () => void
  reject: (err: unknown) => void
}

// Key layout (all strings; document names never contain control characters, see docNameError):
//   d\0<name>\0<seq: 12 hex digits>  a record: an update, or a snapshot of everything up to that seq
//   i\0<name>                        JSON DocInfo for listings, rewritten at most once a second (listingIntervalMs)
//   t\0<name>                        tombstone: a record holding the Yjs state vector of the deleted document
//   s\0<name>\0<key>                 a side record (SideWrite), deleted with the document
//   n\0<name>                        the incarnation id (UTF-8), deleted with the document
const recordPrefix = (name: string) => `d\u0000${name}\u0000`
const recordKey = (name: string, seq: number) => recordPrefix(name) + seq.toString(16).padStart(12, '0')
const infoKey = (name: string) => `i\u0000${name}`
const tombstoneKey = (name: string) => `t\u0000${name}`
const incarnationKey = (name: string) => `n\u0000${name}`
const infoRange = { gte: 'i\u0000', lt: 'i\u0001' }
const sidePrefix = (name: string) => `s\u0000${name}\u0000`
const sideRange = (name: string): RangeDelete => ({ gte: sidePrefix(name), lt: `s\u0000${name}\u0001` })

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
 * that deletes the merged records and writes the snapshot under the last merged sequence number. A deletion is
 * one batch too: the records go, the tombstone (`t\0<name>`) is written.
 */
export class LevelDocStore implements DocStore {
  private readonly docs = new Map<string, DocState>()
  private readonly initializing = new Map<string, Promise<DocState>>()
  private readonly rewrites = new Rewrites()
  /**
   * Compactions (and compactions on load) run one after another, each its own batch. Started together (hundreds of
   * rooms reach the threshold in the same second after a burst of typing), their deletions went into one batch:
   * LevelDB prepares a batch on the main thread at 1-3 us per operation, so 100 compactions of 500 records held
   * every client for 30-50 ms. The chain never rejects.
   */
  private compactions: Promise<void> = Promise.resolve()
  /**
   * Space to reclaim, by document: the last merged sequence number. One request to LevelDB runs at a time (each
   * holds a thread of the pool LevelDB's reads and writes share until its manual compaction is done, and LevelDB runs
   * them one by one anyway); a document asked for again while it waits is asked for once, up to the later number.
   */
  private readonly toReclaim = new Map<string, number>()
  /** The request to LevelDB running now, which `close` waits for. */
  private reclaiming: Promise<void> | null = null
  /** The pause between two requests ({@link reclaimDutyCycle}). */
  private reclaimTimer: NodeJS.Timeout | null = null
  /** When that pause ends (`performance.now()`). */
  private reclaimNotBefore = 0
  /** Incarnation ids read or being created, so that callers asking at once get one id. */
  private readonly incarnations = new Map<string, Promise<string>>()
  private pending: PendingBatch | null = null
  private writing: Promise<void> | null = null
  private lastBatch: Promise<void> = Promise.resolve()
  private closed = false
  private listingTimer: NodeJS.Timeout | null = null
  /** Set by `close`: no further request to reclaim space starts. */
  private closing = false
  /**
   * The options of every batch, made once: abstract-level copies them into each operation (`{ ...options, ...op }`),
   * and a new options object per batch made those copies survive into V8's old generation (about 4.5 MB/s at 400
   * rooms typing), so that a mark-compact paused the event loop for 20-40 ms every few seconds. Without `sync` no
   * options are passed at all.
   */
  private readonly batchOptions: Readonly<{ sync: true }> | undefined

  private constructor(
    private readonly db: ClassicLevel<string, Uint8Array>,
    private readonly policy: CompactionPolicy,
    sync: boolean,
    private readonly logger: StoreLogger | undefined,
  ) {
    this.batchOptions = sync ? Object.freeze({ sync: true }) : undefined
  }

  /** Opens (or creates) the database at `options.path`. Fails if another handle has it open. */
  static async open(options: LevelDocStoreOptions): Promise<LevelDocStore> {
    const db = new ClassicLevel<string, Uint8Array>(options.path, { keyEncoding: 'utf8', valueEncoding: 'view' })
    await db.open()
    const policy = { ...defaultCompactionPolicy, ...options.compaction }
    return new LevelDocStore(db, policy, options.sync ?? false, options.logger)
  }

  async load(name: string): Promise<Uint8Array[]> {
    this.assertOpen()
    await this.settled()
    const keys: string[] = []
    const updates: Uint8Array[] = []
    const stats = emptyStats()
    let lastSeq = 0
    // Each round trip to LevelDB waits for a turn of the event loop, which takes long on a busy server: the records
    // come in one `all()` (a `for await` costs a second trip to learn the range ended), and the listing figure of a
    // document not known yet is read beside them rather than after.
    const updatedAtRead = this.docs.has(name) ? null : this.readUpdatedAt(name)
    const [entries, updatedAtFound] = await Promise.all([this.db.iterator(recordRange(name)).all(), updatedAtRead])
    for (const [key, value] of entries) {
      const record = decodeRecord(value)
      if (!record.ok) throw new DocumentUnreadableError(name, `record ${seqOfKey(key)}: ${record.error}`)
      keys.push(key)
      updates.push(record.payload)
      lastSeq = seqOfKey(key)
      if (record.kind === RecordKind.Snapshot) stats.snapshotBytes += record.payload.length
      else {
        stats.tailRecords++
        stats.tailBytes += record.payload.length
      }
    }
    let doc = this.docs.get(name)
    if (!doc) {
      const updatedAt = updatedAtFound ?? (await this.readUpdatedAt(name))
      // An append may have read the document's figures meanwhile; those also count what it appended since.
      doc = this.docs.get(name) ?? newDocState(lastSeq + 1, { ...stats, updatedAt })
      this.docs.set(name, doc)
    }
    if (!statsHaveLongTail(stats, this.policy) || doc.rewriting) return updates
    // Applying the records one by one is what makes a long tail slow to open; merged once here (the same work the
    // caller would do) and stored, every later load reads one record.
    const merged = mergeStoredUpdates(name, updates)
    const delta: StatsDelta = {
      name,
      snapshotBytes: merged.length - stats.snapshotBytes,
      tailRecords: -stats.tailRecords,
      tailBytes: -stats.tailBytes,
    }
    this.rewrites
      .start(doc, () => this.oneAtATime(() => this.replaceRecords(name, keys, lastSeq, merged, delta)))
      .catch((err: unknown) => {
        // Only an optimization failed: the records are intact, and the next load or compaction tries again.
        this.logger?.warn(
          { doc: name, err: err instanceof Error ? err.message : String(err) },
          'compaction on load failed',
        )
      })
    return [merged]
  }

  async append(name: string, update: Uint8Array, side?: readonly SideWrite[]): Promise<void> {
    this.assertOpen()
    // Encoded (copied) before any await, so a caller that reuses its buffer cannot change what is stored.
    const record = encodeRecord(RecordKind.Update, update)
    const sideOps = side === undefined ? null : sideBatch(name, side)
    const doc = this.docs.get(name) ?? (await this.initDoc(name))
    const seq = doc.nextSeq++
    const ops: BatchOp[] = [{ type: 'put', key: recordKey(name, seq), value: record }]
    if (sideOps) ops.push(...sideOps.ops)
    return this.enqueue(ops, [{ name, snapshotBytes: 0, tailRecords: 1, tailBytes: update.length }], sideOps?.ranges)
  }

  async readSide(name: string, prefix: string): Promise<Array<[key: string, value: Uint8Array]>> {
    this.assertOpen()
    await this.settled()
    const base = sidePrefix(name)
    const start = base + prefix
    const entries = await this.db.iterator({ gte: start, lt: `${start}\uffff` }).all()
    return entries.map(([key, value]) => [key.slice(base.length), value])
  }

  async writeSide(name: string, writes: readonly SideWrite[]): Promise<void> {
    this.assertOpen()
    const { ops, ranges } = sideBatch(name, writes)
    return this.enqueue(ops, [], ranges)
  }

  needsCompaction(name: string): boolean {
    const doc = this.docs.get(name)
    return doc !== undefined && doc.rewriting === null && statsNeedCompaction(doc.stats, this.policy)
  }

  async compact(name: string, snapshot?: Uint8Array): Promise<void> {
    this.assertOpen()
    const doc = this.docs.get(name) ?? (await this.initDoc(name))
    // One rewrite per document at a time; a second request while one runs is covered by the next threshold.
    if (doc.rewriting) return doc.rewriting
    const upTo = doc.nextSeq - 1
    if (upTo < 1) return
    return this.rewrites.start(doc, () => this.oneAtATime(() => this.compactUpTo(name, upTo, snapshot)))
  }

  /** Runs `work` once the compactions queued before it have ended, whichever way. */
  private oneAtATime(work: () => Promise<void>): Promise<void> {
    const outcome = this.compactions.then(work)
    this.compactions = outcome.then(
      () => undefined,
      () => undefined,
    )
    return outcome
  }

  private async compactUpTo(name: string, upTo: number, snapshot: Uint8Array | undefined): Promise<void> {
    // Records up to `upTo` may still sit in a batch; merge only what is on disk.
    await this.settled()
    const keys: string[] = []
    const payloads: Uint8Array[] = []
    const delta: StatsDelta = { name, snapshotBytes: 0, tailRecords: 0, tailBytes: 0 }
    for await (const [key, value] of this.db.iterator(recordRange(name, upTo))) {
      const record = decodeRecord(value)
      if (!record.ok) throw new DocumentUnreadableError(name, `record ${seqOfKey(key)}: ${record.error}`)
      keys.push(key)
      if (snapshot === undefined) payloads.push(record.payload)
      if (record.kind === RecordKind.Snapshot) delta.snapshotBytes -= record.payload.length
      else {
        delta.tailRecords--
        delta.tailBytes -= record.payload.length
      }
    }
    if (keys.length <= 1 && delta.tailRecords === 0) return
    const merged = snapshot ?? mergeStoredUpdates(name, payloads)
    delta.snapshotBytes += merged.length
    await this.replaceRecords(name, keys, upTo, merged, delta)
  }

  /** Replaces the records at `keys` by `snapshot`, stored under `upTo` (the last of them), in one batch. */
  private async replaceRecords(
    name: string,
    keys: readonly string[],
    upTo: number,
    snapshot: Uint8Array,
    delta: StatsDelta,
  ): Promise<void> {
    const ops: BatchOp[] = keys.map((key) => ({ type: 'del', key }))
    // The put comes after the deletes in the same batch, so it wins for its own key.
    ops.push({ type: 'put', key: recordKey(name, upTo), value: encodeRecord(RecordKind.Snapshot, snapshot) })
    await this.enqueue(ops, [delta])
    const doc = this.docs.get(name)
    if (!doc) return
    // What the batch deleted: the old snapshot and the tail (`delta` holds the new snapshot less both).
    doc.unreclaimedBytes += snapshot.length - delta.snapshotBytes - delta.tailBytes
    if (doc.unreclaimedBytes < reclaimMinBytes) return
    doc.unreclaimedBytes = 0
    this.reclaimSpace(name, upTo)
  }

  /**
   * Deleted records keep their disk space until LevelDB compacts the files holding them; asking for it (it runs on a
   * background thread) makes the space of a document that merged away {@link reclaimMinBytes} come back soon, not
   * eventually. Not part of the compaction: the document may be compacted again (and appended to) meanwhile.
   */
  private reclaimSpace(name: string, upTo: number): void {
    this.toReclaim.set(name, Math.max(upTo, this.toReclaim.get(name) ?? 0))
    this.scheduleReclaim()
  }

  /** Starts the next reclaim now, or once the pause after the last one is over ({@link reclaimDutyCycle}). */
  private scheduleReclaim(): void {
    if (this.reclaiming || this.reclaimTimer || this.closing || this.toReclaim.size === 0) return
    const waitMs = this.reclaimNotBefore - performance.now()
    if (waitMs <= 0) {
      this.reclaimNext()
      return
    }
    this.reclaimTimer = setTimeout(() => {
      this.reclaimTimer = null
      // Timers follow the event loop's cached clock and can fire a little early: checked again.
      this.scheduleReclaim()
    }, waitMs)
    this.reclaimTimer.unref()
  }

  /** Starts the first waiting reclaim ({@link scheduleReclaim} decides when). */
  private reclaimNext(): void {
    const next = this.toReclaim.entries().next()
    if (next.done) return
    const [name, upTo] = next.value
    this.toReclaim.delete(name)
    const started = performance.now()
    this.reclaiming = this.db
      .compactRange(recordPrefix(name), recordKey(name, upTo))
      .catch((err: unknown) => {
        // LevelDB compacts those files later by itself.
        this.logger?.warn({ doc: name, err: err instanceof Error ? err.message : String(err) }, 'space reclaim failed')
      })
      .then(() => {
        const ended = performance.now()
        this.reclaiming = null
        this.reclaimNotBefore = ended + (ended - started) * (1 / reclaimDutyCycle - 1)
        this.scheduleReclaim()
      })
  }

  async forget(name: string): Promise<void> {
    const incarnation = this.incarnations.get(name)
    if (incarnation) {
      // Once it is stored: dropped while being created, a second caller could create another.
      await incarnation.catch(() => undefined)
      if (this.incarnations.get(name) === incarnation) this.incarnations.delete(name)
    }
    const doc = this.docs.get(name)
    if (!doc) return
    // Its live figures go with it: the listing entry on disk gets them first.
    if (doc.listingDue) await this.enqueue([], [listingDelta(name)]).catch(() => undefined)
    const nextSeq = doc.nextSeq
    await this.settled()
    // Anything that touched the document meanwhile (an append, a compaction, a deletion) keeps its figures.
    const untouched =
      this.docs.get(name) === doc &&
      doc.nextSeq === nextSeq &&
      doc.rewriting === null &&
      !this.initializing.has(name) &&
      !this.pending?.deltas.some((delta) => delta.name === name)
    if (untouched) this.docs.delete(name)
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

  async delete(name: string, stateVector?: Uint8Array): Promise<void> {
    this.assertOpen()
    // Decoded before anything is touched: a malformed argument deletes nothing.
    const given = stateVector === undefined ? undefined : decodeClocks(name, stateVector)
    const doc = this.docs.get(name) ?? (await this.initDoc(name))
    // A compaction in flight would write its snapshot after the deletion and bring the document back.
    return this.rewrites.startWhenIdle(doc, () => this.deleteRecords(name, doc, given))
  }

  private async deleteRecords(name: string, doc: DocState, given: Clocks | undefined): Promise<void> {
    // Every record numbered below this is on disk once the batches queued so far are written.
    const written = doc.nextSeq
    await this.settled()
    const ops: BatchOp[] = []
    const payloads: Uint8Array[] = []
    for await (const [key, value] of this.db.iterator(recordRange(name))) {
      ops.push({ type: 'del', key })
      if (given) continue
      const record = decodeRecord(value)
      // A damaged record's clocks are unknown. Deleting must still work: it is how a damaged document is removed.
      if (record.ok) payloads.push(record.payload)
    }
    const clocks = raiseClocks((await this.readTombstone(name)) ?? new Map(), given ?? clocksOfUpdates(payloads))
    // Records appended meanwhile (numbered, maybe not written yet) go too: the batch below comes after theirs.
    for (let seq = written; seq < doc.nextSeq; seq++) ops.push({ type: 'del', key: recordKey(name, seq) })
    ops.push({ type: 'put', key: tombstoneKey(name), value: encodeRecord(RecordKind.Tombstone, encodeClocks(clocks)) })
    ops.push({ type: 'del', key: incarnationKey(name) })
    this.incarnations.delete(name)
    try {
      await this.enqueue(
        ops,
        [{ name, snapshotBytes: 0, tailRecords: 0, tailBytes: 0, reset: true }],
        [sideRange(name)],
      )
    } finally {
      // Read again from disk: the deleted id if the batch failed, a new one after it.
      this.incarnations.delete(name)
    }
  }

  async incarnation(name: string): Promise<string> {
    this.assertOpen()
    let id = this.incarnations.get(name)
    if (!id) {
      id = this.readOrCreateIncarnation(name)
      this.incarnations.set(name, id)
      const created = id
      // A failed read or write is tried again by the next caller.
      created.catch(() => {
        if (this.incarnations.get(name) === created) this.incarnations.delete(name)
      })
    }
    return id
  }

  private async readOrCreateIncarnation(name: string): Promise<string> {
    await this.settled()
    const stored = await this.db.get(incarnationKey(name))
    if (stored !== undefined) return new TextDecoder().decode(stored)
    const id = randomUUID()
    await this.enqueue([{ type: 'put', key: incarnationKey(name), value: new TextEncoder().encode(id) }], [])
    return id
  }

  async tombstone(name: string): Promise<Uint8Array | null> {
    this.assertOpen()
    await this.settled()
    const clocks = await this.readTombstone(name)
    return clocks === null ? null : encodeClocks(clocks)
  }

  private async readTombstone(name: string): Promise<Clocks | null> {
    const value = await this.db.get(tombstoneKey(name))
    if (value === undefined) return null
    const record = decodeRecord(value, [RecordKind.Tombstone])
    // Merging into a tombstone that cannot be read would forget what was deleted before.
    if (!record.ok) throw new DocumentUnreadableError(name, `tombstone: ${record.error}`)
    return decodeClocks(name, record.payload)
  }

  flush(): Promise<void> {
    return this.lastBatch
  }

  async close(): Promise<void> {
    if (this.closed) return
    await this.rewrites.settled()
    this.writeDueListings()
    await this.settled()
    // Space not reclaimed yet comes back when LevelDB compacts those files by itself.
    this.closing = true
    if (this.reclaimTimer) clearTimeout(this.reclaimTimer)
    this.reclaimTimer = null
    await this.reclaiming
    this.closed = true
    await this.db.close()
  }

  /** Writes the listing entries that lag behind once {@link listingIntervalMs} has passed. */
  private scheduleListings(): void {
    if (this.listingTimer) return
    this.listingTimer = setTimeout(() => {
      this.listingTimer = null
      if (!this.closed) this.writeDueListings()
    }, listingIntervalMs)
    this.listingTimer.unref()
  }

  /** Queues a write of every listing entry that lags behind its document's figures. */
  private writeDueListings(): void {
    if (this.listingTimer) clearTimeout(this.listingTimer)
    this.listingTimer = null
    const due: StatsDelta[] = []
    for (const [name, doc] of this.docs) if (doc.listingDue) due.push(listingDelta(name))
    // A failed write leaves them due; the failure reaches whoever waits for the batch (the next append, close).
    if (due.length > 0) this.enqueue([], due).catch(() => undefined)
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
            stats.tailRecords++
            stats.tailBytes += bytes
          }
        }
        const existing = this.docs.get(name)
        if (existing) return existing
        const doc = newDocState(lastSeq + 1, stats)
        this.docs.set(name, doc)
        return doc
      })().finally(() => this.initializing.delete(name))
      this.initializing.set(name, init)
    }
    return init
  }

  /** Adds operations to the batch of this tick; resolves when that batch is written. */
  private enqueue(ops: BatchOp[], deltas: StatsDelta[], ranges?: readonly RangeDelete[]): Promise<void> {
    let batch = this.pending
    if (!batch) {
      let resolve!: () => void
      let reject!: (err: unknown) => void
      const done = new Promise<void>((res, rej) => {
        resolve = res
        reject = rej
      })
      batch = { ops: [], ranges: [], done, resolve, reject, deltas: [] }
      this.pending = batch
      this.lastBatch = done
      // Callers that only wait (flush, settled) must not turn a failed write into an unhandled rejection.
      done.catch(() => undefined)
      if (!this.writing) setImmediate(() => this.drain())
    }
    for (const op of ops) batch.ops.push(op)
    for (const delta of deltas) batch.deltas.push(delta)
    if (ranges) for (const range of ranges) batch.ranges.push(range)
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
    /** Documents whose listing entry this batch writes whatever its age (asked for, or a deletion). */
    const listNow = new Set<string>()
    const now = Date.now()
    for (const delta of batch.deltas) {
      const doc = this.docs.get(delta.name)
      if (!doc) continue
      const stats = delta.reset ? emptyStats() : (projected.get(delta.name) ?? { ...doc.stats })
      stats.snapshotBytes += delta.snapshotBytes
      stats.tailRecords += delta.tailRecords
      stats.tailBytes += delta.tailBytes
      if (!delta.listing) stats.updatedAt = now
      projected.set(delta.name, stats)
      if (delta.listing || delta.reset) listNow.add(delta.name)
    }
    const ops = batch.ops
    if (batch.ranges.length > 0) {
      try {
        // Before the batch's own puts, so a range delete never removes what the same batch writes.
        const deletes: BatchOp[] = []
        for (const range of batch.ranges) {
          for await (const key of this.db.keys(range)) deletes.push({ type: 'del', key })
        }
        ops.unshift(...deletes)
      } catch (err) {
        batch.reject(err)
        return
      }
    }
    /** Listing entries this batch writes (put or deleted), and those left for later. */
    const listed: string[] = []
    const deferred: string[] = []
    for (const [name, stats] of projected) {
      // A document without records (deleted) has no listing entry: list() shows stored documents only.
      if (storedRecords(stats) === 0) {
        ops.push({ type: 'del', key: infoKey(name) })
        listed.push(name)
        continue
      }
      const doc = this.docs.get(name)
      if (doc && !listNow.has(name) && now - doc.listedAt < listingIntervalMs) {
        deferred.push(name)
        continue
      }
      const { name: _, ...info } = infoOf(name, stats)
      ops.push({ type: 'put', key: infoKey(name), value: new TextEncoder().encode(JSON.stringify(info)) })
      listed.push(name)
    }
    try {
      await (this.batchOptions ? this.db.batch(ops, this.batchOptions) : this.db.batch(ops))
    } catch (err) {
      batch.reject(err)
      return
    }
    for (const [name, stats] of projected) {
      const doc = this.docs.get(name)
      if (doc) doc.stats = stats
    }
    for (const name of listed) {
      const doc = this.docs.get(name)
      if (!doc) continue
      // After a deletion the next write lists the document again at once.
      doc.listedAt = storedRecords(doc.stats) === 0 ? Number.NEGATIVE_INFINITY : now
      doc.listingDue = false
    }
    for (const name of deferred) {
      const doc = this.docs.get(name)
      if (doc) doc.listingDue = true
    }
    if (deferred.length > 0) this.scheduleListings()
    batch.resolve()
  }
}

/** A document this process has not written yet: nothing rewriting it, its listing entry not written by us. */
function newDocState(nextSeq: number, stats: DocStats): DocState {
  return { nextSeq, stats, rewriting: null, listedAt: Number.NEGATIVE_INFINITY, listingDue: false, unreclaimedBytes: 0 }
}

/** A batch entry that writes `name`'s listing entry with its figures as they are. */
function listingDelta(name: string): StatsDelta {
  return { name, snapshotBytes: 0, tailRecords: 0, tailBytes: 0, listing: true }
}

/** Side-record writes of `name` as batch operations; throws on a key with control characters (before any write). */
function sideBatch(name: string, writes: readonly SideWrite[]): { ops: BatchOp[]; ranges: RangeDelete[] } {
  const base = sidePrefix(name)
  const ops: BatchOp[] = []
  const ranges: RangeDelete[] = []
  for (const write of writes) {
    if ('from' in write) {
      ranges.push({ gte: base + checkedSideKey(write.from), lt: base + checkedSideKey(write.to) })
    } else if (write.value === null) {
      ops.push({ type: 'del', key: base + checkedSideKey(write.key) })
    } else {
      // Copied: the caller may reuse its buffer before the batch is written.
      ops.push({ type: 'put', key: base + checkedSideKey(write.key), value: write.value.slice() })
    }
  }
  return { ops, ranges }
}

function checkedSideKey(key: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters separate the parts of a key
  if (/[\u0000-\u001f]/.test(key)) throw new RangeError(`side record key ${JSON.stringify(key)} has control characters`)
  return key
}

function infoOf(name: string, stats: DocStats): DocInfo {
  return { name, bytes: storedBytes(stats), records: storedRecords(stats), updatedAt: stats.updatedAt }
}
