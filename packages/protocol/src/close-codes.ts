/**
 * WebSocket close codes the server uses. 1000-1015 are the standard codes; the 44xx/45xx codes mirror the
 * HTTP status that means the same thing, so an operator reading a log recognises them.
 */
export const CloseCode = {
  /** The connection ended normally (client left, or the server closed it on purpose). */
  Normal: 1000,
  /** The server is shutting down; reconnect (to another instance, or after a restart). */
  GoingAway: 1001,
  /** A message was larger than the server's limit. */
  MessageTooBig: 1009,
  /** A message could not be decoded or applied; the connection is closed, other connections are untouched. */
  BadMessage: 4400,
  /** Missing, invalid or expired credentials. Retrying with the same credentials will not help. */
  NotAuthenticated: 4401,
  /** The credentials do not grant access to this document. */
  Forbidden: 4403,
  /** The document name is invalid (empty, too long, control characters, `..` segments). */
  UnknownDocument: 4404,
  /** The connection sent too much, too fast. */
  RateLimited: 4429,
  /** The server does not offer what the connection asked for here (@codemirror/collab clients in cluster mode, [OT9]). */
  NotSupported: 4501,
  /** The server cannot serve the document right now (storage failing, document unreadable); retry later. */
  RetryLater: 4503,
} as const

/** One of the values of {@link CloseCode}. */
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode]

/**
 * Whether a client should stop reconnecting after the server closed with `code`: retrying cannot succeed
 * until something changes on the client's side (new credentials, another document name).
 */
export function isTerminalCloseCode(code: number): boolean {
  return (
    code === CloseCode.NotAuthenticated ||
    code === CloseCode.Forbidden ||
    code === CloseCode.UnknownDocument ||
    code === CloseCode.NotSupported
  )
}
