// The Hocuspocus peer: @hocuspocus/server with its Database extension over LevelDB (classic-level), one record
// per document holding its whole encoded state, which is how the Database extension stores: every store hook
// call gets `Y.encodeStateAsUpdate(document)`. Hocuspocus calls it debounced (2 s after the last change, at least
// every 10 s while changes continue: its defaults), and at once when the last client leaves.
// Run: PORT=1234 HOST=127.0.0.1 DATA_DIR=./data node dist/peers/hocuspocus-server.js
import { Database } from '@hocuspocus/extension-database'
import { Server } from '@hocuspocus/server'
import { ClassicLevel } from 'classic-level'
import type { ProbeHooks } from './probe.js'

const host = process.env.HOST ?? '127.0.0.1'
const port = Number(process.env.PORT ?? 1234)
const dataDir = process.env.DATA_DIR
if (!dataDir) throw new Error('DATA_DIR is not set')

const db = new ClassicLevel<string, Uint8Array>(dataDir, { keyEncoding: 'utf8', valueEncoding: 'view' })
await db.open()

const server = new Server({
  port,
  address: host,
  quiet: true,
  extensions: [
    new Database({
      fetch: async ({ documentName }) => (await db.get(documentName)) ?? null,
      store: async ({ documentName, state }) => {
        await db.put(documentName, state)
      },
    }),
  ],
  async onDestroy() {
    await db.close()
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
