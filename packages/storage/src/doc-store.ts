/** What a store knows about one stored document, for listings. */
export interface DocInfo {
  name: string
  /** Bytes stored for the document (snapshot plus updates appended since). */
  bytes: number
  /** Stored records: 1 after a compaction, plus one per update appended since. */
  records: number
  /** When the document was last written (ms since the epoch). */
  updatedAt: number
}

/** When a document's stored updates should be merged into one snapshot. */
export interface CompactionPolicy {
  /** Compact once this many updates were appended since the last snapshot. Default 10,000. */
  maxUpdates: number
  /**
   * Compact once the updates appended since the last snapshot take this many bytes, or more bytes than the
   * snapshot itself (whichever is larger), so compaction costs stay proportional to what was written. Default 1 MiB.
   */
  maxBytes: number
}

/** The default {@link CompactionPolicy}. */
export const defaultCompactionPolicy: CompactionPolicy = { maxUpdates: 10_000, maxBytes: 1 << 20 }

/**
 * The storage port of the sync server. A document is a sequence of Yjs updates; the store keeps them in the order
 * they were appended, per document, and can replace them by one merged snapshot.
 *
 * Contract (tested against every adapter by the shared suite in test/contract.ts):
 * - `append` resolves once the update is durable; updates of one document are stored in append order;
 * - `load` returns what was stored, or throws {@link DocumentUnreadableError}; never an empty document in place
 *   of an unreadable one;
 * - `compact` replaces stored records atomically: a crash leaves either the old records or the snapshot.
 */
export interface DocStore {
  /** The stored updates of `name`, oldest first; `[]` for an unknown document. */
  load(name: string): Promise<Uint8Array[]>
  /** Stores one update after the ones already appended to `name`; resolves when it is durable. */
  append(name: string, update: Uint8Array): Promise<void>
  /**
   * Whether enough was appended to `name` since its last snapshot that {@link DocStore.compact} is worth it.
   * `false` for documents this store has not loaded or written.
   */
  needsCompaction(name: string): boolean
  /**
   * Replaces the records of `name` by one snapshot. With `snapshot`, the caller guarantees it contains every
   * update it appended to `name` before this call (the live document's state; cheap to produce). Without it, the
   * store merges the stored records itself.
   */
  compact(name: string, snapshot?: Uint8Array): Promise<void>
  /** Every stored document. */
  list(): Promise<DocInfo[]>
  /** Removes a document and everything stored for it. */
  delete(name: string): Promise<void>
  /** Resolves once everything appended so far is durable (or rejects if writing it failed). */
  flush(): Promise<void>
  /** Flushes and releases the store. */
  close(): Promise<void>
}

/** A stored document that cannot be decoded. Serving it as empty would let clients overwrite the real one. */
export class DocumentUnreadableError extends Error {
  override readonly name = 'DocumentUnreadableError'
  constructor(
    readonly docName: string,
    readonly detail: string,
  ) {
    super(
      `document ${JSON.stringify(docName)} cannot be read: ${detail}; refusing to serve it so it is not overwritten`,
    )
  }
}
