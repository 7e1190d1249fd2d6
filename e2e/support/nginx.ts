import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { findNginx } from '../../scripts/nginx.mjs'
import { test as base } from './fixtures.js'

/** The nginx config that ships in docker/ (and compose mounts), which the tests run unchanged but for paths. */
export const shippedNginxConf = join(dirname(fileURLToPath(import.meta.url)), '../../docker/nginx.conf')

/** A running nginx in front of the server under test. */
export interface NginxProxy {
  /** `http://127.0.0.1:<port>` of nginx. */
  url: string
  accessLog(): string
  errorLog(): string
}

/**
 * docker/nginx.conf made runnable by an unprivileged test on this machine: listens on a loopback port, proxies
 * to `upstream`, keeps its logs, pid and temporary files in `dir`, and has no `user` (that needs root and an
 * `nginx` user). Everything else (headers, timeouts, maps, locations) stays as shipped. Throws when the file no
 * longer has what is substituted, so a change to it cannot silently test something else.
 */
export function renderNginxConf(template: string, options: { upstream: string; listen: string; dir: string }): string {
  const replace = (text: string, pattern: RegExp, replacement: string, what: string): string => {
    if (!pattern.test(text)) throw new Error(`docker/nginx.conf has no ${what} (${pattern}) to substitute`)
    return text.replace(pattern, replacement)
  }
  let conf = template
  conf = replace(conf, /^user\s+[^;]+;[^\n]*\n/m, '', 'user directive')
  // Given on the command line instead (-g 'pid ...'), which nginx refuses to see twice.
  conf = replace(conf, /^pid\s+[^;]+;[^\n]*\n/m, '', 'pid directive')
  conf = replace(conf, /^error_log\s+[^;]+;/m, `error_log ${options.dir}/error.log notice;`, 'error_log')
  conf = replace(
    conf,
    /^(\s*)access_log\s+\S+\s+collab;/m,
    `$1access_log ${options.dir}/access.log collab;`,
    'access_log',
  )
  conf = replace(conf, /^(\s*)server\s+collab:1234;/m, `$1server ${options.upstream};`, 'upstream server collab:1234')
  conf = replace(conf, /^(\s*)listen\s+80;/m, `$1listen ${options.listen};`, 'listen 80')
  // Debian's nginx keeps its temporary files under /var/lib/nginx, which an unprivileged nginx cannot write.
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((kind) => `  ${kind}_temp_path ${options.dir}/${kind}-temp;`)
    .join('\n')
  conf = replace(conf, /^http\s*\{\n/m, `http {\n${temp}\n`, 'http block')
  if (!existsSync('/etc/nginx/mime.types')) conf = conf.replace(/^\s*include\s+\/etc\/nginx\/mime\.types;\n/m, '')
  return conf
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/** Starts nginx with docker/nginx.conf in front of `upstreamUrl`; resolves once it proxies /healthz. */
export async function startNginx(upstreamUrl: string): Promise<NginxProxy & { stop(): Promise<void> }> {
  const binary = findNginx()
  if (!binary) {
    throw new Error(
      'nginx is not installed: apt-get install nginx (npm test does it when it can), or set NGINX_PATH to a binary',
    )
  }
  const dir = mkdtempSync(join(tmpdir(), 'collab-nginx-'))
  const port = await freePort()
  const upstream = new URL(upstreamUrl)
  const conf = join(dir, 'nginx.conf')
  mkdirSync(join(dir, 'logs'))
  writeFileSync(
    conf,
    renderNginxConf(readFileSync(shippedNginxConf, 'utf8'), {
      upstream: upstream.host,
      listen: `127.0.0.1:${port}`,
      dir,
    }),
  )
  const globals = `daemon off; pid ${dir}/nginx.pid;`
  const syntax = spawnSync(binary, ['-t', '-q', '-c', conf, '-p', dir, '-g', globals], { encoding: 'utf8' })
  if (syntax.status !== 0) throw new Error(`nginx -t refused the rendered docker/nginx.conf:\n${syntax.stderr}`)

  const child: ChildProcess = spawn(binary, ['-c', conf, '-p', dir, '-g', globals], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const url = `http://127.0.0.1:${port}`
  const read = (file: string) => (existsSync(join(dir, file)) ? readFileSync(join(dir, file), 'utf8') : '')
  const stop = async () => {
    // SIGTERM is nginx's fast shutdown; SIGQUIT would wait for every open WebSocket to end.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
    rmSync(dir, { recursive: true, force: true })
  }
  const deadline = Date.now() + 10_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited at start:\n${output}\n${read('error.log')}`)
    const ok = await fetch(`${url}/healthz`).then(
      (res) => res.ok,
      () => false,
    )
    if (ok) break
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`nginx did not proxy /healthz within 10 s:\n${output}\n${read('error.log')}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return { url, accessLog: () => read('access.log'), errorLog: () => read('error.log'), stop }
}

/** The e2e fixtures plus `nginx`: docker/nginx.conf running in front of this test's server. */
export const test = base.extend<{ nginx: NginxProxy }>({
  nginx: async ({ server }, use) => {
    const nginx = await startNginx(server.url)
    await use(nginx)
    await nginx.stop()
  },
})

export { expect } from '@playwright/test'
