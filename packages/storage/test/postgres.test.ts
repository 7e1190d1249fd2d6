import { type PostgresServer, startPostgres } from '@collab/test-services'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { DocumentUnreadableError, PostgresDocStore } from '../src/index.js'
import { describeDocStoreContract, textOf, UpdateSource } from './contract.js'

let server: PostgresServer
let databaseUrl: string
/** Each store of the contract suite gets a table of its own, so every test starts from an empty store. */
let tables = 0

beforeAll(async () => {
  server = await startPostgres()
  databaseUrl = await server.createDatabase('storage_test')
}, 120_000)

afterAll(async () => {
  await server?.close()
})

/** Runs `use` on a connection of its own, behind the stores' backs. */
async function withClient<T>(use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    return await use(client)
  } finally {
    await client.end()
  }
}

describeDocStoreContract('PostgresDocStore', {
  sideRecords: false,
  create: (options) =>
    PostgresDocStore.open({ connectionString: databaseUrl, table: `records_${++tables}`, ...options }),
})

describe('PostgresDocStore with several writers', () => {
  const open: PostgresDocStore[] = []
  const sources: UpdateSource[] = []

  async function openStore(table: string, maxRecords = 10_000): Promise<PostgresDocStore> {
    const store = await PostgresDocStore.open({ connectionString: databaseUrl, table, compaction: { maxRecords } })
    open.push(store)
    return store
  }

  function createSource(): UpdateSource {
    const source = new UpdateSource()
    sources.push(source)
    return source
  }

  afterEach(async () => {
    for (const source of sources.splice(0)) source.destroy()
    await Promise.all(open.splice(0).map((store) => store.close()))
  })

  it('loses nothing when two stores append to one document and both compact while appending', async () => {
    const table = `shared_${++tables}`
    const [first, second] = await Promise.all([openStore(table, 20), openStore(table, 20)])
    const writers = [
      { store: first!, source: createSource() },
      { store: second!, source: createSource() },
    ]
    const work = writers.map(async ({ store, source }, index) => {
      const pending: Promise<void>[] = []
      for (let i = 0; i < 400; i++) {
        pending.push(store.append('doc', source.type(`${index}:${i};`)))
        // Compaction ignores the snapshot argument: this writer's state lacks the other writer's updates.
        if (i % 50 === 25) pending.push(store.compact('doc', Y.encodeStateAsUpdate(source.doc)))
        if (i % 20 === 0) await new Promise((resolve) => setImmediate(resolve))
      }
      await Promise.all(pending)
    })
    await Promise.all(work)
    const text = textOf(await first!.load('doc'))
    for (const [index] of writers.entries()) {
      for (let i = 0; i < 400; i++) expect(text).toContain(`${index}:${i};`)
    }
    await second!.compact('doc')
    const compacted = await first!.load('doc')
    expect(compacted).toHaveLength(1)
    expect(textOf(compacted)).toBe(text)
  })

  it('merges a long tail on load while another instance compacts the same rows, losing nothing', async () => {
    const table = `load_merge_${++tables}`
    const [writer, reader] = await Promise.all([openStore(table, 10), openStore(table, 10)])
    const source = createSource()
    for (let i = 0; i < 60; i++) await writer!.append('doc', source.type(`${i};`))
    const [loaded] = await Promise.all([reader!.load('doc'), writer!.compact('doc')])
    expect(textOf(loaded)).toBe(source.text.toString())
    await Promise.all([reader!.flush(), writer!.flush()])
    const after = await writer!.load('doc')
    expect(textOf(after)).toBe(source.text.toString())
    expect(after).toHaveLength(1)
  })

  it('[DL2] keeps the tombstone for every instance and across restarts', async () => {
    const table = `tombstone_${++tables}`
    const first = await openStore(table)
    const source = createSource()
    await first.append('doc', source.type('deleted content'))
    await first.delete('doc')
    const other = await openStore(table)
    expect(await other.tombstone('doc')).toEqual(await first.tombstone('doc'))
    await first.close()
    await other.close()
    const restarted = await openStore(table)
    expect(Y.decodeStateVector((await restarted.tombstone('doc'))!)).toEqual(
      Y.decodeStateVector(Y.encodeStateVector(source.doc)),
    )
  })

  it('[DL2] deletes the rows and writes the tombstone in one transaction: a failed tombstone keeps the document', async () => {
    const table = `atomic_delete_${++tables}`
    const store = await openStore(table)
    const source = createSource()
    await store.append('doc', source.type('still here'))
    await withClient((client) => client.query(`ALTER TABLE ${table}_tombstones RENAME TO ${table}_elsewhere`))
    await expect(store.delete('doc')).rejects.toThrow(/_tombstones/)
    expect(textOf(await store.load('doc'))).toBe('still here')
    await withClient((client) => client.query(`ALTER TABLE ${table}_elsewhere RENAME TO ${table}_tombstones`))
    await store.delete('doc')
    expect(await store.load('doc')).toEqual([])
  })

  it('creates the tombstone table in a database whose records table predates it', async () => {
    const table = `migrated_${++tables}`
    const old = await openStore(table)
    const source = createSource()
    await old.append('doc', source.type('from before'))
    await old.close()
    await withClient((client) => client.query(`DROP TABLE ${table}_tombstones`))

    const upgraded = await openStore(table)
    expect(textOf(await upgraded.load('doc'))).toBe('from before')
    await upgraded.delete('doc')
    expect(await upgraded.tombstone('doc')).not.toBeNull()
  })

  it('refuses a table name too long to leave room for its tombstone table', async () => {
    await expect(PostgresDocStore.open({ connectionString: databaseUrl, table: 'x'.repeat(53) })).rejects.toThrow(
      /at most 52 characters/,
    )
  })

  it('refuses a document with a damaged record instead of loading it as empty', async () => {
    const table = `damaged_${++tables}`
    const store = await openStore(table)
    const source = createSource()
    await store.append('doc', source.type('precious'))
    await withClient((client) => client.query(`UPDATE ${table} SET data = '\\x0102'::bytea WHERE doc = 'doc'`))
    await expect(store.load('doc')).rejects.toBeInstanceOf(DocumentUnreadableError)
    await expect(store.load('doc')).rejects.toThrow(/checksum mismatch/)
  })

  it('answers a load of a name PostgreSQL cannot hold (NUL, used by readiness probes) as an unknown document', async () => {
    const store = await openStore(`probe_${++tables}`)
    expect(await store.load('\u0000readyz')).toEqual([])
    await expect(store.append('\u0000readyz', new Uint8Array([0, 0]))).rejects.toBeInstanceOf(RangeError)
  })

  it('rejects appends while the database is down and stores again once it is back', async () => {
    const table = `outage_${++tables}`
    const store = await PostgresDocStore.open({ connectionString: databaseUrl, table, queryTimeoutMs: 3_000 })
    open.push(store)
    const source = createSource()
    await store.append('doc', source.type('before '))
    await server.stop('fast')
    try {
      await expect(store.append('doc', source.type('during '))).rejects.toThrow()
      await expect(store.flush()).rejects.toThrow()
    } finally {
      await server.start()
    }
    // The update refused during the outage is the caller's to send again (the room's clients do).
    await store.append('doc', Y.encodeStateAsUpdate(source.doc))
    await store.append('doc', source.type('after'))
    expect(textOf(await store.load('doc'))).toBe('before during after')
  })
})
