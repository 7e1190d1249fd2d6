import type { IncomingMessage, ServerResponse } from 'node:http'
import { createSyncServer, type HttpSyncAnswer, type SyncServer, type SyncServerOptions } from '@collab/server'
import { MemoryDocStore } from '@collab/storage'
import { listenOnLoopback, type Teardown } from '@collab/test-support'
import type { TestServer } from './harness.js'

/**
 * A sync server on a free loopback port that also serves the HTTP transport ([HT1]): `POST
 * /api/docs/<name>/http` goes to the engine's `handleHttpSync`, as apps/server's route does (which packages must
 * not import); every other request is answered 404.
 */
export async function startHttpTestServer(
  teardown: Teardown,
  options: Partial<SyncServerOptions> & { port?: number } = {},
): Promise<TestServer> {
  const store = options.store ?? new MemoryDocStore()
  const sync = createSyncServer({ roomGraceMs: 200, ...options, store })
  const server = await listenOnLoopback(sync, {
    port: options.port,
    onRequest: (req, res) => {
      answerHttpSync(sync, req, res).catch((err: unknown) => {
        console.error('test server: an HTTP transport request failed', err)
        res.destroy()
      })
    },
    teardown,
  })
  return Object.assign(server, { store })
}

async function answerHttpSync(sync: SyncServer, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const match = /^\/api\/docs\/([^/?]+)\/http(?:\?|$)/.exec(req.url ?? '')
  if (req.method !== 'POST' || !match?.[1]) {
    res.writeHead(404).end()
    return
  }
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  const left = new AbortController()
  res.once('close', () => {
    if (!res.writableFinished) left.abort()
  })
  const answer = await sync.handleHttpSync({
    req,
    docName: decodeURIComponent(match[1]),
    body: new Uint8Array(Buffer.concat(chunks)),
    signal: left.signal,
  })
  if (answer === null || res.destroyed) return
  send(res, answer)
}

function send(res: ServerResponse, answer: HttpSyncAnswer): void {
  if (answer.ok) {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'no-store' })
    res.end(answer.body)
    return
  }
  res.writeHead(answer.status, { 'content-type': 'application/json', 'collab-close': String(answer.code) })
  res.end(JSON.stringify({ code: answer.code, reason: answer.reason }))
}
