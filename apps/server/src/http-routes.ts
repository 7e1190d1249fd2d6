import type { IncomingMessage, ServerResponse } from 'node:http'
import type { DocStore } from '@collab/storage'
import type { Logger } from 'pino'
import { serveStatic } from './static-files.js'

/** What the HTTP routes need. */
export interface HttpContext {
  store: DocStore
  /** Live figures for /healthz. */
  stats(): { rooms: number; connections: number }
  logger: Logger
  webRoot: string | undefined
  isShuttingDown(): boolean
}

/** Answers every plain HTTP request of the server: health, the document list, and the web app. */
export function createRequestHandler(ctx: HttpContext) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    handle(ctx, req, res).catch((err: unknown) => {
      ctx.logger.error({ url: req.url, err: err instanceof Error ? err.message : String(err) }, 'request failed')
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: 'internal error' }))
    })
  }
}

async function handle(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const pathname = (req.url ?? '/').split('?')[0] ?? '/'
  if (pathname === '/healthz') {
    const memory = process.memoryUsage()
    sendJson(res, ctx.isShuttingDown() ? 503 : 200, {
      status: ctx.isShuttingDown() ? 'shutting down' : 'ok',
      ...ctx.stats(),
      memory: { rssBytes: memory.rss, heapUsedBytes: memory.heapUsed },
      uptimeSeconds: Math.round(process.uptime()),
    })
    return
  }
  if (pathname === '/api/docs') {
    if (req.method !== 'GET') {
      sendJson(res, 405, { error: 'method not allowed' }, { allow: 'GET' })
      return
    }
    const docs = await ctx.store.list()
    docs.sort((a, b) => b.updatedAt - a.updatedAt || a.name.localeCompare(b.name))
    sendJson(res, 200, { docs })
    return
  }
  if (pathname.startsWith('/api/')) {
    sendJson(res, 404, { error: 'no such endpoint' })
    return
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendJson(res, 405, { error: 'method not allowed' }, { allow: 'GET, HEAD' })
    return
  }
  if (!ctx.webRoot) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
    res.end('The web app is not built. Run `npm start` from the repository root, which builds it.\n')
    return
  }
  await serveStatic(ctx.webRoot, req, res, pathname)
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers })
  res.end(JSON.stringify(body))
}
