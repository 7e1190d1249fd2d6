/**
 * The browser's local copy of documents, in IndexedDB: the schema, and the operations that span documents (list
 * them, clear them). One database per origin holds every document:
 *
 * - `records`: out-of-line auto-increment keys, values `{ doc, update }` (a Yjs update), indexed by `doc`. A
 *   document's local copy is the merge of its records, in any order. Auto-increment keys, not per-document sequence
 *   numbers, because several tabs append to the same document and must never collide.
 * - `documents`: one {@link LocalDocumentInfo} per document, keyed by name, kept in the same transactions as the
 *   records it describes.
 * - `recovered`: {@link RecoveredCopy} values under auto-increment keys: local copies of documents the server no
 *   longer has (deleted there while this browser held edits), kept for the user to take back.
 */

/** The database's default name. */
export const defaultLocalDatabaseName = 'collab-local'
const schemaVersion = 2

/** What the local store knows about one document, without reading its records. */
export interface LocalDocumentInfo {
  name: string
  /** When a change to it was last written here (ms since the epoch). */
  updatedAt: number
  /** Bytes of its records in all. */
  bytes: number
  /** Number of records. */
  records: number
  /** Bytes of the newest snapshot (the merged state written by the last compaction); 0 before the first. */
  snapshotBytes: number
  /** Records written since that snapshot, and their bytes: what compaction would fold into a new snapshot. */
  tailRecords: number
  tailBytes: number
  /** The incarnation of the document on the server that this copy belongs to, once the server named it. */
  incarnation?: string
}

/**
 * The local copy of a document the server refused as deleted ([DL2]): everything this browser held of it, merged
 * into one Yjs update, so that the user can take the text back instead of losing it or bringing the deleted
 * document back.
 */
export interface RecoveredCopy {
  /** Set by {@link listRecoveredCopies}: the key to pass to {@link discardRecoveredCopy}. */
  id?: number
  name: string
  /** When it was set aside (ms since the epoch). */
  savedAt: number
  /** The whole local copy, one Yjs update. */
  update: Uint8Array
  /** The server incarnation ([IN1]) the copy belonged to, when the server had named one. */
  incarnation?: string
}

/** One stored record. */
export interface LocalRecord {
  doc: string
  update: Uint8Array
}

/** Where the local store lives: an IndexedDB factory (the browser's, or fake-indexeddb in Node) and a name. */
export interface LocalDatabaseOptions {
  /** Default: the global `indexedDB`. */
  indexedDB?: IDBFactory
  /** Default: `collab-local`. */
  databaseName?: string
}

/** Thrown when there is no IndexedDB at all (Node without a stand-in, some private modes). */
export class LocalStoreUnavailableError extends Error {
  override name = 'LocalStoreUnavailableError'
}

/** The IndexedDB factory to use, or an error saying why there is none. */
export function localFactory(options: LocalDatabaseOptions): IDBFactory {
  const factory = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB
  if (!factory) throw new LocalStoreUnavailableError('this environment has no IndexedDB')
  return factory
}

/** Opens (and creates or upgrades) the database. Rejects rather than hangs when another tab blocks an upgrade. */
export function openLocalDatabase(options: LocalDatabaseOptions): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    let request: IDBOpenDBRequest
    try {
      request = localFactory(options).open(options.databaseName ?? defaultLocalDatabaseName, schemaVersion)
    } catch (err) {
      reject(err)
      return
    }
    request.onupgradeneeded = () => {
      const db = request.result
      if (!db.objectStoreNames.contains('records')) {
        db.createObjectStore('records', { autoIncrement: true }).createIndex('doc', 'doc')
      }
      if (!db.objectStoreNames.contains('documents')) db.createObjectStore('documents', { keyPath: 'name' })
      if (!db.objectStoreNames.contains('recovered')) db.createObjectStore('recovered', { autoIncrement: true })
    }
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(request.error ?? new Error('opening the local database failed'))
    request.onblocked = () => reject(new Error('opening the local database is blocked by another tab'))
  })
}

/** Resolves with a request's result. */
export function requestResult<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(request.error ?? new Error('an IndexedDB request failed'))
  })
}

/** Resolves when `tx` commits; rejects with its error when it aborts. */
export function transactionDone(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve()
    tx.onerror = () => reject(tx.error ?? new Error('an IndexedDB transaction failed'))
    tx.onabort = () => reject(tx.error ?? new Error('an IndexedDB transaction was aborted'))
  })
}

/** An info record for a document that has none yet. */
export function emptyInfo(name: string): LocalDocumentInfo {
  return { name, updatedAt: 0, bytes: 0, records: 0, snapshotBytes: 0, tailRecords: 0, tailBytes: 0 }
}

/**
 * The documents this browser holds a local copy of, most recently changed first: for a list of what can be opened
 * offline. Resolves with an empty list where there is no IndexedDB.
 */
export async function listLocalDocuments(options: LocalDatabaseOptions = {}): Promise<LocalDocumentInfo[]> {
  try {
    localFactory(options)
  } catch {
    return []
  }
  const db = await openLocalDatabase(options)
  try {
    const all = await requestResult(
      db.transaction('documents', 'readonly').objectStore('documents').getAll() as IDBRequest<LocalDocumentInfo[]>,
    )
    return all.filter((info) => info.records > 0).sort((a, b) => b.updatedAt - a.updatedAt)
  } finally {
    db.close()
  }
}

/**
 * Deletes the local copy of the named documents, or of every document when `names` is omitted. Edits that were
 * only on this device (not yet acknowledged by the server) are gone with it. A tab that has one of them open
 * writes its copy again with its next change.
 */
export async function clearLocalData(names?: readonly string[], options: LocalDatabaseOptions = {}): Promise<void> {
  const db = await openLocalDatabase(options)
  try {
    const tx = db.transaction(['records', 'documents'], 'readwrite')
    const records = tx.objectStore('records')
    const documents = tx.objectStore('documents')
    if (names === undefined) {
      records.clear()
      documents.clear()
    } else {
      for (const name of names) {
        const keys = await requestResult(records.index('doc').getAllKeys(name))
        for (const key of keys) records.delete(key)
        documents.delete(name)
      }
    }
    await transactionDone(tx)
  } finally {
    db.close()
  }
}

/** Bytes the local store holds for `name` (its records' updates): what a size budget is checked against. */
export async function localDocumentBytes(name: string, options: LocalDatabaseOptions = {}): Promise<number> {
  const db = await openLocalDatabase(options)
  try {
    const records = await requestResult(
      db.transaction('records', 'readonly').objectStore('records').index('doc').getAll(name) as IDBRequest<
        LocalRecord[]
      >,
    )
    return records.reduce((sum, record) => sum + record.update.byteLength, 0)
  } finally {
    db.close()
  }
}

/** The recovered copies on this device, newest first. Resolves with an empty list where there is no IndexedDB. */
export async function listRecoveredCopies(options: LocalDatabaseOptions = {}): Promise<RecoveredCopy[]> {
  try {
    localFactory(options)
  } catch {
    return []
  }
  const db = await openLocalDatabase(options)
  try {
    const store = db.transaction('recovered', 'readonly').objectStore('recovered')
    const [keys, values] = await Promise.all([
      requestResult(store.getAllKeys()),
      requestResult(store.getAll() as IDBRequest<RecoveredCopy[]>),
    ])
    return values.map((copy, i) => ({ ...copy, id: Number(keys[i]) })).sort((a, b) => b.savedAt - a.savedAt)
  } finally {
    db.close()
  }
}

/** Deletes one recovered copy (its `id` from {@link listRecoveredCopies}). */
export async function discardRecoveredCopy(id: number, options: LocalDatabaseOptions = {}): Promise<void> {
  const db = await openLocalDatabase(options)
  try {
    const tx = db.transaction('recovered', 'readwrite')
    tx.objectStore('recovered').delete(id)
    await transactionDone(tx)
  } finally {
    db.close()
  }
}
