import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createSyncServer, type SyncServer, type SyncServerOptions } from '@collab/server'
import { type DocStore, MemoryDocStore } from '@collab/storage'
import { WebSocket } from 'ws'
import * as Y from 'yjs'
import { CollabProvider, type CollabProviderOptions } from '../src/index.js'

export { waitFor } from '@collab/test-support'

/** A real sync server on a free loopback port. */
export interface TestServer {
  port: number
  url: string
  store: DocStore
  sync: SyncServer
  close(): Promise<void>
}

export async function startTestServer(
  options: Partial<SyncServerOptions> & { port?: number } = {},
): Promise<TestServer> {
  const store = options.store ?? new MemoryDocStore()
  const sync = createSyncServer({ roomGraceMs: 200, ...options, store })
  const http: Server = createServer((_req, res) => res.writeHead(404).end())
  sync.attach(http)
  await new Promise<void>((resolve) => http.listen(options.port ?? 0, '127.0.0.1', resolve))
  const port = (http.address() as AddressInfo).port
  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    store,
    sync,
    async close() {
      const closed = new Promise<void>((resolve) => http.close(() => resolve()))
      await sync.close()
      http.closeAllConnections()
      await closed
    },
  }
}

const providers = new Set<CollabProvider>()

/** A provider on a fresh Y.Doc, in Node (ws polyfill), destroyed by {@link destroyAll}. */
export function createClient(url: string, docName: string, options: Partial<CollabProviderOptions> = {}) {
  const doc = new Y.Doc()
  const provider = new CollabProvider({
    serverUrl: url,
    docName,
    doc,
    WebSocketImpl: WebSocket as unknown as typeof globalThis.WebSocket,
    ...options,
  })
  providers.add(provider)
  return { doc, provider, text: doc.getText('codemirror') }
}

export function destroyAll(): void {
  for (const provider of providers) {
    provider.destroy()
    provider.doc.destroy()
  }
  providers.clear()
}
