import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { docNameError } from '@collab/protocol'
import type { SyncServer } from '@collab/server'
import type { DocStore } from '@collab/storage'
import type { Logger } from 'pino'
import { type DocGrants, issueToken, type JwtAuthOptions, type TokenVerifier } from './auth.js'
import { handleDocsApi } from './docs-api.js'
import { ClientGoneError, clientAddress, pathOf, requestIdOf, sendJson } from './http-io.js'
import type { RouteLabel, ServerMetrics } from './metrics.js'
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
  /** The engine's document API: reads see live edits, writes reach connected clients. */
  sync: Pick<SyncServer, 'getDocument' | 'applyUpdate' | 'deleteDocument'>
  logger: Logger
  webRoot: string | undefined
  auth: HttpAuth
  metrics: ServerMetrics
  /** When set, `/metrics` needs it as a Bearer token. */
  metricsToken: string | undefined
  /** Largest request body. */
  maxBodyBytes: number
  /** Take client addresses for request logs from `X-Forwarded-For`. */
  trustProxy: boolean
  /** Live figures for /healthz. */
  stats(): { rooms: number; connections: number }
  isShuttingDown(): boolean
  /** A cheap storage check for /readyz: `null` when storage answers, else what is wrong. */
  checkStorage(): Promise<string | null>
}

/** One request as its log line and metrics see it. */
export interface RequestInfo {
  id: string
  route: RouteLabel
  /** The token's subject, once verified. */
  user?: string | undefined
}

/** How long a development token lives. */
const devTokenSeconds = 60 * 60

/** Routes whose requests are logged at debug level: probes and scrapes every few seconds would drown the rest. */
const quietRoutes: ReadonlySet<RouteLabel> = new Set(['/healthz', '/readyz', '/metrics', 'static'])

/**
 * Answers every plain HTTP request of the server: health, readiness, metrics, the API and the web app. Each gets a
 * request id (echoed as `X-Request-Id`) and one log line when answered.
 */
export function createRequestHandler(ctx: HttpContext) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const started = performance.now()
    const info: RequestInfo = { id: requestIdOf(req), route: 'static' }
    res.setHeader('x-request-id', info.id)
    res.once('close', () => logRequest(ctx, req, res, info, started))
    handle(ctx, req, res, info).catch((err: unknown) => {
      // Logged as status 499 by the request log; not a server error.
      if (err instanceof ClientGoneError) {
        res.destroy()
        return
      }
      ctx.logger.error(
        { req: info.id, path: pathOf(req), err: err instanceof Error ? err.message : String(err) },
        'request failed',
      )
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' })
      else res.end()
    })
  }
}

function logRequest(
  ctx: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  info: RequestInfo,
  started: number,
): void {
  const seconds = (performance.now() - started) / 1000
  const method = req.method ?? 'GET'
  // A response cut short (the client left) never got its status out; 499 is what nginx logs for it.
  const status = res.writableFinished ? res.statusCode : 499
  ctx.metrics.httpAnswered(method, info.route, status, seconds)
  const level = status >= 500 ? 'error' : quietRoutes.has(info.route) ? 'debug' : 'info'
  if (!ctx.logger.isLevelEnabled(level)) return
  ctx.logger[level](
    {
      req: info.id,
      method,
      // Never the query string: stock clients pass tokens in it.
      path: pathOf(req),
      status,
      ms: Math.round(seconds * 10_000) / 10,
      remote: clientAddress(req, ctx.trustProxy),
      ...(info.user !== undefined && { user: info.user }),
    },
    'request',
  )
}

async function handle(ctx: HttpContext, req: IncomingMessage, res: ServerResponse, info: RequestInfo) {
  const pathname = pathOf(req)
  switch (pathname) {
    case '/healthz':
      info.route = '/healthz'
      return sendHealth(ctx, res)
    case '/readyz':
      info.route = '/readyz'
      return sendReadiness(ctx, res)
    case '/metrics':
      info.route = '/metrics'
      return sendMetrics(ctx, req, res)
  }
  if (pathname === '/api/docs' || pathname.startsWith('/api/docs/')) {
    return handleDocsApi(ctx, req, res, info, pathname)
  }
  if (pathname.startsWith('/api/')) {
    info.route = pathname === '/api/config' || pathname === '/api/dev-token' ? pathname : '/api/other'
    if (info.route === '/api/other') return sendJson(res, 404, { error: 'no such endpoint' })
    if (req.method !== 'GET') return sendJson(res, 405, { error: 'method not allowed' }, { allow: 'GET' })
    if (pathname === '/api/config') {
      return sendJson(res, 200, { auth: ctx.auth.verifier !== null, devTokens: ctx.auth.devTokens !== null })
    }
    return sendDevToken(ctx, req, res)
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return sendJson(res, 405, { error: 'method not allowed' }, { allow: 'GET, HEAD' })
  }
  if (!ctx.webRoot) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
    res.end('The web app is not built. Run `npm start` from the repository root, which builds it.\n')
    return
  }
  await serveStatic(ctx.webRoot, req, res, pathname)
}

/** Liveness: the process answers. 503 once it is shutting down. */
function sendHealth(ctx: HttpContext, res: ServerResponse): void {
  const memory = process.memoryUsage()
  sendJson(res, ctx.isShuttingDown() ? 503 : 200, {
    status: ctx.isShuttingDown() ? 'shutting down' : 'ok',
    ...ctx.stats(),
    memory: { rssBytes: memory.rss, heapUsedBytes: memory.heapUsed },
    uptimeSeconds: Math.round(process.uptime()),
  })
}

/** Readiness: accepting connections and storage answering. Load balancers stop sending traffic on 503. */
async function sendReadiness(ctx: HttpContext, res: ServerResponse): Promise<void> {
  if (ctx.isShuttingDown()) return sendJson(res, 503, { status: 'shutting down' })
  const problem = await ctx.checkStorage()
  if (problem !== null) {
    ctx.logger.warn({ err: problem }, 'not ready: storage check failed')
    return sendJson(res, 503, { status: 'storage unavailable', error: problem })
  }
  sendJson(res, 200, { status: 'ready' })
}

async function sendMetrics(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (ctx.metricsToken !== undefined && !sameSecret(bearerHeader(req), ctx.metricsToken)) {
    return sendJson(res, 401, { error: 'this endpoint needs the metrics token' }, { 'www-authenticate': 'Bearer' })
  }
  const { contentType, body } = await ctx.metrics.exposition()
  res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' })
  res.end(body)
}

/** Only the header: the metrics token is a secret, and query strings end up in proxy logs. */
function bearerHeader(req: IncomingMessage): string {
  const header = req.headers.authorization ?? ''
  return header.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : ''
}

/** Compares secrets in constant time (hashing first makes the lengths equal). */
function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest()
  return given !== '' && timingSafeEqual(digest(given), digest(expected))
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
