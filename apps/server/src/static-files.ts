import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { extname, join, normalize, sep } from 'node:path'

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
}

/**
 * Serves the built web app from `root`. Paths that are not files get `index.html`, so the app's own routes
 * (`/d/<name>`) load it. Vite's hashed `/assets/*` are cached for good; `index.html` never is, so a deploy is
 * picked up on the next load.
 */
export async function serveStatic(root: string, req: IncomingMessage, res: ServerResponse, pathname: string) {
  let relative: string
  try {
    relative = normalize(decodeURIComponent(pathname)).replace(/^([/\\])+/, '')
  } catch {
    res.writeHead(400, { 'content-type': 'text/plain' }).end('bad path\n')
    return
  }
  const file = join(root, relative)
  // normalize() resolved every `..`; anything still outside the root is an escape attempt.
  const inside = file === root || file.startsWith(root.endsWith(sep) ? root : root + sep)
  const target = inside && (await isFile(file)) ? file : join(root, 'index.html')
  if (!(await isFile(target))) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
    return
  }
  const immutable = target.includes(`${sep}assets${sep}`)
  res.writeHead(200, {
    'content-type': contentTypes[extname(target)] ?? 'application/octet-stream',
    'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
  })
  if (req.method === 'HEAD') {
    res.end()
    return
  }
  createReadStream(target).pipe(res)
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile()
  } catch {
    return false
  }
}
