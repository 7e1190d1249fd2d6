import type { IncomingMessage, ServerResponse } from 'node:http'

// CORS for the HTTP API: a page on another origin that the origin allowlist lets in ([SD2], [OR1]) may call the API
// with `fetch` and read the answer, as it may open the WebSocket. The guard (request-guard.ts) has already refused
// every other origin with 403 before this is consulted, so these headers only ever name an allowed origin. Tokens
// travel in `Authorization`, never in cookies: no `Access-Control-Allow-Credentials`.

/** Request headers a page may send: the token, the body's type (a POST of a Yjs update), a request id. */
const allowedHeaders = 'authorization, content-type, x-request-id'
/** Response headers a page may read beyond the safelisted ones; `collab-close` is the HTTP transport's ([HT9]). */
const exposedHeaders = 'x-request-id, retry-after, www-authenticate, collab-close'
/** How long a browser may keep a preflight's answer, in seconds. */
const preflightMaxAgeSeconds = 600

/** Whether `req` is a CORS preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method`. */
export function isPreflight(req: IncomingMessage): boolean {
  return (
    req.method === 'OPTIONS' &&
    req.headers.origin !== undefined &&
    req.headers['access-control-request-method'] !== undefined
  )
}

/**
 * Lets the page of `req`'s origin read the answer: sets `Access-Control-Allow-Origin` to that origin (never `*`:
 * the allowlist decides) on `res`, to be sent with whatever status the route answers. Call only after the origin
 * guard let the request through; without an `Origin` header (not a browser) nothing is set.
 */
export function allowCrossOrigin(req: IncomingMessage, res: ServerResponse): void {
  const origin = req.headers.origin
  // Caches must keep answers to different origins apart, whether or not this one carries CORS headers.
  res.setHeader('vary', 'Origin')
  if (origin === undefined) return
  res.setHeader('access-control-allow-origin', origin)
  res.setHeader('access-control-expose-headers', exposedHeaders)
}

/** Answers a preflight for a path whose routes take `methods`: 204 and what the page may send. */
export function sendPreflight(req: IncomingMessage, res: ServerResponse, methods: readonly string[]): void {
  allowCrossOrigin(req, res)
  res.writeHead(204, {
    'access-control-allow-methods': methods.join(', '),
    'access-control-allow-headers': allowedHeaders,
    'access-control-max-age': String(preflightMaxAgeSeconds),
    'cache-control': 'no-store',
  })
  res.end()
}
