// Where nginx is, for the browser test that runs the web app through docker/nginx.conf: NGINX_PATH, Debian's
// package (/usr/sbin/nginx), or the first nginx on PATH.
import { existsSync } from 'node:fs'
import { delimiter, join } from 'node:path'

export function findNginx() {
  const candidates = []
  if (process.env.NGINX_PATH) candidates.push(process.env.NGINX_PATH)
  candidates.push('/usr/sbin/nginx')
  for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir) candidates.push(join(dir, 'nginx'))
  return candidates.find((path) => existsSync(path))
}
