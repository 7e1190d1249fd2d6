import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { HttpContext, RouteRequest } from './http-context.js'
import { sendJson } from './http-io.js'

// What operators and their tools poll: liveness, readiness and the Prometheus metrics.

/** Liveness: the process answers. 503 once it is shutting down. */
export function sendHealth(ctx: HttpContext, { res }: RouteRequest): void {
  const memory = process.memoryUsage()
  sendJson(res, ctx.isShuttingDown() ? 503 : 200, {
    status: ctx.isShuttingDown() ? 'shutting down' : 'ok',
    ...ctx.stats(),
    memory: { rssBytes: memory.rss, heapUsedBytes: memory.heapUsed },
    uptimeSeconds: Math.round(process.uptime()),
  })
}

/** Readiness: accepting connections and storage answering. Load balancers stop sending traffic on 503. */
export async function sendReadiness(ctx: HttpContext, { res }: RouteRequest): Promise<void> {
  if (ctx.isShuttingDown()) return sendJson(res, 503, { status: 'shutting down' })
  const problem = await ctx.checkStorage()
  if (problem !== null) {
    ctx.logger.warn({ err: problem }, 'not ready: storage check failed')
    return sendJson(res, 503, { status: 'storage unavailable', error: problem })
  }
  sendJson(res, 200, { status: 'ready' })
}

/** The Prometheus exposition; behind the metrics token when one is configured. */
export async function sendMetrics(ctx: HttpContext, { req, res }: RouteRequest): Promise<void> {
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
