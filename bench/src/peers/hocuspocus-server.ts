// The Hocuspocus peer: @hocuspocus/server with its Database extension, one record per document holding its whole
// encoded state, which is how the Database extension stores: every store hook call gets
// `Y.encodeStateAsUpdate(document)`. Hocuspocus calls it debounced (2 s after the last change, at least every 10 s
// while changes continue: its defaults), and at once when the last client leaves.
//
// Single instance (the default): the records live in LevelDB (classic-level) under DATA_DIR.
// Cluster (the bench's cluster workload): with DATABASE_URL the records live in one PostgreSQL table shared by every
// instance, and with REDIS_URL the official @hocuspocus/extension-redis relays updates and awareness between
// instances (Redis pub/sub, a Redlock lock around each store), as its documentation sets it up.
// Run: PORT=1234 HOST=127.0.0.1 DATA_DIR=./data node dist/peers/hocuspocus-server.js
import { Database } from '@hocuspocus/extension-database'
import { Redis } from '@hocuspocus/extension-redis'
import { type Extension, Server } from '@hocuspocus/server'
import { ClassicLevel } from 'classic-level'
import pg from 'pg'
import type { ProbeHooks } from './probe.js'

const host = process.env.HOST ?? '127.0.0.1'
const port = Number(process.env.PORT ?? 1234)
const dataDir = process.env.DATA_DIR
const databaseUrl = process.env.DATABASE_URL
const redisUrl = process.env.REDIS_URL
if (!dataDir && !databaseUrl) throw new Error('set DATA_DIR (LevelDB) or DATABASE_URL (PostgreSQL)')

/** Where the documents' records live: get and put one record per document, and close. */
interface RecordStore {
  get(name: string): Promise<Uint8Array | null>
  put(name: string, state: Uint8Array): Promise<void>
  close(): Promise<void>
}

async function levelStore(dir: string): Promise<RecordStore> {
  const db = new ClassicLevel<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' })
  await db.open()
  return {
    get: async (name) => (await db.get(name)) ?? null,
    put: (name, state) => db.put(name, state),
    close: () => db.close(),
  }
}

async function postgresStore(connectionString: string): Promise<RecordStore> {
  const pool = new pg.Pool({ connectionString, max: 4 })
  await pool.query('CREATE TABLE IF NOT EXISTS documents (name text PRIMARY KEY, data bytea NOT NULL)')
  return {
    get: async (name) => {
      const result = await pool.query<{ data: Buffer }>('SELECT data FROM documents WHERE name = $1', [name])
      const row = result.rows[0]
      return row ? new Uint8Array(row.data) : null
    },
    put: async (name, state) => {
      await pool.query(
        'INSERT INTO documents (name, data) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET data = EXCLUDED.data',
        [name, Buffer.from(state)],
      )
    },
    close: () => pool.end(),
  }
}

const store = databaseUrl ? await postgresStore(databaseUrl) : await levelStore(dataDir!)
const extensions: Extension[] = [
  new Database({
    fetch: ({ documentName }) => store.get(documentName),
    store: ({ documentName, state }) => store.put(documentName, state),
  }),
]
if (redisUrl) {
  const url = new URL(redisUrl)
  extensions.push(new Redis({ host: url.hostname, port: Number(url.port || 6379) }))
}

const server = new Server({
  port,
  address: host,
  quiet: true,
  extensions,
  async onDestroy() {
    await store.close()
  },
})
await server.listen()

interface Debouncer {
  isDebounced(id: string): boolean
  isCurrentlyExecuting(id: string): boolean
}
const hocuspocus = server.hocuspocus as unknown as { debouncer: Debouncer; documents: Map<string, unknown> }
const hooks = globalThis as typeof globalThis & ProbeHooks
hooks.__benchRooms = () => server.hocuspocus.getDocumentsCount()
hooks.__benchFlush = async () => {
  // A document is written once no store is scheduled or running for it: the scheduled one covers every change
  // applied before it runs.
  const pending = () =>
    [...hocuspocus.documents.keys()].some((name) => {
      const id = `onStoreDocument-${name}`
      return hocuspocus.debouncer.isDebounced(id) || hocuspocus.debouncer.isCurrentlyExecuting(id)
    })
  while (pending()) await new Promise((resolve) => setTimeout(resolve, 5))
}
console.log(`listening on ws://${host}:${server.address.port}`)
