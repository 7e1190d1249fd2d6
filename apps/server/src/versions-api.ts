import { VersionError } from '@collab/server'
import { DocumentUnreadableError } from '@collab/storage'
import { documentFor } from './docs-api.js'
import type { HttpContext, RouteRequest } from './http-context.js'
import { negotiate, readBody, sendJson } from './http-io.js'

// Version history under `/api/docs/:name/versions` ([VH1]-[VH3], docs/OPERATIONS.md): list, name, read (text, Yjs
// state, authors), restore, rename, delete. The same tokens as the rest of the API decide: `read` to list and read,
// `write` to make, restore, rename and delete.

const textType = 'text/plain'
const stateType = 'application/octet-stream'
const jsonType = 'application/json'
/** A version's answers are never cached: a deleted or renamed version must not come back from a cache. */
const noStore = { 'cache-control': 'no-store', vary: 'Accept, Origin' }

/** `GET /api/docs/:name/versions`: every version, newest first. */
export async function listVersions(ctx: HttpContext, request: RouteRequest): Promise<void> {
  const name = await documentFor(ctx, request, 'read')
  if (name === null) return
  await answer(ctx, request, name, async (versions) => sendJson(request.res, 200, await versions.list(name)))
}

/** `POST /api/docs/:name/versions` with `{ "name": "..." }`: a named version of the document as it is now. */
export async function createVersion(ctx: HttpContext, request: RouteRequest): Promise<void> {
  const name = await documentFor(ctx, request, 'write')
  if (name === null) return
  const body = await jsonBody(ctx, request)
  if (body === undefined) return
  const versionName = (body as { name?: unknown } | null)?.name
  if (typeof versionName !== 'string') {
    return sendJson(request.res, 400, { error: 'send { "name": "..." }: the version needs a name' })
  }
  await answer(ctx, request, name, async (versions) => {
    const version = await versions.create(name, versionName)
    ctx.logger.info({ req: request.info.id, doc: name, version: version.id, user: request.info.user }, 'version named')
    sendJson(request.res, 201, version)
  })
}

/** `GET /api/docs/:name/versions/:id`: the version's text, or its Yjs state, as `Accept` asks. */
export async function sendVersion(ctx: HttpContext, request: RouteRequest): Promise<void> {
  const name = await documentFor(ctx, request, 'read')
  if (name === null) return
  const { req, res } = request
  const type = negotiate(req.headers.accept, [textType, stateType])
  if (type === null) return sendJson(res, 406, { error: `available as ${textType} or ${stateType}` })
  const id = idOf(request)
  await answer(ctx, request, name, async (versions) => {
    // User content: nosniff keeps browsers from rendering a version that looks like HTML as a page of this origin.
    const headers = { ...noStore, 'x-content-type-options': 'nosniff' }
    if (type === stateType) {
      const state = await versions.state(name, id)
      res.writeHead(200, { ...headers, 'content-type': stateType, 'content-length': String(state.length) })
      res.end(state)
      return
    }
    const text = await versions.text(name, id)
    res.writeHead(200, { ...headers, 'content-type': 'text/plain; charset=utf-8' })
    res.end(text)
  })
}

/** `GET /api/docs/:name/versions/:id/authors`: the version's text as runs of `{ text, user }`. */
export async function sendVersionAuthors(ctx: HttpContext, request: RouteRequest): Promise<void> {
  const name = await documentFor(ctx, request, 'read')
  if (name === null) return
  await answer(ctx, request, name, async (versions) =>
    sendJson(request.res, 200, await versions.authors(name, idOf(request))),
  )
}

/**
 * `POST /api/docs/:name/versions/:id/restore`: the version's text becomes the document's again, as one edit by the
 * caller; answers the version kept of the state just before (restoring it undoes the restore).
 */
export async function restoreVersion(ctx: HttpContext, request: RouteRequest): Promise<void> {
  const name = await documentFor(ctx, request, 'write')
  if (name === null) return
  await answer(ctx, request, name, async (versions) => {
    const restored = await versions.restore(name, idOf(request), request.info.user ?? null)
    sendJson(request.res, 200, restored)
  })
}

/** `PATCH /api/docs/:name/versions/:id` with `{ "name": "..." }` (or `null` to remove the name). */
export async function renameVersion(ctx: HttpContext, request: RouteRequest): Promise<void> {
  const name = await documentFor(ctx, request, 'write')
  if (name === null) return
  const body = await jsonBody(ctx, request)
  if (body === undefined) return
  const newName = (body as { name?: unknown } | null)?.name
  if (typeof newName !== 'string' && newName !== null) {
    return sendJson(request.res, 400, { error: 'send { "name": "..." }, or { "name": null } to remove the name' })
  }
  await answer(ctx, request, name, async (versions) =>
    sendJson(request.res, 200, await versions.rename(name, idOf(request), newName)),
  )
}

/** `DELETE /api/docs/:name/versions/:id`: deletes a named version (automatic ones are thinned with age). */
export async function deleteVersion(ctx: HttpContext, request: RouteRequest): Promise<void> {
  const name = await documentFor(ctx, request, 'write')
  if (name === null) return
  await answer(ctx, request, name, async (versions) => {
    await versions.remove(name, idOf(request))
    request.res.writeHead(204, { 'cache-control': 'no-store' })
    request.res.end()
  })
}

type Versions = NonNullable<HttpContext['sync']['versions']>

/**
 * Runs `respond` with the engine's version history and maps its refusals: 404 unknown version, 400 bad name, 409
 * not allowed on this version, 501 without version history (cluster mode), 500 for a version that cannot be
 * rebuilt from storage.
 */
async function answer(
  ctx: HttpContext,
  { res, info }: RouteRequest,
  doc: string,
  respond: (versions: Versions) => Promise<void>,
): Promise<void> {
  const versions = ctx.sync.versions
  if (!versions?.available) {
    return sendJson(res, 501, {
      error: 'version history is not available on this server: it needs the LevelDB store (not cluster mode)',
    })
  }
  try {
    await respond(versions)
  } catch (err) {
    if (err instanceof VersionError) {
      const status = { 'not-found': 404, invalid: 400, conflict: 409, unavailable: 501 } as const
      return sendJson(res, status[err.kind], { error: err.message })
    }
    if (err instanceof DocumentUnreadableError) {
      ctx.logger.error({ req: info.id, doc, err: err.message }, 'document unreadable')
      return sendJson(res, 500, { error: 'the stored document cannot be read' })
    }
    throw err
  }
}

/** The `:id` segment, decoded; one that does not decode names no version (404 from the engine). */
function idOf({ params }: RouteRequest): string {
  try {
    return decodeURIComponent(params.id ?? '')
  } catch {
    return ''
  }
}

/**
 * The request's JSON body, or `undefined` after answering 415 (another type: requiring JSON also keeps plain
 * cross-site HTML forms out, which cannot send it without a CORS preflight), 413 or 400.
 */
async function jsonBody(ctx: HttpContext, { req, res }: RouteRequest): Promise<unknown> {
  const contentType = req.headers['content-type']?.split(';')[0]?.trim().toLowerCase()
  if (contentType !== jsonType) {
    sendJson(res, 415, { error: `the body must be ${jsonType}` })
    return undefined
  }
  const read = await readBody(req, res, ctx.maxBodyBytes)
  if (!read.ok) {
    sendJson(res, read.status, { error: read.error }, { connection: 'close' })
    return undefined
  }
  try {
    return JSON.parse(new TextDecoder().decode(read.body)) as unknown
  } catch {
    sendJson(res, 400, { error: 'the body is not valid JSON' })
    return undefined
  }
}
