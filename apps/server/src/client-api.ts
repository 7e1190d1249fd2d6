import { docNameError } from '@collab/protocol'
import { type DocGrants, defaultMaxTokenLifetimeSeconds, issueToken } from './auth.js'
import type { HttpContext, RouteRequest } from './http-context.js'
import { sendJson } from './http-io.js'

// What the web app asks before it opens a document: whether it needs a token, and a development token.

/** How long a development token lives. */
const devTokenSeconds = 60 * 60

/** Whether authentication and development tokens are on. */
export function sendClientConfig(ctx: HttpContext, { res }: RouteRequest): void {
  sendJson(res, 200, { auth: ctx.auth.verifier !== null, devTokens: ctx.auth.devTokens !== null })
}

/**
 * Development tokens ([AU6]): anyone may ask, which is why they are off unless `--dev-tokens` is given.
 * `?doc=<name>&access=read|write` narrows the grant; without `doc` the token opens every document.
 */
export async function sendDevToken(ctx: HttpContext, { req, res }: RouteRequest): Promise<void> {
  const signing = ctx.auth.devTokens
  if (!signing) {
    sendJson(res, 404, { error: 'development tokens are off (start the server with --dev-tokens)' })
    return
  }
  const query = new URLSearchParams((req.url ?? '').split('?')[1] ?? '')
  const doc = query.get('doc')
  const access = query.get('access') ?? 'write'
  if (access !== 'read' && access !== 'write') {
    sendJson(res, 400, { error: 'access must be read or write' })
    return
  }
  const nameError = doc === null ? null : docNameError(doc)
  if (nameError) {
    sendJson(res, 400, { error: nameError })
    return
  }
  const grants: DocGrants = { [doc ?? '*']: access }
  // Never longer than the server itself accepts ([TK1]), or its own tokens would be refused.
  const max = signing.maxLifetimeSeconds ?? defaultMaxTokenLifetimeSeconds
  const seconds = max === 0 ? devTokenSeconds : Math.min(devTokenSeconds, max)
  const token = await issueToken(signing, 'dev', grants, seconds)
  sendJson(res, 200, { token, expiresAt: Date.now() + seconds * 1000 })
}
