import type { ServerResponse } from 'node:http'
import { CloseCode } from '@collab/protocol'
import { closeAnswer, type HttpSyncAnswer } from '@collab/server'
import type { HttpContext, RouteRequest } from './http-context.js'
import { readBody } from './http-io.js'

// The HTTP transport's endpoint, `POST /api/docs/<name>/http?session=<id>&wait=<ms>` ([HT1]-[HT10] in
// docs/PROTOCOL.md): reads the body within the body limit and hands the request to the engine, which keeps the
// sessions; answers its messages, or the close a WebSocket would have been closed with.

/** Answers one request of the HTTP transport. */
export async function syncOverHttp(ctx: HttpContext, { req, res, params }: RouteRequest): Promise<void> {
  const handle = ctx.sync.handleHttpSync?.bind(ctx.sync)
  if (!handle) {
    sendAnswer(res, closeAnswer(CloseCode.NotSupported, 'this server does not offer the HTTP transport'))
    return
  }
  let docName: string
  try {
    docName = decodeURIComponent(params.name ?? '')
  } catch {
    sendAnswer(res, closeAnswer(CloseCode.UnknownDocument, 'document name is not valid percent-encoding'))
    return
  }
  const read = await readBody(req, res, ctx.maxBodyBytes)
  if (!read.ok) {
    res.setHeader('connection', 'close')
    sendAnswer(res, closeAnswer(CloseCode.MessageTooBig, read.error))
    return
  }
  // A poll is held for up to 20 s: a client that leaves meanwhile must not leave its request behind.
  const left = new AbortController()
  res.once('close', () => {
    if (!res.writableFinished) left.abort()
  })
  const answer = await handle({ req, docName, body: read.body, signal: left.signal })
  if (answer === null || res.destroyed) return
  sendAnswer(res, answer)
}

/** Writes an answer: `200` with the framed messages, or the close's status, header and JSON body ([HT9]). */
function sendAnswer(res: ServerResponse, answer: HttpSyncAnswer): void {
  if (answer.ok) {
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': String(answer.body.length),
      'cache-control': 'no-store',
    })
    res.end(answer.body)
    return
  }
  const body = JSON.stringify({ code: answer.code, reason: answer.reason })
  res.writeHead(answer.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
    'collab-close': String(answer.code),
  })
  res.end(body)
}
