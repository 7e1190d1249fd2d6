import * as Y from 'yjs'
import {
  emptyInfo,
  type LocalDatabaseOptions,
  type LocalDocumentInfo,
  type LocalRecord,
  LocalStoreUnavailableError,
  localFactory,
  openLocalDatabase,
  type RecoveredCopy,
  transactionDone,
} from './local-store-db.js'

/**
 * Where the local store stands: `loading` (opening, reading the copy), `ready` (every change is written),
 * `failed` (a write failed or the database closed: changes are kept in memory only, and it retries on its own),
 * `unavailable` (this browser gives no IndexedDB: private mode, or none at all; it does not retry) or `set-aside`
 * (the server deleted the document this copy belongs to: the copy was moved to the recovered copies, see
 * {@link LocalStore.setAside}, and nothing more is written) or `removed` (the same, for a copy the server had
 * acknowledged entirely, which is deleted rather than kept).
 */
export type LocalStoreState = 'loading' | 'ready' | 'failed' | 'unavailable' | 'set-aside' | 'removed'

/** What the UI shows about the local store. */
export interface LocalStoreStatus {
  state: LocalStoreState
  /**
   * Whether every change of this tab handed to the store is committed to IndexedDB (false while such writes are in
   * flight). Changes received from the server are written in the background and do not count: the server has them.
   */
  written: boolean
  /** Why it failed, for the console and a tooltip; null when it works. */
  problem: string | null
}

/** Options of {@link LocalStore}. */
export interface LocalStoreOptions extends LocalDatabaseOptions {
  /**
   * Compaction runs this long after the last write once the records since the last snapshot outweigh it (or
   * number more than `maxTailRecords`), and at most `compactMaxDelayMs` after it became due. Defaults 1,000 and
   * 5,000 ms.
   */
  compactDelayMs?: number
  compactMaxDelayMs?: number
  /** Records since the last snapshot that make a compaction due whatever their size. Default 500. */
  maxTailRecords?: number
  /**
   * How long changes received from the server may wait to be written, so that one transaction takes all of them
   * (a tab's own change writes them at once, with it). Default 1,000 ms. They are not at risk meanwhile: the server
   * has them.
   */
  receivedDelayMs?: number
  /** First and longest delay between attempts to reopen a failed store. Defaults 1,000 and 30,000 ms. */
  retryMs?: number
  maxRetryMs?: number
}

type Listener = (status: LocalStoreStatus) => void

/**
 * One document's copy in this browser's IndexedDB. It loads the copy into the Y.Doc ({@link LocalStore.loaded}),
 * then writes every change handed to it ({@link LocalStore.write}), several per transaction when they come
 * together, and folds them into one snapshot when they outweigh the last one (so the copy stays within about twice
 * the document's encoded state, and reloading adds nothing).
 *
 * Compaction is safe with several tabs writing the same document: in one transaction it reads every record of the
 * document, applies them to the live Y.Doc (bringing in what other tabs wrote), and replaces exactly those records
 * with the Y.Doc's state. A record another tab adds meanwhile is in a later transaction and stays.
 *
 * Failure never reaches the editor: a failed write, a database the browser closed or a full quota sets the status
 * to `failed` (and logs once), the Y.Doc keeps every change in memory, and the store reopens with growing delays;
 * its first act then is a compaction, which writes the whole Y.Doc, so nothing changed meanwhile is missing.
 */
export class LocalStore {
  /** Resolves once the stored copy is in the Y.Doc, or the store gave up loading it; never rejects. */
  readonly loaded: Promise<{ records: number }>
  private readonly doc: Y.Doc
  private readonly name: string
  private readonly options: LocalStoreOptions
  private readonly listeners = new Set<Listener>()
  private db: IDBDatabase | null = null
  private currentStatus: LocalStoreStatus = { state: 'loading', written: true, problem: null }
  /** Updates handed over and not yet in a transaction. */
  private queue: Uint8Array[] = []
  /** Of those, this tab's own (not received): what {@link LocalStoreStatus.written} is about. */
  private ownQueued = 0
  /** This tab's own updates in transactions that have not committed yet. */
  private ownInFlight = 0
  /** A change may be missing from the database (a write failed): the next compaction writes the whole doc. */
  private missing = false
  private flushScheduled = false
  /** A flush of received updates only, after {@link LocalStoreOptions.receivedDelayMs}. */
  private receivedTimer: ReturnType<typeof setTimeout> | null = null
  private compactTimer: ReturnType<typeof setTimeout> | null = null
  private compactDueAt = 0
  private compacting = false
  private retryTimer: ReturnType<typeof setTimeout> | null = null
  private retries = 0
  private destroyed = false
  /** The copy was set aside or removed ({@link LocalStore.setAside}): nothing is written any more. */
  private retired = false
  /** The server incarnation ([IN1]) the stored copy belongs to, as the last load or compaction read it. */
  private storedIncarnation: string | null = null
  private resolveLoaded: (result: { records: number }) => void = () => undefined

  constructor(doc: Y.Doc, name: string, options: LocalStoreOptions = {}) {
    this.doc = doc
    this.name = name
    this.options = options
    this.loaded = new Promise((resolve) => {
      this.resolveLoaded = resolve
    })
    void this.open()
  }

  /** The current status; {@link LocalStore.onStatus} tells when it changes. */
  get status(): LocalStoreStatus {
    return this.currentStatus
  }

  /** Calls `listener` with every status change; returns a function that unsubscribes it. */
  onStatus(listener: Listener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /**
   * The id of the server's incarnation of the document ([IN1]) that the stored copy belongs to, read with the copy
   * (so known once {@link LocalStore.loaded} resolved); null when no server has named one yet, or the store is not
   * usable. A connection compares it with the one the server announces before sending anything of the copy.
   */
  get incarnation(): string | null {
    return this.retired ? null : this.storedIncarnation
  }

  /**
   * Notes `id` as the incarnation the copy belongs to, beside the copy's description in the same database. Resolves
   * when it committed; never rejects (a store that cannot write it keeps it in memory, and the next connection
   * records it again).
   */
  async recordIncarnation(id: string): Promise<void> {
    if (this.destroyed || this.retired) return
    this.storedIncarnation = id
    const db = this.db
    if (!db) return
    try {
      const tx = db.transaction('documents', 'readwrite')
      const documents = tx.objectStore('documents')
      const read = documents.get(this.name)
      read.onsuccess = () => {
        const info: LocalDocumentInfo = (read.result as LocalDocumentInfo | undefined) ?? emptyInfo(this.name)
        if (info.incarnation !== id) documents.put({ ...info, incarnation: id } satisfies LocalDocumentInfo)
      }
      await transactionDone(tx)
    } catch (err) {
      console.error(`[collab] noting the server incarnation of "${this.name}" failed`, err)
    }
  }

  /**
   * Writes `update` (a change of the Y.Doc) to the store: this tab's own at once, with the others of this tick in
   * one transaction; one `received` from the server within {@link LocalStoreOptions.receivedDelayMs}, with every
   * other one meanwhile (a remote keystroke would otherwise cost the tab an IndexedDB transaction each, on the main
   * thread, while its user reads along). While the store is not usable it only notes that the database misses
   * something.
   */
  write(update: Uint8Array, received = false): void {
    if (this.destroyed) return
    const state = this.currentStatus.state
    if (this.retired) return
    if (state === 'failed' || state === 'unavailable') {
      this.missing = true
      return
    }
    this.queue.push(update)
    if (received) {
      if (this.receivedTimer === null && !this.flushScheduled) {
        this.receivedTimer = setTimeout(() => {
          this.receivedTimer = null
          this.flush()
        }, this.options.receivedDelayMs ?? 1_000)
      }
      return
    }
    this.ownQueued++
    this.update({ written: false })
    if (this.flushScheduled) return
    this.flushScheduled = true
    // One transaction for everything a burst of synchronous changes produced.
    queueMicrotask(() => this.flush())
  }

  /** Folds every record of the document into one snapshot of the Y.Doc now. Resolves when it committed. */
  async compact(): Promise<void> {
    await this.runCompaction()
  }

  /**
   * Closes the database as if the browser had (Safari does so on its own): the store reports `failed` and
   * reopens. For tests of that path, and for a host that needs the database closed.
   */
  closeDatabase(): void {
    this.db?.close()
  }

  /**
   * The server refused this copy as belonging to a deleted document ([DL2]): moves it, in one transaction, from
   * the document's records to a {@link RecoveredCopy} (the records merged with the Y.Doc's state, so edits not yet
   * written are in it too), and stops writing. The next load of the name starts empty, as a new document; the
   * user takes the text back from the recovered copy. Resolves with whether a copy was kept (false when another
   * tab already moved it, or the store is not usable). With `keep: false` the copy is only removed: the caller
   * knows the server had acknowledged all of it, so there is nothing to recover. The copy's incarnation ([IN1])
   * goes with it: the next copy of the name belongs to whichever incarnation the server names then.
   */
  async setAside({ keep = true }: { keep?: boolean } = {}): Promise<boolean> {
    if (this.destroyed || this.retired) return false
    const db = this.db
    this.retired = true
    this.queue = []
    this.ownQueued = 0
    this.cancelReceivedTimer()
    const incarnation = this.storedIncarnation
    this.storedIncarnation = null
    if (!db) {
      this.update({ state: keep ? 'set-aside' : 'removed', written: true, problem: null })
      return false
    }
    let kept = false
    try {
      const tx = db.transaction(['records', 'documents', 'recovered'], 'readwrite')
      const records = tx.objectStore('records')
      const keysRequest = records.index('doc').getAllKeys(this.name)
      keysRequest.onsuccess = () => {
        const keys = keysRequest.result
        const valuesRequest = records.index('doc').getAll(this.name)
        valuesRequest.onsuccess = () => {
          const stored = valuesRequest.result as LocalRecord[]
          // Another tab of this document set it aside already: its copy holds this tab's written edits too.
          if (stored.length === 0) return
          const update = Y.mergeUpdates([...stored.map((record) => record.update), Y.encodeStateAsUpdate(this.doc)])
          for (const key of keys) records.delete(key)
          tx.objectStore('documents').delete(this.name)
          if (!keep) return
          const copy: RecoveredCopy = { name: this.name, savedAt: Date.now(), update }
          if (incarnation !== null) copy.incarnation = incarnation
          tx.objectStore('recovered').add(copy)
          kept = true
        }
      }
      await transactionDone(tx)
    } catch (err) {
      console.error(`[collab] keeping the local copy of "${this.name}" as a recovered copy failed`, err)
      this.update({ state: 'failed', written: false, problem: describeFailure('setting the copy aside failed', err) })
      return false
    }
    // A copy another tab of this document set aside first holds this tab's written edits: kept all the same.
    this.update({ state: keep ? 'set-aside' : 'removed', written: true, problem: null })
    return kept
  }

  /** Writes what is queued, then closes the database. The Y.Doc is not touched. */
  destroy(): void {
    if (this.destroyed) return
    this.flush()
    this.destroyed = true
    if (this.compactTimer) clearTimeout(this.compactTimer)
    if (this.retryTimer) clearTimeout(this.retryTimer)
    const db = this.db
    this.db = null
    // Closing waits for the transactions in flight; it does not abort them.
    db?.close()
    this.listeners.clear()
    this.resolveLoaded({ records: 0 })
  }

  private async open(): Promise<void> {
    if (this.destroyed) return
    let db: IDBDatabase
    try {
      localFactory(this.options)
      db = await openLocalDatabase(this.options)
    } catch (err) {
      if (err instanceof LocalStoreUnavailableError) {
        this.update({ state: 'unavailable', written: false, problem: err.message })
        this.resolveLoaded({ records: 0 })
        return
      }
      this.failed('opening the local database failed', err)
      return
    }
    if (this.destroyed) {
      db.close()
      return
    }
    db.onclose = () => {
      if (this.db === db) this.failed('the browser closed the local database')
    }
    // Another tab wants a newer schema: let it, and come back to the new one.
    db.onversionchange = () => {
      if (this.db === db) this.failed('the local database is being upgraded by another tab')
    }
    this.db = db
    // Loading is a compaction: it reads every record, applies them, and leaves one snapshot.
    try {
      const records = await this.runCompaction(true)
      this.retries = 0
      this.resolveLoaded({ records })
    } catch {
      // runCompaction reported it.
    }
  }

  /** The database is unusable: say so, drop the handle and try again later. */
  private failed(what: string, err?: unknown): void {
    if (this.destroyed || this.retired) return
    const problem = describeFailure(what, err)
    if (this.currentStatus.state !== 'failed') console.error(`[collab] local store of "${this.name}": ${problem}`)
    const db = this.db
    this.db = null
    if (db) {
      db.onclose = null
      db.onversionchange = null
      try {
        db.close()
      } catch {
        // Already closed: nothing to release.
      }
    }
    this.missing = true
    this.queue = []
    this.ownQueued = 0
    this.ownInFlight = 0
    this.cancelReceivedTimer()
    this.update({ state: 'failed', written: false, problem })
    // Loading must not wait for a database that may never come back.
    this.resolveLoaded({ records: 0 })
    if (this.retryTimer) return
    const base = this.options.retryMs ?? 1_000
    const delay = Math.min(this.options.maxRetryMs ?? 30_000, base * 2 ** this.retries++)
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null
      void this.open()
    }, delay)
  }

  private flush(): void {
    this.flushScheduled = false
    this.cancelReceivedTimer()
    const db = this.db
    if (this.queue.length === 0 || !db || this.currentStatus.state !== 'ready') return
    const updates = this.queue
    const own = this.ownQueued
    this.queue = []
    this.ownQueued = 0
    const merged = updates.length === 1 ? updates[0]! : Y.mergeUpdates(updates)
    this.ownInFlight += own
    let tx: IDBTransaction
    try {
      tx = db.transaction(['records', 'documents'], 'readwrite')
      tx.objectStore('records').add({ doc: this.name, update: merged } satisfies LocalRecord)
      const documents = tx.objectStore('documents')
      const read = documents.get(this.name)
      read.onsuccess = () => {
        const info: LocalDocumentInfo = (read.result as LocalDocumentInfo | undefined) ?? emptyInfo(this.name)
        info.updatedAt = Date.now()
        info.bytes += merged.byteLength
        info.records++
        info.tailBytes += merged.byteLength
        info.tailRecords++
        documents.put(info)
        if (this.compactionDue(info)) this.scheduleCompaction()
      }
    } catch (err) {
      this.failed('writing a change failed', err)
      return
    }
    tx.oncomplete = () => {
      if (this.db !== db) return
      this.ownInFlight -= own
      if (this.allOwnWritten()) this.update({ written: true })
    }
    tx.onabort = () => {
      if (this.db === db) this.failed('writing a change failed', tx.error)
    }
  }

  private allOwnWritten(): boolean {
    return this.ownInFlight === 0 && this.ownQueued === 0
  }

  private cancelReceivedTimer(): void {
    if (this.receivedTimer === null) return
    clearTimeout(this.receivedTimer)
    this.receivedTimer = null
  }

  private compactionDue(info: LocalDocumentInfo): boolean {
    return info.tailBytes > info.snapshotBytes || info.tailRecords > (this.options.maxTailRecords ?? 500)
  }

  /** Compacts after a quiet moment, so typing is not slowed, but at most `compactMaxDelayMs` after it was due. */
  private scheduleCompaction(): void {
    const now = Date.now()
    if (this.compactDueAt === 0) this.compactDueAt = now
    const latest = this.compactDueAt + (this.options.compactMaxDelayMs ?? 5_000)
    const at = Math.min(now + (this.options.compactDelayMs ?? 1_000), latest)
    if (this.compactTimer) clearTimeout(this.compactTimer)
    this.compactTimer = setTimeout(
      () => {
        this.compactTimer = null
        this.compactDueAt = 0
        this.runCompaction().catch(() => undefined)
      },
      Math.max(0, at - now),
    )
  }

  /**
   * In one transaction: reads every record of the document, applies them to the Y.Doc (origin: this store, so
   * they are not written again), and unless `onlyIfNeeded` finds one snapshot and nothing to fold, replaces them
   * with the Y.Doc's state. Resolves with the number of records read.
   */
  private runCompaction(loading = false): Promise<number> {
    const db = this.db
    if (!db || this.compacting || this.retired) return Promise.resolve(0)
    this.compacting = true
    const wasMissing = this.missing
    this.missing = false
    return new Promise<number>((resolve, reject) => {
      let count = 0
      let tx: IDBTransaction
      try {
        tx = db.transaction(['records', 'documents'], 'readwrite')
      } catch (err) {
        this.compacting = false
        this.missing = true
        this.failed('compacting the local copy failed', err)
        reject(err)
        return
      }
      const records = tx.objectStore('records')
      const documents = tx.objectStore('documents')
      const keysRequest = records.index('doc').getAllKeys(this.name)
      keysRequest.onsuccess = () => {
        const keys = keysRequest.result
        const valuesRequest = records.index('doc').getAll(this.name)
        valuesRequest.onsuccess = () => {
          const stored = valuesRequest.result as LocalRecord[]
          count = stored.length
          // Everything stored, local or from another tab, into the live document in one transaction.
          Y.transact(
            this.doc,
            () => {
              for (const record of stored) Y.applyUpdate(this.doc, record.update, this)
            },
            this,
          )
          const infoRequest = documents.get(this.name)
          infoRequest.onsuccess = () => {
            const info: LocalDocumentInfo =
              (infoRequest.result as LocalDocumentInfo | undefined) ?? emptyInfo(this.name)
            // Another tab may have noted it since; the copy and its incarnation are read together.
            if (info.incarnation !== undefined) this.storedIncarnation = info.incarnation
            const settled = stored.length <= 1 && info.tailRecords === 0 && !wasMissing
            if (settled && (loading || stored.length === 0)) return
            if (stored.length === 0 && !wasMissing && this.doc.store.clients.size === 0) return
            for (const key of keys) records.delete(key)
            const snapshot = Y.encodeStateAsUpdate(this.doc)
            records.add({ doc: this.name, update: snapshot } satisfies LocalRecord)
            documents.put({
              ...info,
              name: this.name,
              updatedAt: wasMissing || info.updatedAt === 0 ? Date.now() : info.updatedAt,
              bytes: snapshot.byteLength,
              records: 1,
              snapshotBytes: snapshot.byteLength,
              tailRecords: 0,
              tailBytes: 0,
            } satisfies LocalDocumentInfo)
          }
        }
      }
      tx.oncomplete = () => {
        this.compacting = false
        if (this.db !== db || this.retired) {
          resolve(count)
          return
        }
        this.update({ state: 'ready', problem: null, written: this.allOwnWritten() })
        // Changes made while it ran: written now, or (if a write failed meanwhile) by another compaction.
        if (this.queue.length > 0) this.flush()
        if (this.missing) this.scheduleCompaction()
        resolve(count)
      }
      tx.onabort = () => {
        this.compacting = false
        this.missing = true
        if (this.db === db) this.failed('compacting the local copy failed', tx.error)
        reject(tx.error ?? new Error('compaction aborted'))
      }
    })
  }

  private update(change: Partial<LocalStoreStatus>): void {
    const next = { ...this.currentStatus, ...change }
    const current = this.currentStatus
    if (next.state === current.state && next.written === current.written && next.problem === current.problem) return
    this.currentStatus = next
    for (const listener of [...this.listeners]) {
      try {
        listener(next)
      } catch (err) {
        console.error('[collab] a local store status listener threw', err)
      }
    }
  }
}

function describeFailure(what: string, err: unknown): string {
  if (err === undefined || err === null) return what
  const name = (err as { name?: unknown }).name
  if (name === 'QuotaExceededError') return `${what}: the browser's storage quota for this site is full`
  return `${what}: ${err instanceof Error ? err.message : String(err)}`
}
