import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { hostAllowed, originAllowed } from '@collab/server'

// The checks every request passes before it is routed, and every WebSocket upgrade before the engine sees it
// ([SD1], [SD2] in docs/SECURITY.md): one function decides, HTTP routes and upgrades each answer its refusal.

/** What the server answers to: its names and the browser origins allowed to use it. */
export interface RequestPolicy {
  /** Configured public names (`--allowed-hosts`); loopback names and IP literals are always allowed. */
  allowedHosts: readonly string[]
  /** The origin allowlist (`--allowed-origins`), or `null` for the same-origin-or-loopback default. */
  allowedOrigins: ReadonlySet<string> | null
}

/** Why a request is refused, with the text its 403 carries. */
export interface Refusal {
  reason: 'host' | 'origin'
  message: string
}

/** Header values are client input: quoted (control characters escaped) and cut short before they are echoed. */
function quoted(value: string): string {
  return JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}...` : value)
}

/**
 * Why `req` may not use the server, or `null`. The Host header is checked for every request; the Origin header
 * only when `checkOrigin` (the API and WebSocket upgrades: what a page of another site could use to read or change
 * documents, while the web app's files may be embedded anywhere).
 */
export function refusalOf(req: IncomingMessage, policy: RequestPolicy, checkOrigin: boolean): Refusal | null {
  const { host, origin } = req.headers
  if (!hostAllowed(host, policy.allowedHosts)) {
    return {
      reason: 'host',
      message:
        `This server does not answer to the host name ${quoted(host ?? '')}. If that is one of its names, add it ` +
        'to --allowed-hosts / ALLOWED_HOSTS (docs/SECURITY.md).\n',
    }
  }
  if (checkOrigin && !originAllowed(origin, host, policy.allowedOrigins)) {
    return {
      reason: 'origin',
      message:
        `Pages of ${quoted(origin ?? '')} may not use this server. If that site should, add its origin to ` +
        '--allowed-origins / ALLOWED_ORIGINS (docs/SECURITY.md).\n',
    }
  }
  return null
}

const headersOf = (body: string) => ({
  'content-type': 'text/plain; charset=utf-8',
  'content-length': String(Buffer.byteLength(body)),
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
})

/** Answers an HTTP request with the refusal's 403. */
export function sendRefusal(res: ServerResponse, refusal: Refusal): void {
  res.writeHead(403, headersOf(refusal.message))
  res.end(refusal.message)
}

/** Answers an upgrade request with the refusal's 403 and closes the socket; no WebSocket is opened. */
export function refuseUpgrade(socket: Duplex, refusal: Refusal): void {
  const head = Object.entries({ ...headersOf(refusal.message), connection: 'close' })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')
  // Node's HTTP server stops listening for errors on a socket it hands to 'upgrade'; a reset would otherwise crash
  // the process. There is nothing left to do with such a socket but drop it.
  socket.on('error', () => socket.destroy())
  socket.once('finish', () => socket.destroy())
  socket.end(`HTTP/1.1 403 Forbidden\r\n${head}\r\n${refusal.message}`)
}
