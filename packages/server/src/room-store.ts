import type { DocStore, SideWrite } from '@collab/storage'
import type { Logger } from 'pino'
import * as Y from 'yjs'
import type { SyncObserver } from './observer.js'

/** How long a document must go without a write before a due compaction runs. */
const compactionQuietMs = 1_000
/**
 * The longest a due compaction waits for a quiet moment: what a server killed meanwhile leaves beyond the snapshot is
 * at most this long's worth of records, and each costs the next load a little (a snapshot and 200 records load in
 * about 1.3x the time of the snapshot alone).
 */
const compactionMaxDelayMs = 2_000

/**
 * A room's side of storage: appends its document's updates, knows when the latest one is durable (what save
 * acknowledgements wait for), and compacts while the document is live and when it unloads.
 */
export class RoomStore {
  /** Settles when every update appended so far is durable (or failed). */
  private lastAppend: Promise<void> = Promise.resolve()
  private compacting: Promise<void> | null = null
  /** Updates appended since the room last compacted; an unload compacts when there are any. */
  private appendedSinceCompaction = 0
  /** When the last update was appended, and since when the store has wanted a compaction (null: it does not). */
  private lastAppendAt = 0
  private compactionDueSince: number | null = null
  private compactionTimer: NodeJS.Timeout | null = null

  constructor(
    private readonly name: string,
    private readonly doc: Y.Doc,
    private readonly store: DocStore,
    private readonly logger: Logger,
    private readonly observer: SyncObserver,
    /** Called once the update is durable (to publish it), and when an append fails. */
    private readonly events: { stored(update: Uint8Array): void; failed(err: unknown): void },
  ) {}

  /** Resolves once every update appended so far is durable; rejects if one failed. */
  get written(): Promise<void> {
    return this.lastAppend
  }

  /**
   * The document was loaded from `records` stored records: more than one means a tail that a server which ended
   * without unloading left behind, which the next unload compacts even if nobody edits meanwhile.
   */
  loadedFrom(records: number): void {
    this.appendedSinceCompaction = Math.max(0, records - 1)
  }

  /** Appends an update (with side records in the same batch); it becomes the latest write, which acknowledgements wait for. */
  append(update: Uint8Array, side?: readonly SideWrite[]): void {
    const appended = side ? this.store.append(this.name, update, side) : this.store.append(this.name, update)
    this.lastAppend = appended
    this.appendedSinceCompaction++
    this.lastAppendAt = Date.now()
    appended.then(
      () => {
        this.events.stored(update)
        this.compactIfNeeded()
      },
      (err: unknown) => this.events.failed(err),
    )
  }

  /**
   * Compacts once the store says enough was appended since the last snapshot, at a quiet moment: encoding the
   * snapshot holds up everyone on this process for as long as the document is large, so a document being written
   * to without pause compacts at most every {@link compactionMaxDelayMs}, and any other as soon as it has been
   * quiet for {@link compactionQuietMs} (a person pausing while typing is enough).
   */
  compactIfNeeded(): void {
    if (this.compacting || this.compactionTimer || !this.store.needsCompaction(this.name)) return
    const now = Date.now()
    this.compactionDueSince ??= now
    const quietFor = now - this.lastAppendAt
    if (quietFor >= compactionQuietMs || now - this.compactionDueSince >= compactionMaxDelayMs) {
      this.compactNow()
      return
    }
    this.compactionTimer = setTimeout(() => {
      this.compactionTimer = null
      this.compactIfNeeded()
    }, compactionQuietMs - quietFor)
    this.compactionTimer.unref()
  }

  private compactNow(): void {
    this.compactionDueSince = null
    const started = performance.now()
    // The live document holds every update this room appended, so its state is a valid snapshot (and far cheaper
    // than re-reading and merging the stored records).
    const snapshot = Y.encodeStateAsUpdate(this.doc)
    this.appendedSinceCompaction = 0
    this.compacting = this.store
      .compact(this.name, snapshot)
      .then(
        () => {
          const ms = performance.now() - started
          this.observer.compacted?.(ms, snapshot.length)
          this.logger.info({ doc: this.name, bytes: snapshot.length, ms: Math.round(ms) }, 'compacted')
        },
        (err: unknown) =>
          this.logger.error({ doc: this.name, err: errorMessage(err) }, 'compaction failed; records kept'),
      )
      .finally(() => {
        this.compacting = null
      })
  }

  /**
   * Waits for every write, then (with `compact`) leaves one snapshot behind when anything was appended, so the next
   * load is a single read and a single apply. Never rejects: a failure is logged.
   */
  async finish(compact: boolean): Promise<void> {
    if (this.compactionTimer) clearTimeout(this.compactionTimer)
    this.compactionTimer = null
    try {
      await this.lastAppend
      await this.compacting
      if (compact && this.appendedSinceCompaction > 0) {
        const started = performance.now()
        const snapshot = Y.encodeStateAsUpdate(this.doc)
        await this.store.compact(this.name, snapshot)
        this.appendedSinceCompaction = 0
        this.observer.compacted?.(performance.now() - started, snapshot.length)
      }
    } catch (err) {
      this.logger.error({ doc: this.name, err: errorMessage(err) }, 'final flush failed')
    }
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
