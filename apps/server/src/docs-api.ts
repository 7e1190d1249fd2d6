import type { IncomingMessage, ServerResponse } from 'node:http'
import { docNameError } from '@collab/protocol'
import { type Access, UpdateRefusedError } from '@collab/server'
import { DocumentUnreadableError } from '@collab/storage'
import * as Y from 'yjs'
import { accessTo, type DocGrants } from './auth.js'
import type { HttpContext, RequestInfo, RouteRequest } from './http-context.js'
import { bearerToken, negotiate, pathOf, readBody, sendJson } from './http-io.js'

// The document API under `/api/docs`: list, read (text or Yjs state), apply an update, delete. The same tokens as
// the WebSocket decide ([AU2]): `read` for GET, `write` for POST and DELETE.

const textType = 'text/plain'
const stateType = 'application/octet-stream'

/**
 * The document a `/api/docs/:name` request names, once the caller may `need` it; `null` after answering 400 (a bad
 * name), 503 (a write during shutdown), 401 or 403.
 */
export async function documentFor(ctx: HttpContext, request: RouteRequest, need: Access): Promise<string | null> {
  const { req, res, info, params } = request
  if (params.name === undefined) {
    throw new RangeError(`The route of ${req.method} ${pathOf(req)} has no :name segment for documentFor`)
  }
  let name: string
  try {
    name = decodeURIComponent(params.name)
  } catch {
    sendJson(res, 400, { error: 'the document name is not valid percent-encoding' })
    return null
  }
  const nameError = docNameError(name)
  if (nameError) {
    sendJson(res, 400, { error: nameError })
    return null
  }
  if (need === 'write' && ctx.isShuttingDown()) {
    sendJson(res, 503, { error: 'the server is shutting down' }, { 'retry-after': '5' })
    return null
  }
  return (await authorize(ctx, req, res, info, name, need)) ? name : null
}

/** The grants of the caller's token, `null` when authentication is off, or `undefined` after answering 401. */
async function grantsOf(
  ctx: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  info: RequestInfo,
): Promise<DocGrants | null | undefined> {
  if (!ctx.auth.verifier) return null
  const token = bearerToken(req)
  if (!token) {
    ctx.metrics.httpAuthFailed(401)
    sendJson(res, 401, { error: 'a token is required' }, { 'www-authenticate': 'Bearer' })
    return undefined
  }
  const verified = await ctx.auth.verifier.verify(token)
  if (!verified.ok) {
    ctx.metrics.httpAuthFailed(401)
    sendJson(res, 401, { error: verified.reason }, { 'www-authenticate': 'Bearer error="invalid_token"' })
    return undefined
  }
  info.user = verified.token.subject
  return verified.token.grants
}

/** Checks that the caller may `need` the document; answers 401 or 403 and returns false when not. */
async function authorize(
  ctx: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  info: RequestInfo,
  name: string,
  need: Access,
): Promise<boolean> {
  const grants = await grantsOf(ctx, req, res, info)
  if (grants === undefined) return false
  if (grants === null) return true
  const access = accessTo(grants, name)
  if (access === null || (need === 'write' && access === 'read')) {
    ctx.metrics.httpAuthFailed(403)
    const error = access === null ? 'the token does not grant this document' : 'the token grants read access only'
    sendJson(res, 403, { error })
    return false
  }
  return true
}

/** The document list; with authentication on, only the documents the caller's token opens. */
export async function sendDocList(ctx: HttpContext, { req, res, info }: RouteRequest): Promise<void> {
  const grants = await grantsOf(ctx, req, res, info)
  if (grants === undefined) return
  const docs = (await ctx.store.list()).filter((doc) => grants === null || accessTo(grants, doc.name) !== null)
  docs.sort((a, b) => b.updatedAt - a.updatedAt || a.name.localeCompare(b.name))
  sendJson(res, 200, { docs })
}

/** The document's text (the `Y.Text` named `codemirror`) or its whole Yjs state, as `Accept` asks. */
export async function sendDocument(ctx: HttpContext, request: RouteRequest): Promise<void> {
  const name = await documentFor(ctx, request, 'read')
  if (name === null) return
  const { req, res } = request
  const type = negotiate(req.headers.accept, [textType, stateType])
  if (type === null) return sendJson(res, 406, { error: `available as ${textType} or ${stateType}` })
  let state: Uint8Array | null
  try {
    state = await ctx.sync.getDocument(name)
  } catch (err) {
    if (!(err instanceof DocumentUnreadableError)) throw err
    ctx.logger.error({ doc: name, err: err.message }, 'document unreadable')
    return sendJson(res, 500, { error: 'the stored document cannot be read' })
  }
  if (state === null) return sendJson(res, 404, { error: 'no such document' })
  // User content: nosniff keeps browsers from rendering a document that looks like HTML as a page of this origin.
  // Vary names Origin too: the API's CORS headers depend on it (http-cors.ts).
  const headers = { 'cache-control': 'no-store', vary: 'Accept, Origin', 'x-content-type-options': 'nosniff' }
  if (type === stateType) {
    res.writeHead(200, { ...headers, 'content-type': stateType, 'content-length': String(state.length) })
    res.end(state)
    return
  }
  // A guid of our own, as the room's document has (packages/server/src/room.ts): a random one costs 31 crypto calls.
  const doc = new Y.Doc({ guid: 'read' })
  try {
    Y.applyUpdate(doc, state)
    const text = doc.getText('codemirror').toString()
    res.writeHead(200, { ...headers, 'content-type': 'text/plain; charset=utf-8' })
    res.end(text)
  } finally {
    doc.destroy()
  }
}

/** Applies one Yjs update (v1 encoding) from the body; connected clients receive it like any client's update. */
export async function postUpdate(ctx: HttpContext, request: RouteRequest): Promise<void> {
  const name = await documentFor(ctx, request, 'write')
  if (name === null) return
  const { req, res, info } = request
  // Requiring this type also keeps plain cross-site HTML forms out: browsers cannot send it without a CORS
  // preflight, which this server never approves. That matters when authentication is off.
  const contentType = req.headers['content-type']?.split(';')[0]?.trim().toLowerCase()
  if (contentType !== stateType) {
    return sendJson(res, 415, { error: `the body must be one Yjs update sent as ${stateType}` })
  }
  const read = await readBody(req, res, ctx.maxBodyBytes)
  if (!read.ok) return sendJson(res, read.status, { error: read.error }, { connection: 'close' })
  if (read.body.length === 0) return sendJson(res, 400, { error: 'the body is empty: send one Yjs update' })
  try {
    // The engine admits it as it admits a connection's update, before any document is loaded or created ([PR2]).
    await ctx.sync.applyUpdate(name, read.body)
  } catch (err) {
    const refused = refusalStatus(err)
    if (refused !== null) {
      ctx.logger.info({ req: info.id, doc: name, error: refused.error }, 'update from the API refused')
      return sendJson(res, refused.status, { error: refused.error })
    }
    ctx.logger.error(
      { req: info.id, doc: name, err: err instanceof Error ? err.message : String(err) },
      'update from the API not stored',
    )
    return sendJson(res, 503, { error: 'the update could not be stored; try again' }, { 'retry-after': '5' })
  }
  res.writeHead(204, { 'cache-control': 'no-store' })
  res.end()
}

/**
 * The answer to an update the engine refused for a reason the caller caused (a retry would be refused again): 400
 * for one that is invalid or too large, 409 for one that depends on content the document lacks ([SY4]: send an
 * update made against the document's current state), 410 for content of a deleted document ([DL2]). `null` for
 * anything else, which is storage failing (503, worth a retry).
 */
function refusalStatus(err: unknown): { status: 400 | 409 | 410; error: string } | null {
  if (!(err instanceof UpdateRefusedError)) return null
  const status = { invalid: 400, missing: 409, deleted: 410 } as const
  return { status: status[err.refusal.kind], error: err.reason }
}

/** Deletes the document: its connections are closed with 4404 and its name blocked until storage is done ([DL1]). */
export async function deleteDocument(ctx: HttpContext, request: RouteRequest): Promise<void> {
  const name = await documentFor(ctx, request, 'write')
  if (name === null) return
  const { res, info } = request
  const existed = await ctx.sync.deleteDocument(name)
  if (!existed) return sendJson(res, 404, { error: 'no such document' })
  ctx.logger.info({ req: info.id, doc: name, user: info.user }, 'document deleted')
  res.writeHead(204, { 'cache-control': 'no-store' })
  res.end()
}
