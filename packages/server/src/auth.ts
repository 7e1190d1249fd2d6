import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'

/** What a connection may do with its document. */
export type Access = 'read' | 'write'

/** What the `authenticate` hook is told about a connection attempt. */
export interface AuthRequest {
  docName: string
  /** The token from the `Sec-WebSocket-Protocol` header (`token.<token>`) or the `token` query parameter. */
  token: string | null
  remoteAddress: string
  headers: IncomingHttpHeaders
}

/** The hook's verdict: the access granted, or why the connection is refused. */
export type AuthResult =
  | {
      ok: true
      access: Access
      /** Who this is, for log lines (never the token). */
      user?: string
      /** When the credentials expire (ms since the epoch); the connection is closed with 4401 then. */
      expiresAt?: number
    }
  | {
      ok: false
      /** 4401: missing, invalid or expired credentials; 4403: valid, but not for this document. */
      code: 4401 | 4403
      reason: string
    }

/** Decides who may connect to which document; called once per connection, before any message is handled. */
export type Authenticate = (request: AuthRequest) => AuthResult | Promise<AuthResult>

/** The subprotocol our clients offer, and that the server selects when offered. */
export const collabSubprotocol = 'collab'
/** Prefix of the subprotocol entry that carries a token: `token.<token>`. */
export const tokenSubprotocolPrefix = 'token.'

/**
 * The token of an upgrade request. Browsers cannot set an Authorization header on a WebSocket, so our client sends
 * the token as a second `Sec-WebSocket-Protocol` entry, which proxies do not write to their access logs the way
 * they write URLs; the `token` query parameter is accepted for clients that can only add URL parameters (the
 * stock y-websocket client's `params`).
 */
export function tokenFromRequest(req: IncomingMessage): string | null {
  for (const protocol of (req.headers['sec-websocket-protocol'] ?? '').split(',')) {
    const trimmed = protocol.trim()
    if (trimmed.startsWith(tokenSubprotocolPrefix)) return trimmed.slice(tokenSubprotocolPrefix.length)
  }
  const query = (req.url ?? '').split('?')[1]
  return query === undefined ? null : new URLSearchParams(query).get('token')
}
