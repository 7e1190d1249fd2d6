import type { IncomingMessage, ServerResponse } from 'node:http'
import { clientAddress } from '@collab/server'
import { sendClientConfig, sendDevToken } from './client-api.js'
import { deleteDocument, postUpdate, sendDocList, sendDocument } from './docs-api.js'
import type { HttpContext, RequestInfo, RouteHandler, RouteParams, RouteRequest } from './http-context.js'
import { allowCrossOrigin, isPreflight, sendPreflight } from './http-cors.js'
import { ClientGoneError, pathOf, requestIdOf, sendJson } from './http-io.js'
import { syncOverHttp } from './http-sync-api.js'
import { sendHealth, sendMetrics, sendReadiness } from './operator-api.js'
import { refusalOf, sendRefusal } from './request-guard.js'
import { serveStatic } from './static-files.js'
import {
  createVersion,
  deleteVersion,
  listVersions,
  renameVersion,
  restoreVersion,
  sendVersion,
  sendVersionAuthors,
} from './versions-api.js'

/** One entry of the route table. */
interface Route {
  /** The method it answers, or `*` for every method. */
  method: string
  /**
   * Segments separated by `/`; a `:name` segment matches any one segment, empty too, and is passed to the handler.
   * The path is also the route's label in request logs and metrics, so document names never become label values.
   */
  path: string
  handle: RouteHandler
  /** Logged at debug level: probes and scrapes every few seconds would drown the rest. */
  quiet?: boolean
}

/**
 * Every route of the HTTP API; a new route is one entry. The first entry whose path and method match answers. A
 * path that matches with another method is answered 405 with the methods of its entries, in this order, as `Allow`.
 */
const routes = [
  // The probes and /metrics answer any method, as they always have.
  { method: '*', path: '/healthz', handle: sendHealth, quiet: true },
  { method: '*', path: '/readyz', handle: sendReadiness, quiet: true },
  { method: '*', path: '/metrics', handle: sendMetrics, quiet: true },
  { method: 'GET', path: '/api/config', handle: sendClientConfig },
  { method: 'GET', path: '/api/dev-token', handle: sendDevToken },
  { method: 'GET', path: '/api/docs', handle: sendDocList },
  { method: 'GET', path: '/api/docs/:name', handle: sendDocument },
  { method: 'DELETE', path: '/api/docs/:name', handle: deleteDocument },
  { method: 'POST', path: '/api/docs/:name/updates', handle: postUpdate },
  { method: 'GET', path: '/api/docs/:name/versions', handle: listVersions },
  { method: 'POST', path: '/api/docs/:name/versions', handle: createVersion },
  { method: 'GET', path: '/api/docs/:name/versions/:id', handle: sendVersion },
  { method: 'PATCH', path: '/api/docs/:name/versions/:id', handle: renameVersion },
  { method: 'DELETE', path: '/api/docs/:name/versions/:id', handle: deleteVersion },
  { method: 'GET', path: '/api/docs/:name/versions/:id/authors', handle: sendVersionAuthors },
  { method: 'POST', path: '/api/docs/:name/versions/:id/restore', handle: restoreVersion },
  // Quiet: one line per poll and per keystroke of every HTTP client would drown the rest (WebSocket messages are not
  // logged either); failures still log at error level.
  { method: 'POST', path: '/api/docs/:name/http', handle: syncOverHttp, quiet: true },
] as const satisfies readonly Route[]

/**
 * A request's label in request logs and metrics: the path of its route, `/api/other` for any other path under
 * `/api/`, `static` for the web app's files, `refused` for what the Host/Origin guard turned away.
 */
type RouteLabel = (typeof routes)[number]['path'] | '/api/other' | 'static' | 'refused'

const quietLabels: ReadonlySet<RouteLabel> = new Set<RouteLabel>([
  ...routes.flatMap((route) => ('quiet' in route && route.quiet ? [route.path] : [])),
  'static',
])

/** How a request will be answered, decided before anything is written. */
interface Routing {
  label: RouteLabel
  handle: RouteHandler
  params: RouteParams
}

/**
 * Answers every plain HTTP request of the server: health, readiness, metrics, the API and the web app. Each gets a
 * request id (echoed as `X-Request-Id`) and one log line when answered.
 */
export function createRequestHandler(ctx: HttpContext) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const started = performance.now()
    const info: RequestInfo = { id: requestIdOf(req) }
    let label: RouteLabel = 'static'
    res.setHeader('x-request-id', info.id)
    res.once('close', () => logRequest(ctx, req, res, info, label, started))
    const answer = async () => {
      const routing = routingOf(ctx, req)
      label = routing.label
      await routing.handle(ctx, { req, res, info, params: routing.params })
    }
    answer().catch((err: unknown) => {
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
  label: RouteLabel,
  started: number,
): void {
  const seconds = (performance.now() - started) / 1000
  const method = req.method ?? 'GET'
  // A response cut short (the client left) never got its status out; 499 is what nginx logs for it.
  const status = res.writableFinished ? res.statusCode : 499
  ctx.metrics.httpAnswered(method, label, status, seconds)
  const level = status >= 500 ? 'error' : quietLabels.has(label) ? 'debug' : 'info'
  if (!ctx.logger.isLevelEnabled(level)) return
  ctx.logger[level](
    {
      req: info.id,
      method,
      // Never the query string: stock clients pass tokens in it.
      path: pathOf(req),
      status,
      ms: Math.round(seconds * 10_000) / 10,
      remote: clientAddress(req, ctx.trustedProxies),
      ...(info.user !== undefined && { user: info.user }),
    },
    'request',
  )
}

/** The guard's refusal, a route of the table, a 405 or 404, or else the web app. */
function routingOf(ctx: HttpContext, req: IncomingMessage): Routing {
  const pathname = pathOf(req)
  const api = pathname.startsWith('/api/')
  // A page of another site can send simple requests (a text/plain POST) without a CORS preflight: the API checks
  // its Origin. The web app's files may be embedded by any site.
  const refusal = refusalOf(req, ctx.policy, api)
  if (refusal) return { label: 'refused', handle: (_, { res }) => sendRefusal(res, refusal), params: {} }
  const routing = routeOf(req, pathname)
  if (!api) return routing
  // Past the guard, an API request's origin is allowed: its page may read the answer, whatever the status.
  return {
    ...routing,
    handle: (context, request) => {
      allowCrossOrigin(request.req, request.res)
      return routing.handle(context, request)
    },
  }
}

/** The route of the table for `pathname`, a CORS preflight, a 405 or 404, or else the web app. */
function routeOf(req: IncomingMessage, pathname: string): Routing {
  const method = req.method ?? ''
  let pathFound: RouteLabel | null = null
  const allowed: string[] = []
  for (const route of routes) {
    const params = paramsOf(route.path, pathname)
    if (params === null) continue
    if (route.method === '*' || route.method === method) return { label: route.path, handle: route.handle, params }
    pathFound ??= route.path
    allowed.push(route.method)
  }
  if (pathFound !== null) {
    if (isPreflight(req)) {
      return { label: pathFound, handle: (_, { res }) => sendPreflight(req, res, allowed), params: {} }
    }
    const allow = allowed.join(', ')
    return { label: pathFound, handle: (_, { res }) => sendMethodNotAllowed(res, allow), params: {} }
  }
  if (pathname.startsWith('/api/')) {
    // Under /api/docs/ the likely mistake is a name with an unencoded "/", which reads as more segments.
    const error = pathname.startsWith('/api/docs/')
      ? 'no such endpoint; a document name is one path segment: encode "/" in names as %2F'
      : 'no such endpoint'
    return { label: '/api/other', handle: (_, { res }) => sendJson(res, 404, { error }), params: {} }
  }
  return { label: 'static', handle: sendWebApp, params: {} }
}

/** The parameters of `pathname` under the route path `pattern`, or `null` when it does not match. */
function paramsOf(pattern: string, pathname: string): RouteParams | null {
  const expected = pattern.split('/')
  const given = pathname.split('/')
  if (expected.length !== given.length) return null
  const params: Record<string, string> = {}
  for (const [index, segment] of expected.entries()) {
    const value = given[index] ?? ''
    if (segment.startsWith(':')) params[segment.slice(1)] = value
    else if (segment !== value) return null
  }
  return params
}

function sendMethodNotAllowed(res: ServerResponse, allow: string): void {
  sendJson(res, 405, { error: 'method not allowed' }, { allow })
}

/** Every path outside the API: the web app's files, or its routes (`/d/<name>`), which load `index.html`. */
async function sendWebApp(ctx: HttpContext, { req, res }: RouteRequest): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return sendMethodNotAllowed(res, 'GET, HEAD')
  if (!ctx.webRoot) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
    res.end('The web app is not built. Run `npm start` from the repository root, which builds it.\n')
    return
  }
  await serveStatic(ctx.webRoot, req, res, pathOf(req))
}
