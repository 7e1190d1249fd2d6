import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test as base } from './fixtures.js'
import { type NginxProxy, renderRunnableNginxConf, startShippedNginx } from './nginx-runner.js'

export type { NginxProxy } from './nginx-runner.js'

/** The nginx config that ships in docker/ (and compose mounts), which the tests run unchanged but for paths. */
export const shippedNginxConf = join(dirname(fileURLToPath(import.meta.url)), '../../docker/nginx.conf')

/**
 * docker/nginx.conf made runnable by an unprivileged test on this machine (see `renderRunnableNginxConf`),
 * proxying to `upstream`. Throws when the file no longer has what is substituted.
 */
export function renderNginxConf(template: string, options: { upstream: string; listen: string; dir: string }): string {
  return renderRunnableNginxConf(template, 'nginx.conf', {
    ...options,
    upstream: (conf, substitute) =>
      substitute(conf, /^(\s*)server\s+collab:1234;/m, `$1server ${options.upstream};`, 'upstream server collab:1234'),
  })
}

/** Starts nginx with docker/nginx.conf in front of `upstreamUrl`; resolves once it proxies /healthz. */
export function startNginx(upstreamUrl: string): Promise<NginxProxy> {
  const upstream = new URL(upstreamUrl).host
  return startShippedNginx(shippedNginxConf, (template, options) => renderNginxConf(template, { ...options, upstream }))
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
