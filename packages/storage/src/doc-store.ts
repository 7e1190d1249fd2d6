/** What a store knows about one stored document, for listings. */
export interface DocInfo {
  name: string
  /** Bytes stored for the document (snapshot plus updates appended since). */
  bytes: number
  /** Stored records: 1 after a compaction, plus one per append since (the server appends one per burst). */
  records: number
  /** When the document was last written (ms since the epoch). */
  updatedAt: number
}

/** When a document's stored records should be merged into one snapshot. */
export interface CompactionPolicy {
  /**
   * Compact once this many records were appended since the last snapshot. Each append is one record, and the
   * server appends one per burst (the updates of one socket read), so this bounds what a load applies however the
   * server was stopped; a store that loads a tail twice this long merges it and stores the snapshot itself.
   * Default 200, measured on the 50,000-update automerge-paper document (84 KB snapshot; test/cold-load.test.ts):
   * loading and applying it in a fresh process takes 33 ms from the snapshot alone, 42 ms with 200 records after
   * it, 58 ms with 500, and 192 ms from its 5,752 records uncompacted.
   */
  maxRecords: number
  /**
   * Compact once the records appended since the last snapshot take this many bytes, or more bytes than the
   * snapshot itself (whichever is larger), so compaction costs stay proportional to what was written. Default 1 MiB.
   */
  maxBytes: number
}

/** The default {@link CompactionPolicy}. */
export const defaultCompactionPolicy: CompactionPolicy = { maxRecords: 200, maxBytes: 1 << 20 }

/**
 * A write to a document's side records: data kept beside its updates (the @codemirror/collab log, [OT3]), in the
 * same atomic batch as an append when given to {@link DocStore.append}. `value: null` deletes one key; `from`/`to`
 * deletes the keys in `[from, to)`. Keys are the caller's, any string without control characters.
 */
export type SideWrite = { key: string; value: Uint8Array | null } | { from: string; to: string }

/** Where a store reports trouble it cannot hand to a caller (a background write that failed, a broken connection). */
export interface StoreLogger {
  warn(fields: Record<string, unknown>, message: string): void
}

/**
 * The storage port of the sync server. A document is a sequence of Yjs updates; the store keeps them in the order
 * they were appended, per document, and can replace them by one merged snapshot.
 *
 * Contract (tested against every adapter by the shared suite in test/contract.ts):
 * - `append` resolves once the update is durable; updates of one document are stored in append order;
 * - `load` returns what was stored, or throws {@link DocumentUnreadableError}; never an empty document in place
 *   of an unreadable one;
 * - `compact` replaces stored records atomically: a crash leaves either the old records or the snapshot;
 * - `delete` removes the records and writes the tombstone atomically, and the tombstone outlives the records;
 * - `incarnation` is the same for every caller until `delete`, and never the same again after it.
 */
export interface DocStore {
  /**
   * The stored updates of `name`, oldest first; `[]` for an unknown document. A tail of twice
   * {@link CompactionPolicy.maxRecords} records or more is returned merged into one update, and stored so: a long
   * tail is slow to apply, and is applied once.
   */
  load(name: string): Promise<Uint8Array[]>
  /**
   * Stores one update after the ones already appended to `name`; resolves when it is durable. `side` writes
   * side records in the same atomic batch (only stores with {@link DocStore.readSide}; others throw).
   */
  append(name: string, update: Uint8Array, side?: readonly SideWrite[]): Promise<void>
  /**
   * The side records of `name` whose keys start with `prefix`, ordered by key. Optional: a store without it
   * keeps no side records (the PostgreSQL store, used by clusters, where the OT log is not offered, [OT9]).
   */
  readSide?(name: string, prefix: string): Promise<Array<[key: string, value: Uint8Array]>>
  /** Applies side-record writes in one atomic batch, after every append so far. Present with `readSide`. */
  writeSide?(name: string, writes: readonly SideWrite[]): Promise<void>
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
  /**
   * The caller no longer holds `name` open (its room unloaded): the store may drop what it keeps in memory for it
   * (figures, sequence numbers) once nothing of it is queued or being rewritten, and read it again on its next use.
   * Optional: a store that keeps nothing per document needs none. Without it, a long-running server would keep
   * something for every document it ever opened.
   */
  forget?(name: string): Promise<void>
  /**
   * Removes a document and everything stored for it (side records included), and remembers its state vector as a tombstone: the clocks
   * of content that was deleted, so that a client still holding that content cannot bring it back. A later
   * delete of the same name merges its state vector into the tombstone (the larger clock per client wins).
   * `stateVector` is a Yjs-encoded state vector (Y.encodeStateVector); without it the store computes it from
   * what it holds.
   */
  delete(name: string, stateVector?: Uint8Array): Promise<void>
  /** The tombstone of `name`: the merged Yjs state vector of every deleted incarnation, or `null` if never deleted. */
  tombstone(name: string): Promise<Uint8Array | null>
  /**
   * The id of the incarnation of `name` this store holds: a random string, stored the first time it is asked for
   * (a document is opened before its first write) and kept until {@link DocStore.delete}, after which the name
   * gets a new one. A client that kept a copy of the document compares it with the id it saw then: another id means
   * the document it copied is gone (deleted, or the storage was wiped or restored from a backup), so its copy must
   * not be sent as if it belonged to this one ([IN1] in docs/PROTOCOL.md). Instances sharing a store agree on it.
   */
  incarnation(name: string): Promise<string>
  /**
   * Resolves once everything appended so far is durable, and the compactions a load started are written (or
   * rejects if an append failed).
   */
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
