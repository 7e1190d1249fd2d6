import { createSyncServer, type SyncServer, type SyncServerOptions } from '@collab/server'
import { type DocStore, MemoryDocStore } from '@collab/storage'
import { type LoopbackServer, listenOnLoopback, type Teardown } from '@collab/test-support'
import { WebSocket } from 'ws'
import * as Y from 'yjs'
import { CollabProvider, type CollabProviderOptions } from '../src/index.js'

export { Teardown, waitFor } from '@collab/test-support'

/** A real sync server on a free loopback port, and the store it writes to. */
export type TestServer = LoopbackServer<SyncServer> & { store: DocStore }

/** Starts a sync server on a free port, or on `options.port` (a restart); closed by `teardown`. */
export async function startTestServer(
  teardown: Teardown,
  options: Partial<SyncServerOptions> & { port?: number } = {},
): Promise<TestServer> {
  const store = options.store ?? new MemoryDocStore()
  const sync = createSyncServer({ roomGraceMs: 200, ...options, store })
  const server = await listenOnLoopback(sync, {
    port: options.port,
    onRequest: (_req, res) => res.writeHead(404).end(),
    teardown,
  })
  return Object.assign(server, { store })
}

/** A provider on a fresh Y.Doc, in Node (ws polyfill), destroyed by `teardown`. */
export function createClient(
  url: string,
  docName: string,
  teardown: Teardown,
  options: Partial<CollabProviderOptions> = {},
) {
  const doc = new Y.Doc()
  const provider = new CollabProvider({
    serverUrl: url,
    docName,
    doc,
    WebSocketImpl: WebSocket as unknown as typeof globalThis.WebSocket,
    ...options,
  })
  teardown.defer(() => {
    provider.destroy()
    doc.destroy()
  })
  return { doc, provider, text: doc.getText('codemirror') }
}
