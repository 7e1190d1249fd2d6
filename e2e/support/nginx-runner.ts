import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { onExit } from '@collab/test-services'
import { freePort, waitFor } from '@collab/test-support'
import { findNginx } from '../../scripts/nginx.mjs'

// Runs one of the nginx configs that ship in docker/ as an unprivileged test process: nginx.ts (one server) and
// cluster.ts (several instances) differ only in how the upstream is substituted.

/** A running nginx in front of the server(s) under test. */
export interface NginxProxy {
  /** `http://127.0.0.1:<port>` of nginx. */
  url: string
  accessLog(): string
  errorLog(): string
  stop(): Promise<void>
}

/** Replaces what `pattern` matches, or throws naming the config and `what`, so a changed file cannot pass silently. */
export type Substitute = (text: string, pattern: RegExp, replacement: string, what: string) => string

/**
 * A shipped config made runnable here: no `user` (that needs root and an `nginx` user), no `pid` (given on the
 * command line), logs and temporary files in `dir`, listening on `listen`, and the upstream substituted by
 * `upstream`. Everything else (headers, timeouts, maps, locations, balancing) stays as shipped.
 */
export function renderRunnableNginxConf(
  template: string,
  file: string,
  options: { listen: string; dir: string; upstream: (conf: string, substitute: Substitute) => string },
): string {
  const substitute: Substitute = (text, pattern, replacement, what) => {
    if (!pattern.test(text)) throw new Error(`docker/${file} has no ${what} (${pattern}) to substitute`)
    return text.replace(pattern, replacement)
  }
  let conf = template
  conf = substitute(conf, /^user\s+[^;]+;[^\n]*\n/m, '', 'user directive')
  // Given on the command line instead (-g 'pid ...'), which nginx refuses to see twice.
  conf = substitute(conf, /^pid\s+[^;]+;[^\n]*\n/m, '', 'pid directive')
  conf = substitute(conf, /^error_log\s+[^;]+;/m, `error_log ${options.dir}/error.log notice;`, 'error_log')
  conf = substitute(
    conf,
    /^(\s*)access_log\s+\S+\s+collab;/m,
    `$1access_log ${options.dir}/access.log collab;`,
    'access_log',
  )
  conf = options.upstream(conf, substitute)
  conf = substitute(conf, /^(\s*)listen\s+80;/m, `$1listen ${options.listen};`, 'listen 80')
  // Debian's nginx keeps its temporary files under /var/lib/nginx, which an unprivileged nginx cannot write.
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((kind) => `  ${kind}_temp_path ${options.dir}/${kind}-temp;`)
    .join('\n')
  conf = substitute(conf, /^http\s*\{\n/m, `http {\n${temp}\n`, 'http block')
  if (!existsSync('/etc/nginx/mime.types')) conf = conf.replace(/^\s*include\s+\/etc\/nginx\/mime\.types;\n/m, '')
  return conf
}

/**
 * Starts nginx with the config `render` makes of the shipped file `shippedConf` for a loopback port and a
 * temporary directory; resolves once it proxies /healthz. Stopped (and its directory removed) by `stop()`, or when
 * the test process ends first.
 */
export async function startShippedNginx(
  shippedConf: string,
  render: (template: string, options: { listen: string; dir: string }) => string,
): Promise<NginxProxy> {
  const binary = findNginx()
  if (!binary) {
    throw new Error(
      'nginx is not installed: apt-get install nginx (npm test does it when it can), or set NGINX_PATH to a binary',
    )
  }
  const file = basename(shippedConf)
  const dir = mkdtempSync(join(tmpdir(), 'collab-nginx-'))
  let child: ChildProcess | null = null
  // SIGTERM is nginx's fast shutdown (which also ends its workers); SIGQUIT would wait for every open WebSocket.
  const kill = () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
  }
  const unhook = onExit(() => {
    kill()
    rmSync(dir, { recursive: true, force: true })
  })
  let exited: Promise<void> = Promise.resolve()
  const stop = async () => {
    kill()
    await exited
    rmSync(dir, { recursive: true, force: true })
    unhook()
  }
  const read = (name: string) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : '')
  try {
    const port = await freePort()
    const conf = join(dir, 'nginx.conf')
    mkdirSync(join(dir, 'logs'))
    writeFileSync(conf, render(readFileSync(shippedConf, 'utf8'), { listen: `127.0.0.1:${port}`, dir }))
    const globals = `daemon off; pid ${dir}/nginx.pid;`
    const syntax = spawnSync(binary, ['-t', '-q', '-c', conf, '-p', dir, '-g', globals], { encoding: 'utf8' })
    if (syntax.status !== 0) throw new Error(`nginx -t refused the rendered docker/${file}:\n${syntax.stderr}`)

    const started = spawn(binary, ['-c', conf, '-p', dir, '-g', globals], { stdio: ['ignore', 'pipe', 'pipe'] })
    child = started
    let output = ''
    started.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()))
    started.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()))
    exited = new Promise<void>((resolve) => started.once('exit', () => resolve()))
    const url = `http://127.0.0.1:${port}`
    await waitFor(
      () => `nginx to proxy /healthz:\n${output}\n${read('error.log')}`,
      async () => {
        if (started.exitCode !== null) throw new Error(`nginx exited at start:\n${output}\n${read('error.log')}`)
        return fetch(`${url}/healthz`).then(
          (res) => res.ok,
          () => false,
        )
      },
      10_000,
      50,
    )
    return { url, accessLog: () => read('access.log'), errorLog: () => read('error.log'), stop }
  } catch (err) {
    await stop()
    throw err
  }
}
