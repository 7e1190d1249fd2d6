import type { IncomingMessage, ServerResponse } from 'node:http'
import { docNameError } from '@collab/protocol'
import type { Access } from '@collab/server'
import { DocumentUnreadableError } from '@collab/storage'
import * as Y from 'yjs'
import { accessTo, type DocGrants } from './auth.js'
import { bearerToken, negotiate, readBody, sendJson } from './http-io.js'
import type { HttpContext, RequestInfo } from './http-routes.js'

const textType = 'text/plain'
const stateType = 'application/octet-stream'

/**
 * The document API under `/api/docs`: list, read (text or Yjs state), apply an update, delete. The same tokens as
 * the WebSocket decide ([AU2]): `read` for GET, `write` for POST and DELETE.
 */
export async function handleDocsApi(
  ctx: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  info: RequestInfo,
  pathname: string,
): Promise<void> {
  if (pathname === '/api/docs') {
    info.route = '/api/docs'
    if (req.method !== 'GET') return sendJson(res, 405, { error: 'method not allowed' }, { allow: 'GET' })
    return sendDocList(ctx, req, res, info)
  }
  const segments = pathname.slice('/api/docs/'.length).split('/')
  const [encoded = '', action] = segments
  if (segments.length > 2 || (action !== undefined && action !== 'updates')) {
    info.route = '/api/other'
    return sendJson(res, 404, {
      error: 'no such endpoint; a document name is one path segment: encode "/" in names as %2F',
    })
  }
  info.route = action === 'updates' ? '/api/docs/:name/updates' : '/api/docs/:name'
  const allowed = action === 'updates' ? ['POST'] : ['GET', 'DELETE']
  if (!allowed.includes(req.method ?? '')) {
    return sendJson(res, 405, { error: 'method not allowed' }, { allow: allowed.join(', ') })
  }
  let name: string
  try {
    name = decodeURIComponent(encoded)
  } catch {
    return sendJson(res, 400, { error: 'the document name is not valid percent-encoding' })
  }
  const nameError = docNameError(name)
  if (nameError) return sendJson(res, 400, { error: nameError })
  if (req.method !== 'GET' && ctx.isShuttingDown()) {
    return sendJson(res, 503, { error: 'the server is shutting down' }, { 'retry-after': '5' })
  }
  if (!(await authorize(ctx, req, res, info, name, req.method === 'GET' ? 'read' : 'write'))) return
  if (req.method === 'GET') return sendDocument(ctx, req, res, name)
  if (req.method === 'DELETE') return deleteDocument(ctx, res, info, name)
  return postUpdate(ctx, req, res, info, name)
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
async function sendDocList(ctx: HttpContext, req: IncomingMessage, res: ServerResponse, info: RequestInfo) {
  const grants = await grantsOf(ctx, req, res, info)
  if (grants === undefined) return
  const docs = (await ctx.store.list()).filter((doc) => grants === null || accessTo(grants, doc.name) !== null)
  docs.sort((a, b) => b.updatedAt - a.updatedAt || a.name.localeCompare(b.name))
  sendJson(res, 200, { docs })
}

/** The document's text (the `Y.Text` named `codemirror`) or its whole Yjs state, as `Accept` asks. */
async function sendDocument(ctx: HttpContext, req: IncomingMessage, res: ServerResponse, name: string) {
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
  const headers = { 'cache-control': 'no-store', vary: 'accept', 'x-content-type-options': 'nosniff' }
  if (type === stateType) {
    res.writeHead(200, { ...headers, 'content-type': stateType, 'content-length': String(state.length) })
    res.end(state)
    return
  }
  const doc = new Y.Doc()
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
async function postUpdate(
  ctx: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  info: RequestInfo,
  name: string,
) {
  // Requiring this type also keeps plain cross-site HTML forms out: browsers cannot send it without a CORS
  // preflight, which this server never approves. That matters when authentication is off.
  const contentType = req.headers['content-type']?.split(';')[0]?.trim().toLowerCase()
  if (contentType !== stateType) {
    return sendJson(res, 415, { error: `the body must be one Yjs update sent as ${stateType}` })
  }
  const read = await readBody(req, res, ctx.maxBodyBytes)
  if (!read.ok) return sendJson(res, read.status, { error: read.error }, { connection: 'close' })
  try {
    if (read.body.length === 0) throw new Error('empty body')
    // Decoding it completely first is what keeps a bad update from changing anything ([PR2]).
    Y.decodeUpdate(read.body)
  } catch {
    return sendJson(res, 400, { error: 'the body is not a valid Yjs update' })
  }
  try {
    await ctx.sync.applyUpdate(name, read.body)
  } catch (err) {
    ctx.logger.error(
      { req: info.id, doc: name, err: err instanceof Error ? err.message : String(err) },
      'update from the API not stored',
    )
    return sendJson(res, 503, { error: 'the update could not be stored; try again' }, { 'retry-after': '5' })
  }
  res.writeHead(204, { 'cache-control': 'no-store' })
  res.end()
}

async function deleteDocument(ctx: HttpContext, res: ServerResponse, info: RequestInfo, name: string) {
  const existed = await ctx.sync.deleteDocument(name)
  if (!existed) return sendJson(res, 404, { error: 'no such document' })
  ctx.logger.info({ req: info.id, doc: name, user: info.user }, 'document deleted')
  res.writeHead(204, { 'cache-control': 'no-store' })
  res.end()
}
