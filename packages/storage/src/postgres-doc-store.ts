import { randomUUID } from 'node:crypto'
import { crc32 } from 'node:zlib'
import type { Pool, PoolClient } from 'pg'
import { type DocStats, emptyStats, statsHaveLongTail, statsNeedCompaction } from './doc-stats.js'
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
import { RecordKind } from './record.js'
import { type Rewritable, Rewrites } from './rewrites.js'
import { type Clocks, clocksOfUpdates, decodeClocks, encodeClocks, raiseClocks } from './state-vector.js'

/** Options of {@link PostgresDocStore.open}. */
export interface PostgresDocStoreOptions {
  /** `postgres://user:password@host:port/database` */
  connectionString: string
  /**
   * Name of the table of records, created if missing; the tombstones of deleted documents go in
   * `<table>_tombstones`, the incarnation ids in `<table>_ids`. A lowercase identifier of at most 52 characters.
   * Default `collab_records`.
   */
  table?: string
  compaction?: Partial<CompactionPolicy>
  /** Connections in the pool. Default 8. */
  maxConnections?: number
  /**
   * A query that has not answered after this many ms fails (and the appends it carried with it), so an
   * unreachable database turns into "retry later" for clients instead of a hang. Default 15,000.
   */
  queryTimeoutMs?: number
  /** Where trouble goes that no caller can be handed: a pooled connection that broke, a compaction on load that failed. */
  logger?: StoreLogger
}

interface DocState extends Rewritable {
  stats: DocStats
}

interface Row {
  doc: string
  kind: number
  crc: number
  at: number
  data: Buffer
}

interface PendingBatch {
  rows: Row[]
  bytes: number
  done: Promise<void>
  resolve: () => void
  reject: (err: unknown) => void
}

interface StoredRow {
  seq: string
  kind: number
  crc: number
  at: string
  data: Buffer
}

interface TombstoneRow {
  crc: number
  state_vector: Buffer
}

/** One INSERT carries at most this much; a longer queue becomes several statements, written one after another. */
const maxRowsPerInsert = 5_000
const maxBytesPerInsert = 16 << 20
/** First key of the two-key advisory locks that serialize compactions of one document across instances. */
const compactionLockSpace = 0x636f6c

/**
 * A store shared by several server instances, on PostgreSQL. Every record is a row `(doc, seq, kind, crc, at,
 * data)`; `seq` comes from an identity column, so instances appending to the same document never collide. The
 * appends of one tick (all documents) are written by one multi-row INSERT (group commit), one statement at a time,
 * so a store's appends keep their order.
 *
 * Compaction runs in one transaction under a per-document advisory lock: it reads the document's rows, merges
 * them itself and deletes exactly the rows it read (by seq) before inserting the snapshot. Rows that other
 * instances append meanwhile are never touched. It ignores the snapshot argument of {@link DocStore.compact}: the
 * live document of one instance may lack updates that another instance stored. A deletion is one transaction under
 * the same lock: it deletes the document's rows and writes its tombstone, a row of `<table>_tombstones`.
 */
export class PostgresDocStore implements DocStore {
  private readonly docs = new Map<string, DocState>()
  private readonly rewrites = new Rewrites()
  /** Batches waiting to be written, oldest first; appends go to the last one until it is full. */
  private readonly queue: PendingBatch[] = []
  private writing: Promise<void> | null = null
  private lastBatch: Promise<void> = Promise.resolve()
  private closed = false
  private readonly sql: ReturnType<typeof statements>

  private constructor(
    private readonly pool: Pool,
    table: string,
    private readonly policy: CompactionPolicy,
    private readonly logger: StoreLogger | undefined,
  ) {
    this.sql = statements(table)
  }

  /** Connects, creates the table if needed, and resolves once the database answered. */
  static async open(options: PostgresDocStoreOptions): Promise<PostgresDocStore> {
    const table = options.table ?? 'collab_records'
    // PostgreSQL truncates identifiers past 63 bytes, and `<table>_tombstones` must stay distinct.
    if (!/^[a-z_][a-z0-9_]{0,51}$/.test(table)) {
      throw new RangeError(
        `Invalid table name ${JSON.stringify(table)}: a lowercase identifier of at most 52 characters`,
      )
    }
    // Imported here, not at the top: `@collab/storage` is also the LevelDB default's package, and loading `pg` costs
    // a server that never uses it about 16 MB and 80 ms at start.
    const { Pool: PgPool } = await import('pg')
    const pool = new PgPool({
      connectionString: options.connectionString,
      max: options.maxConnections ?? 8,
      connectionTimeoutMillis: 5_000,
      query_timeout: options.queryTimeoutMs ?? 15_000,
      idleTimeoutMillis: 30_000,
      application_name: 'collab',
    })
    // A pooled connection that breaks while idle (the server restarted) is dropped by the pool; without a
    // listener the 'error' event would end the process.
    pool.on('error', (err) => options.logger?.warn({ err: err.message }, 'PostgreSQL connection lost'))
    const policy = { ...defaultCompactionPolicy, ...options.compaction }
    const store = new PostgresDocStore(pool, table, policy, options.logger)
    try {
      await store.createSchema()
    } catch (err) {
      await pool.end()
      throw err
    }
    return store
  }

  private async createSchema(): Promise<void> {
    await this.transaction(async (client) => {
      // Instances starting together would race on CREATE TABLE IF NOT EXISTS (it is not atomic in PostgreSQL).
      await client.query('SELECT pg_advisory_xact_lock($1)', [compactionLockSpace])
      await client.query(this.sql.createTable)
      // Added after the first release: stores created before it get the table at their next start.
      await client.query(this.sql.createTombstoneTable)
      // Added with incarnation ids ([IN1]): created at the next start of an older store.
      await client.query(this.sql.createIncarnationTable)
    })
  }

  async load(name: string): Promise<Uint8Array[]> {
    this.assertOpen()
    await this.settled()
    if (name.includes('\u0000')) {
      // PostgreSQL text cannot hold NUL, so no stored document has this name. Readiness probes load such a name
      // to see whether the store answers: the database is still asked.
      await this.pool.query('SELECT 1')
      return []
    }
    const { rows } = await this.pool.query<StoredRow>(this.sql.selectDoc, [name])
    const stats = emptyStats()
    const updates = rows.map((row) => {
      const payload = checkedPayload(name, row)
      if (row.kind === RecordKind.Snapshot) stats.snapshotBytes += payload.length
      else {
        stats.tailRecords++
        stats.tailBytes += payload.length
      }
      return payload
    })
    const doc = this.docOf(name)
    if (doc.rewriting) return updates
    // Other instances append too: what was just read is the best count of what a compaction would merge.
    doc.stats = stats
    if (!statsHaveLongTail(stats, this.policy)) return updates
    // Applying the rows one by one is what makes a long tail slow to open; merged once here (the same work the
    // caller would do) and stored, every later load reads one row.
    const merged = mergeStoredUpdates(name, updates)
    this.rewrites
      .start(doc, () => this.replaceLoadedRows(name, doc, rows, merged))
      .catch((err: unknown) => {
        // Only an optimization failed: the rows are intact, and the next load or compaction tries again.
        this.logger?.warn(
          { doc: name, err: err instanceof Error ? err.message : String(err) },
          'compaction on load failed',
        )
      })
    return [merged]
  }

  /** Stores what a load merged in place of the rows it read, unless another instance compacted them meanwhile. */
  private async replaceLoadedRows(name: string, doc: DocState, rows: StoredRow[], merged: Uint8Array): Promise<void> {
    const tailBefore = { records: doc.stats.tailRecords, bytes: doc.stats.tailBytes }
    const replaced = await this.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [compactionLockSpace, name])
      const seqs = rows.map((row) => row.seq)
      const { rows: present } = await client.query<{ count: string }>(this.sql.countRows, [name, seqs])
      // Some are gone: another instance's snapshot holds them, and the rows it left are not all in `merged`.
      if (Number(present[0]?.count) !== rows.length) return false
      await this.replaceRows(client, name, rows, Buffer.from(merged))
      return true
    })
    if (replaced) this.tailMerged(doc, merged.length, tailBefore)
  }

  append(name: string, update: Uint8Array, side?: readonly SideWrite[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('PostgresDocStore is closed'))
    if (side && side.length > 0) {
      // Clusters do not offer the @codemirror/collab log ([OT9]); storing the update without its side records would
      // break the promise that both are written together.
      return Promise.reject(new Error('PostgresDocStore keeps no side records'))
    }
    if (name.includes('\u0000')) return Promise.reject(new RangeError(`Invalid document name ${JSON.stringify(name)}`))
    // Copied now: the caller may reuse its buffer before the batch is written.
    const data = Buffer.from(update)
    const stats = this.docOf(name).stats
    stats.tailRecords++
    stats.tailBytes += data.length
    return this.enqueue({ doc: name, kind: RecordKind.Update, crc: signedCrc(data), at: Date.now(), data })
  }

  needsCompaction(name: string): boolean {
    const doc = this.docs.get(name)
    return doc !== undefined && doc.rewriting === null && statsNeedCompaction(doc.stats, this.policy)
  }

  async compact(name: string, _snapshot?: Uint8Array): Promise<void> {
    this.assertOpen()
    const doc = this.docOf(name)
    // One rewrite per document and store at a time; the advisory lock serializes those of other instances.
    if (doc.rewriting) return doc.rewriting
    return this.rewrites.start(doc, () => this.compactRecords(name, doc))
  }

  private async compactRecords(name: string, doc: DocState): Promise<void> {
    // This store's queued appends are written first, so that they are among the rows merged.
    await this.settled()
    const tailBefore = { records: doc.stats.tailRecords, bytes: doc.stats.tailBytes }
    const snapshotBytes = await this.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [compactionLockSpace, name])
      const { rows } = await client.query<StoredRow>(this.sql.selectDoc, [name])
      const payloads = rows.map((row) => checkedPayload(name, row))
      const onlySnapshot = rows.length === 1 && rows[0]?.kind === RecordKind.Snapshot
      if (rows.length === 0 || onlySnapshot) return payloads[0]?.length ?? 0
      const merged = Buffer.from(mergeStoredUpdates(name, payloads))
      await this.replaceRows(client, name, rows, merged)
      return merged.length
    })
    this.tailMerged(doc, snapshotBytes, tailBefore)
  }

  /** Deletes exactly `rows` (by seq: rows another instance committed since they were read stay) and inserts `merged`. */
  private async replaceRows(client: PoolClient, name: string, rows: StoredRow[], merged: Buffer): Promise<void> {
    await client.query(this.sql.deleteRows, [name, rows.map((row) => row.seq)])
    const lastWrite = rows.reduce((latest, row) => Math.max(latest, Number(row.at)), 0)
    await client.query(this.sql.insertOne, [name, RecordKind.Snapshot, signedCrc(merged), lastWrite, merged])
  }

  /** The figures after a compaction merged the tail counted in `tailBefore` into a snapshot of `snapshotBytes`. */
  private tailMerged(doc: DocState, snapshotBytes: number, tailBefore: { records: number; bytes: number }): void {
    doc.stats = {
      snapshotBytes,
      tailRecords: Math.max(0, doc.stats.tailRecords - tailBefore.records),
      tailBytes: Math.max(0, doc.stats.tailBytes - tailBefore.bytes),
      updatedAt: doc.stats.updatedAt,
    }
  }

  async list(): Promise<DocInfo[]> {
    this.assertOpen()
    await this.settled()
    const { rows } = await this.pool.query<{ doc: string; records: string; bytes: string; at: string }>(
      this.sql.listDocs,
    )
    return rows.map((row) => ({
      name: row.doc,
      bytes: Number(row.bytes),
      records: Number(row.records),
      updatedAt: Number(row.at),
    }))
  }

  async delete(name: string, stateVector?: Uint8Array): Promise<void> {
    this.assertOpen()
    if (name.includes('\u0000')) throw new RangeError(`Invalid document name ${JSON.stringify(name)}`)
    // Decoded before anything is touched: a malformed argument deletes nothing.
    const given = stateVector === undefined ? undefined : decodeClocks(name, stateVector)
    const doc = this.docOf(name)
    // After this store's compaction of the document, if one runs; the advisory lock orders those of other instances.
    await this.rewrites.startWhenIdle(doc, () => this.deleteRows(name, given))
    this.docs.delete(name)
  }

  private async deleteRows(name: string, given: Clocks | undefined): Promise<void> {
    // This store's queued appends are written first, so that they are deleted too.
    await this.settled()
    await this.transaction(async (client) => {
      // The compaction lock: no other instance's compaction writes a snapshot of this document meanwhile.
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [compactionLockSpace, name])
      // The rows this statement deletes are exactly the content the tombstone must cover.
      const { rows } = await client.query<StoredRow>(given ? this.sql.deleteDoc : this.sql.deleteDocReturning, [name])
      // A damaged row's clocks are unknown. Deleting must still work: it is how a damaged document is removed.
      const intact = rows.filter((row) => signedCrc(row.data) === row.crc).map((row) => row.data)
      const previous = await this.readTombstone(client, name)
      const clocks = encodeClocks(raiseClocks(previous ?? new Map(), given ?? clocksOfUpdates(intact)))
      const data = Buffer.from(clocks)
      await client.query(this.sql.upsertTombstone, [name, signedCrc(data), Date.now(), data])
      await client.query(this.sql.deleteIncarnation, [name])
    })
  }

  async incarnation(name: string): Promise<string> {
    this.assertOpen()
    if (name.includes('\u0000')) throw new RangeError(`Invalid document name ${JSON.stringify(name)}`)
    // Insert-if-absent, then read: instances asking at once all read the one id that won.
    await this.pool.query(this.sql.insertIncarnation, [name, randomUUID()])
    const { rows } = await this.pool.query<{ id: string }>(this.sql.selectIncarnation, [name])
    const row = rows[0]
    if (!row) throw new Error(`incarnation of ${JSON.stringify(name)} vanished while it was read (deleted meanwhile)`)
    return row.id
  }

  async tombstone(name: string): Promise<Uint8Array | null> {
    this.assertOpen()
    // PostgreSQL text cannot hold NUL: no document of such a name was ever stored, or deleted.
    if (name.includes('\u0000')) return null
    const clocks = await this.readTombstone(this.pool, name)
    return clocks === null ? null : encodeClocks(clocks)
  }

  private async readTombstone(client: Pool | PoolClient, name: string): Promise<Clocks | null> {
    const { rows } = await client.query<TombstoneRow>(this.sql.selectTombstone, [name])
    const row = rows[0]
    if (!row) return null
    // Merging into a tombstone that cannot be read would forget what was deleted before.
    if (signedCrc(row.state_vector) !== row.crc) {
      throw new DocumentUnreadableError(name, 'tombstone: checksum mismatch (stored data is damaged)')
    }
    return decodeClocks(name, row.state_vector)
  }

  /** Resolves once the appends queued so far are committed (rejects if they failed) and running rewrites ended. */
  async flush(): Promise<void> {
    const appended = this.lastBatch
    await this.rewrites.settled()
    return appended
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.settled()
    await this.rewrites.settled()
    await this.pool.end()
  }

  async forget(name: string): Promise<void> {
    const doc = this.docs.get(name)
    if (!doc) return
    const { stats } = doc
    const before = { stats, records: stats.tailRecords, bytes: stats.tailBytes }
    await this.settled()
    // Anything that touched the document meanwhile (an append, a load, a compaction, a deletion) keeps its figures.
    const untouched =
      this.docs.get(name) === doc &&
      doc.stats === before.stats &&
      doc.stats.tailRecords === before.records &&
      doc.stats.tailBytes === before.bytes &&
      doc.rewriting === null &&
      !this.queue.some((batch) => batch.rows.some((row) => row.doc === name))
    if (untouched) this.docs.delete(name)
  }

  private docOf(name: string): DocState {
    let doc = this.docs.get(name)
    if (!doc) {
      doc = { stats: emptyStats(), rewriting: null }
      this.docs.set(name, doc)
    }
    return doc
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('PostgresDocStore is closed')
  }

  /** Waits for every batch queued so far, whether it succeeds or fails. */
  private settled(): Promise<void> {
    return this.lastBatch.then(
      () => undefined,
      () => undefined,
    )
  }

  private async transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect()
    let failure: Error | undefined
    try {
      await client.query('BEGIN')
      const result = await work(client)
      await client.query('COMMIT')
      return result
    } catch (err) {
      failure = err instanceof Error ? err : new Error(String(err))
      // A failed ROLLBACK means the connection is gone, and the transaction with it.
      await client.query('ROLLBACK').catch(() => undefined)
      throw err
    } finally {
      // Releasing with the error discards a connection that may be broken instead of pooling it.
      client.release(failure)
    }
  }

  /** Adds a row to the batch of this tick; resolves when that batch is committed. */
  private enqueue(row: Row): Promise<void> {
    let batch = this.queue.at(-1)
    if (!batch || batch.rows.length >= maxRowsPerInsert || batch.bytes >= maxBytesPerInsert) {
      let resolve!: () => void
      let reject!: (err: unknown) => void
      const done = new Promise<void>((res, rej) => {
        resolve = res
        reject = rej
      })
      // Callers that only wait (flush, settled) must not turn a failed write into an unhandled rejection.
      done.catch(() => undefined)
      batch = { rows: [], bytes: 0, done, resolve, reject }
      this.queue.push(batch)
      this.lastBatch = done
      if (!this.writing && this.queue.length === 1) setImmediate(() => this.drain())
    }
    batch.rows.push(row)
    batch.bytes += row.data.length
    return batch.done
  }

  private drain(): void {
    if (this.writing) return
    const batch = this.queue.shift()
    if (!batch) return
    this.writing = this.writeBatch(batch).finally(() => {
      this.writing = null
      // Appends that arrived while this batch was being written form the next one.
      this.drain()
    })
  }

  private async writeBatch(batch: PendingBatch): Promise<void> {
    const { rows } = batch
    try {
      await this.pool.query(this.sql.insertMany, [
        rows.map((row) => row.doc),
        rows.map((row) => row.kind),
        rows.map((row) => row.crc),
        rows.map((row) => row.at),
        rows.map((row) => row.data),
      ])
    } catch (err) {
      batch.reject(err)
      return
    }
    batch.resolve()
  }
}

/** The SQL of a store on `table` (a name checked to be a plain identifier). */
function statements(table: string) {
  return {
    createTable: `CREATE TABLE IF NOT EXISTS ${table} (
      doc text COLLATE "C" NOT NULL,
      seq bigint GENERATED ALWAYS AS IDENTITY,
      kind smallint NOT NULL,
      crc integer NOT NULL,
      at bigint NOT NULL,
      data bytea NOT NULL,
      PRIMARY KEY (doc, seq)
    )`,
    selectDoc: `SELECT seq, kind, crc, at, data FROM ${table} WHERE doc = $1 ORDER BY seq`,
    // ORDER BY the array position makes the identity values follow the order of the appends.
    insertMany: `INSERT INTO ${table} (doc, kind, crc, at, data)
      SELECT doc, kind, crc, at, data
      FROM unnest($1::text[], $2::smallint[], $3::integer[], $4::bigint[], $5::bytea[])
        WITH ORDINALITY AS batch(doc, kind, crc, at, data, position)
      ORDER BY position`,
    insertOne: `INSERT INTO ${table} (doc, kind, crc, at, data) VALUES ($1, $2, $3, $4, $5)`,
    deleteRows: `DELETE FROM ${table} WHERE doc = $1 AND seq = ANY($2::bigint[])`,
    deleteDoc: `DELETE FROM ${table} WHERE doc = $1`,
    deleteDocReturning: `DELETE FROM ${table} WHERE doc = $1 RETURNING seq, kind, crc, at, data`,
    countRows: `SELECT count(*) AS count FROM ${table} WHERE doc = $1 AND seq = ANY($2::bigint[])`,
    createTombstoneTable: `CREATE TABLE IF NOT EXISTS ${table}_tombstones (
      doc text COLLATE "C" PRIMARY KEY,
      crc integer NOT NULL,
      at bigint NOT NULL,
      state_vector bytea NOT NULL
    )`,
    createIncarnationTable: `CREATE TABLE IF NOT EXISTS ${table}_ids (
      doc text COLLATE "C" PRIMARY KEY,
      id text NOT NULL
    )`,
    insertIncarnation: `INSERT INTO ${table}_ids (doc, id) VALUES ($1, $2) ON CONFLICT (doc) DO NOTHING`,
    selectIncarnation: `SELECT id FROM ${table}_ids WHERE doc = $1`,
    deleteIncarnation: `DELETE FROM ${table}_ids WHERE doc = $1`,
    selectTombstone: `SELECT crc, state_vector FROM ${table}_tombstones WHERE doc = $1`,
    upsertTombstone: `INSERT INTO ${table}_tombstones (doc, crc, at, state_vector) VALUES ($1, $2, $3, $4)
      ON CONFLICT (doc) DO UPDATE SET crc = EXCLUDED.crc, at = EXCLUDED.at, state_vector = EXCLUDED.state_vector`,
    listDocs: `SELECT doc, count(*) AS records, sum(octet_length(data)) AS bytes, max(at) AS at
      FROM ${table} GROUP BY doc`,
  }
}

/** CRC32 as PostgreSQL's signed `integer`. */
function signedCrc(data: Uint8Array): number {
  return crc32(data) | 0
}

/** A row's payload, checked: a damaged or foreign row refuses the document instead of loading as garbage. */
function checkedPayload(name: string, row: StoredRow): Uint8Array {
  if (row.kind !== RecordKind.Update && row.kind !== RecordKind.Snapshot) {
    throw new DocumentUnreadableError(name, `record ${row.seq}: unknown record kind ${row.kind}`)
  }
  if (signedCrc(row.data) !== row.crc) {
    throw new DocumentUnreadableError(name, `record ${row.seq}: checksum mismatch (stored data is damaged)`)
  }
  return row.data
}
