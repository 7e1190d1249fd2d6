// The host app's own backend, as small as it can be: it serves the built page (dist/) and answers the two questions
// the page asks. It holds the collab server's shared secret (COLLAB_AUTH_SECRET, the server's --auth-secret), so
// the browser never sees it; a real app checks its own session before signing, and grants only the documents that
// user may open (docs/EMBEDDING.md).
//
//   PORT=5174 COLLAB_URL=ws://localhost:1234 COLLAB_AUTH_SECRET=... node server.mjs
//
// No dependencies: an HS256 JWT is a few lines of node:crypto.
import { createHmac } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { extname, join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'

const port = Number(process.env.PORT ?? 5174)
const host = process.env.HOST ?? 'localhost'
const collabUrl = process.env.COLLAB_URL ?? 'ws://localhost:1234'
const secret = process.env.COLLAB_AUTH_SECRET
if (!secret) {
  console.error("Set COLLAB_AUTH_SECRET to the collab server's --auth-secret.")
  process.exit(1)
}
const root = fileURLToPath(new URL('./dist/', import.meta.url))
const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
}
/** Tokens are asked for before every connection, so they can be short-lived. */
const tokenSeconds = 10 * 60

const base64url = (value) => Buffer.from(value).toString('base64url')

/** A token the collab server accepts: `sub` for its logs, `docs` for what it opens, `exp` within its maximum. */
function signToken(subject, docName, access) {
  const now = Math.floor(Date.now() / 1000)
  const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))
  const payload = base64url(
    JSON.stringify({ sub: subject, docs: { [docName]: access }, iat: now, exp: now + tokenSeconds }),
  )
  const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url')
  return `${header}.${payload}.${signature}`
}

function sendJson(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
  res.end(JSON.stringify(body))
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://host')
  if (url.pathname === '/api/config') return sendJson(res, 200, { serverUrl: collabUrl })
  if (url.pathname === '/api/collab-token') {
    const doc = url.searchParams.get('doc')
    if (!doc) return sendJson(res, 400, { error: 'doc is required' })
    // Here a real app reads its session cookie and checks that this user may edit `doc`.
    return sendJson(res, 200, { token: signToken('example-user', doc, 'write') })
  }
  const path = normalize(join(root, url.pathname === '/' ? 'index.html' : url.pathname))
  if (!path.startsWith(root)) return sendJson(res, 404, { error: 'not found' })
  try {
    const body = await readFile(path)
    res.writeHead(200, { 'content-type': types[extname(path)] ?? 'application/octet-stream' })
    res.end(body)
  } catch {
    sendJson(res, 404, { error: 'not found' })
  }
})
server.listen(port, host, () => {
  const address = server.address()
  console.log(`example host app listening on http://${host}:${address.port}, collab server ${collabUrl}`)
})
