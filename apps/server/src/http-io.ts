import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'

/** Answers with a JSON body; API answers are never cached. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers })
  res.end(JSON.stringify(body))
}

/** The request path without its query string (which may hold a token, so it never reaches a log line). */
export function pathOf(req: IncomingMessage): string {
  return (req.url ?? '/').split('?')[0] ?? '/'
}

/** `Authorization: Bearer <token>`, or the `token` query parameter. */
export function bearerToken(req: IncomingMessage): string | null {
  const header = req.headers.authorization
  if (header?.startsWith('Bearer ')) return header.slice('Bearer '.length).trim() || null
  return new URLSearchParams((req.url ?? '').split('?')[1] ?? '').get('token')
}

const requestIdPattern = /^[\w.:@/+=-]{1,128}$/

/**
 * The request's id: the caller's `X-Request-Id` (a proxy's, so one id follows a request through both logs) when it
 * looks like an id, else a new one. Anything else is replaced rather than logged, so it cannot forge log content.
 */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id']
  const id = Array.isArray(given) ? given[0] : given
  return id !== undefined && requestIdPattern.test(id) ? id : randomUUID()
}

/**
 * Picks the first of `offered` media types with the highest quality in the `Accept` header; `offered[0]` when
 * there is no header; `null` when the header accepts none of them (answer 406).
 */
export function negotiate(accept: string | undefined, offered: readonly string[]): string | null {
  if (accept === undefined || accept.trim() === '') return offered[0] ?? null
  const ranges = accept.split(',').map((part) => {
    const [type = '', ...params] = part.split(';').map((piece) => piece.trim().toLowerCase())
    const q = params.find((param) => param.startsWith('q='))
    const quality = q === undefined ? 1 : Number(q.slice(2))
    return { type, quality: Number.isFinite(quality) ? quality : 0 }
  })
  let best: { type: string; quality: number } | null = null
  for (const type of offered) {
    // The most specific range that matches decides the quality of a type (RFC 9110, section 12.5.1).
    let specificity = -1
    let quality = 0
    for (const range of ranges) {
      const rank =
        range.type === type ? 2 : range.type === `${type.split('/')[0]}/*` ? 1 : range.type === '*/*' ? 0 : -1
      if (rank > specificity) {
        specificity = rank
        quality = range.quality
      }
    }
    if (quality > 0 && (best === null || quality > best.quality)) best = { type, quality }
  }
  return best?.type ?? null
}

/** The client closed the connection before its request was read: nobody is left to answer. */
export class ClientGoneError extends Error {
  override readonly name = 'ClientGoneError'
}

/** Why a request body was not read. */
export type BodyResult = { ok: true; body: Uint8Array } | { ok: false; status: 413; error: string }

/**
 * Reads a request body of at most `limit` bytes. A body announced larger (`Content-Length`) is refused before a
 * byte of it is read; one that turns out larger is refused as soon as it passes the limit. Either way the caller
 * answers 413 and the connection is closed rather than drained.
 */
export function readBody(req: IncomingMessage, res: ServerResponse, limit: number): Promise<BodyResult> {
  const tooLarge: BodyResult = { ok: false, status: 413, error: `the body is larger than ${limit} bytes` }
  const announced = Number(req.headers['content-length'])
  if (Number.isFinite(announced) && announced > limit) return Promise.resolve(tooLarge)
  // The client waits for "100 Continue" before sending a body it announced with `Expect` (curl does for large ones).
  if (req.headers.expect?.toLowerCase() === '100-continue') res.writeContinue()
  return new Promise<BodyResult>((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const finish = (settle: () => void) => {
      req.off('data', onData).off('end', onEnd).off('close', onClose).off('error', onClose)
      settle()
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size <= limit) {
        chunks.push(chunk)
        return
      }
      // Stop reading, but keep the socket: the 413 still has to go out on it.
      req.pause()
      finish(() => resolve(tooLarge))
    }
    const onEnd = () => finish(() => resolve({ ok: true, body: new Uint8Array(Buffer.concat(chunks, size)) }))
    const onClose = () => finish(() => reject(new ClientGoneError('the client left before sending the whole body')))
    req.on('data', onData).on('end', onEnd).on('close', onClose).on('error', onClose)
  })
}
