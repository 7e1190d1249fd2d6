import type { IncomingMessage, ServerResponse } from 'node:http'
import { docNameError } from '@collab/protocol'
import type { DocStore } from '@collab/storage'
import type { Logger } from 'pino'
import { accessTo, type DocGrants, issueToken, type JwtAuthOptions, type TokenVerifier } from './auth.js'
import { serveStatic } from './static-files.js'

/** Token checks for the HTTP API: the same tokens as the WebSocket. */
export interface HttpAuth {
  /** `null` when authentication is off. */
  verifier: TokenVerifier | null
  /** Signing options when development tokens are on, else `null`. */
  devTokens: (JwtAuthOptions & { secret: string }) | null
}

/** What the HTTP routes need. */
export interface HttpContext {
  store: DocStore
  logger: Logger
  webRoot: string | undefined
  auth: HttpAuth
  /** Live figures for /healthz. */
  stats(): { rooms: number; connections: number }
  isShuttingDown(): boolean
}

/** How long a development token lives. */
const devTokenSeconds = 60 * 60

/** Answers every plain HTTP request of the server: health, the API, and the web app. */
export function createRequestHandler(ctx: HttpContext) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    handle(ctx, req, res).catch((err: unknown) => {
      ctx.logger.error({ path: pathOf(req), err: err instanceof Error ? err.message : String(err) }, 'request failed')
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: 'internal error' }))
    })
  }
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? '/').split('?')[0] ?? '/'
}

async function handle(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const pathname = pathOf(req)
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
  if (pathname.startsWith('/api/')) {
    if (req.method !== 'GET') {
      sendJson(res, 405, { error: 'method not allowed' }, { allow: 'GET' })
      return
    }
    switch (pathname) {
      case '/api/config':
        sendJson(res, 200, { auth: ctx.auth.verifier !== null, devTokens: ctx.auth.devTokens !== null })
        return
      case '/api/dev-token':
        await sendDevToken(ctx, req, res)
        return
      case '/api/docs':
        await sendDocList(ctx, req, res)
        return
      default:
        sendJson(res, 404, { error: 'no such endpoint' })
        return
    }
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

/** The document list; with authentication on, only the documents the caller's token opens. */
async function sendDocList(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let grants: DocGrants | null = null
  if (ctx.auth.verifier) {
    const token = bearerToken(req)
    if (!token) {
      sendJson(res, 401, { error: 'a token is required' }, { 'www-authenticate': 'Bearer' })
      return
    }
    const verified = await ctx.auth.verifier.verify(token)
    if (!verified.ok) {
      sendJson(res, 401, { error: verified.reason }, { 'www-authenticate': 'Bearer error="invalid_token"' })
      return
    }
    grants = verified.token.grants
  }
  const docs = (await ctx.store.list()).filter((doc) => grants === null || accessTo(grants, doc.name) !== null)
  docs.sort((a, b) => b.updatedAt - a.updatedAt || a.name.localeCompare(b.name))
  sendJson(res, 200, { docs })
}

/**
 * Development tokens ([AU6]): anyone may ask, which is why they are off unless `--dev-tokens` is given.
 * `?doc=<name>&access=read|write` narrows the grant; without `doc` the token opens every document.
 */
async function sendDevToken(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const signing = ctx.auth.devTokens
  if (!signing) {
    sendJson(res, 404, { error: 'development tokens are off (start the server with --dev-tokens)' })
    return
  }
  const query = new URLSearchParams((req.url ?? '').split('?')[1] ?? '')
  const doc = query.get('doc')
  const access = query.get('access') ?? 'write'
  if (access !== 'read' && access !== 'write') {
    sendJson(res, 400, { error: 'access must be read or write' })
    return
  }
  const nameError = doc === null ? null : docNameError(doc)
  if (nameError) {
    sendJson(res, 400, { error: nameError })
    return
  }
  const grants: DocGrants = { [doc ?? '*']: access }
  const token = await issueToken(signing, 'dev', grants, devTokenSeconds)
  sendJson(res, 200, { token, expiresAt: Date.now() + devTokenSeconds * 1000 })
}

/** `Authorization: Bearer <token>`, or the `token` query parameter. */
function bearerToken(req: IncomingMessage): string | null {
  const header = req.headers.authorization
  if (header?.startsWith('Bearer ')) return header.slice('Bearer '.length).trim() || null
  return new URLSearchParams((req.url ?? '').split('?')[1] ?? '').get('token')
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers })
  res.end(JSON.stringify(body))
}
