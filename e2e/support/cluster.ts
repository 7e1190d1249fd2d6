import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { onExit, type PostgresServer, type RedisServer, startPostgres, startRedis } from '@collab/test-services'
import { type ServerProcess, startServerProcess, waitFor } from '@collab/test-support'
import { type BrowserContext, test as base } from '@playwright/test'
import { DocPage } from './doc-page.js'
import { type NginxProxy, renderRunnableNginxConf, startShippedNginx } from './nginx-runner.js'

// The deployment of docker/compose.cluster.yaml, minus Docker: Redis and PostgreSQL (from Debian packages, on free
// loopback ports), two server instances as child processes sharing them, and docker/nginx.cluster.conf (paths,
// ports and upstream servers substituted) load-balancing the browser's page, API and WebSocket traffic across both.

/** The nginx config that ships for several instances (docker/compose.cluster.yaml mounts it). */
export const shippedClusterNginxConf = join(dirname(fileURLToPath(import.meta.url)), '../../docker/nginx.cluster.conf')

/** Shared by every instance, so that a development token one instance issued verifies on the other. */
const authSecret = 'e2e-cluster-shared-secret-0123456789abcdef'

/**
 * docker/nginx.cluster.conf made runnable by an unprivileged test on this machine (see `renderRunnableNginxConf`),
 * with one upstream `server` line per given address, each keeping the parameters of the shipped line it replaces
 * (`max_fails`, `fail_timeout`). Throws when the file no longer has what is substituted.
 */
export function renderClusterNginxConf(
  template: string,
  options: { upstreams: readonly string[]; listen: string; dir: string },
): string {
  return renderRunnableNginxConf(template, 'nginx.cluster.conf', {
    ...options,
    upstream: (conf) => replaceUpstreamServers(conf, options.upstreams),
  })
}

/** Replaces the `server collab-N:1234 ...;` lines of `upstream collab { }` by one line per address. */
function replaceUpstreamServers(conf: string, upstreams: readonly string[]): string {
  const block = /^(\s*)upstream\s+collab\s*\{\n([\s\S]*?)^\s*\}/m.exec(conf)
  if (!block) throw new Error('docker/nginx.cluster.conf has no `upstream collab { ... }` block to substitute')
  const serverLine = /^([ \t]*)server\s+collab-\d+:\d+((?:[ \t]+[^;\s]+)*)\s*;[^\n]*$/
  const lines = block[2]!.split('\n')
  const servers = lines.flatMap((line, index) => {
    const match = serverLine.exec(line)
    return match ? [{ index, indent: match[1]!, params: match[2]! }] : []
  })
  if (servers.length < upstreams.length) {
    throw new Error(
      `docker/nginx.cluster.conf's upstream has ${servers.length} \`server collab-N:1234\` lines, fewer than the ` +
        `${upstreams.length} instances under test`,
    )
  }
  const replacement = upstreams.map((address, i) => `${servers[i]!.indent}server ${address}${servers[i]!.params};`)
  const first = servers[0]!.index
  const dropped = new Set(servers.map((server) => server.index))
  const body = lines.flatMap((line, index) => (index === first ? replacement : dropped.has(index) ? [] : [line]))
  const start = block.index + block[0].indexOf(block[2]!)
  return conf.slice(0, start) + body.join('\n') + conf.slice(start + block[2]!.length)
}

/** Starts nginx with docker/nginx.cluster.conf in front of `upstreams`; resolves once it proxies /healthz. */
export function startClusterNginx(upstreams: readonly string[]): Promise<NginxProxy> {
  return startShippedNginx(shippedClusterNginxConf, (template, options) =>
    renderClusterNginxConf(template, { ...options, upstreams }),
  )
}

/** One server instance of the cluster, a child process on its own loopback port. */
export interface ClusterInstance {
  /** `one` or `two`, for messages. */
  readonly name: string
  /** Its own `http://127.0.0.1:<port>`, bypassing nginx. */
  readonly url: string
  readonly port: number
  readonly process: ServerProcess
  /** Whether it has not been stopped or killed. */
  readonly running: boolean
  /** Open WebSocket connections, as its /healthz reports them. */
  connections(): Promise<number>
  /** Stops it (SIGTERM: graceful; SIGKILL: a crash) and waits for the process to end. */
  stop(signal?: NodeJS.Signals): Promise<void>
  /** The first JSON log line so far that matches `pattern`, parsed (pino's `time` is in epoch ms). */
  logEntry(pattern: RegExp): { time: number; msg: string; [key: string]: unknown } | undefined
}

async function startInstance(
  name: string,
  services: { databaseUrl: string; redisUrl: string },
): Promise<ClusterInstance & { dispose(): Promise<void> }> {
  // Unused in cluster mode (documents live in PostgreSQL), but each instance gets its own all the same.
  const dataDir = mkdtempSync(join(tmpdir(), `collab-e2e-cluster-${name}-`))
  let child: ServerProcess | null = null
  const unhook = onExit(() => {
    child?.child.kill('SIGKILL')
    rmSync(dataDir, { recursive: true, force: true })
  })
  const dispose = async () => {
    if (child) {
      const current = child
      const timer = setTimeout(() => current.child.kill('SIGKILL'), 5_000)
      await current.stop('SIGTERM')
      clearTimeout(timer)
    }
    rmSync(dataDir, { recursive: true, force: true })
    unhook()
  }
  try {
    child = await startServerProcess({
      dataDir,
      args: [
        '--database-url',
        services.databaseUrl,
        '--redis-url',
        services.redisUrl,
        // As docker/compose.cluster.yaml runs it: one secret everywhere, nginx's X-Forwarded-For trusted.
        '--auth-secret',
        authSecret,
        '--dev-tokens',
        '--trust-proxy',
        '127.0.0.1',
      ],
    })
  } catch (err) {
    await dispose()
    throw err
  }
  const server = child
  let running = true
  return {
    name,
    url: server.url,
    port: server.port,
    process: server,
    get running() {
      return running
    },
    async connections() {
      const health = (await (await fetch(`${server.url}/healthz`)).json()) as { connections: number }
      return health.connections
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      running = false
      await server.stop(signal)
    },
    logEntry(pattern) {
      const line = server.output.find((candidate) => pattern.test(candidate) && candidate.startsWith('{'))
      return line === undefined ? undefined : JSON.parse(line)
    },
    dispose,
  }
}

/** Redis and PostgreSQL, started once per worker. */
export interface ClusterServices {
  redis: RedisServer
  postgres: PostgresServer
}

/** Two instances on Redis and PostgreSQL, and nginx in front of them. */
export interface Cluster {
  /** nginx's URL: what the browser uses. */
  url: string
  nginx: NginxProxy
  instances: readonly [ClusterInstance, ClusterInstance]
  /** Connection counts of every instance (of the two behind nginx) still running, by instance. */
  connectionCounts(): Promise<Map<ClusterInstance, number>>
  /** Another instance on the same Redis and PostgreSQL, not behind nginx (stopped by the fixture's teardown). */
  startInstance(name: string): Promise<ClusterInstance>
}

/** A document tab opened through nginx, and the instance its WebSocket reached. */
export interface ClusterTab extends DocPage {
  instance: ClusterInstance
  context: BrowserContext
}

export interface ClusterFixtures {
  cluster: Cluster
  /**
   * Opens `/d/<name>` through nginx in a fresh browser context as `user`, and finds out (from the instances'
   * /healthz) which instance its WebSocket reached. nginx alone decides that; with `on`, the tab is reloaded until
   * it lands there, which `least_conn` makes quick when `on` has fewer connections than the other instance.
   */
  openTab(name: string, options: { user: string; on?: ClusterInstance }): Promise<ClusterTab>
  /** Reloads `tab` (until it lands on `on`, when given), waits until it is synced again, and finds its instance. */
  reloadTab(tab: ClusterTab, options?: { on?: ClusterInstance }): Promise<void>
}

let databases = 0

export const test = base.extend<ClusterFixtures, { clusterServices: ClusterServices }>({
  clusterServices: [
    // Playwright reads a fixture's dependencies from its first parameter, which must be a destructuring pattern.
    // biome-ignore lint/correctness/noEmptyPattern: no dependencies
    async ({}, use) => {
      const [redis, postgres] = await Promise.allSettled([startRedis(), startPostgres()])
      try {
        if (redis.status === 'rejected') throw redis.reason
        if (postgres.status === 'rejected') throw postgres.reason
        await use({ redis: redis.value, postgres: postgres.value })
      } finally {
        if (redis.status === 'fulfilled') await redis.value.close()
        if (postgres.status === 'fulfilled') await postgres.value.close()
      }
    },
    { scope: 'worker', timeout: 120_000 },
  ],

  cluster: async ({ clusterServices }, use) => {
    // A clean database per test; Redis is shared (streams are per document, and every test has its own documents).
    const databaseUrl = await clusterServices.postgres.createDatabase(`e2e_cluster_${process.pid}_${++databases}`)
    const services = { databaseUrl, redisUrl: clusterServices.redis.url }
    const started = await Promise.allSettled([startInstance('one', services), startInstance('two', services)])
    let nginx: NginxProxy | null = null
    const extra: Promise<ClusterInstance & { dispose(): Promise<void> }>[] = []
    try {
      const [one, two] = started.map((result) => {
        if (result.status === 'rejected') throw result.reason
        return result.value
      })
      const instances: [ClusterInstance, ClusterInstance] = [one!, two!]
      nginx = await startClusterNginx(instances.map((instance) => `127.0.0.1:${instance.port}`))
      await use({
        url: nginx.url,
        nginx,
        instances,
        async connectionCounts() {
          const running = instances.filter((instance) => instance.running)
          const counts = await Promise.all(running.map((instance) => instance.connections()))
          return new Map(running.map((instance, i) => [instance, counts[i]!]))
        },
        startInstance(name) {
          const instance = startInstance(name, services)
          extra.push(instance)
          return instance
        },
      })
    } finally {
      await nginx?.stop()
      for (const result of [...started, ...(await Promise.allSettled(extra))]) {
        if (result.status === 'fulfilled') await result.value.dispose()
      }
    }
  },

  openTab: async ({ browser, cluster }, use) => {
    const contexts: BrowserContext[] = []
    await use(async (name, options) => {
      const before = await cluster.connectionCounts()
      const context = await browser.newContext({ baseURL: cluster.url })
      contexts.push(context)
      await DocPage.setUser(context, options.user)
      const page = await context.newPage()
      const tab = Object.assign(new DocPage(page), { context, instance: cluster.instances[0] }) as ClusterTab
      await tab.open(name)
      tab.instance = await landedOn(cluster, before)
      if (options.on && tab.instance !== options.on) await placeOn(cluster, tab, options.on)
      return tab
    })
    for (const context of contexts) await context.close().catch(() => undefined)
  },

  reloadTab: async ({ cluster }, use) => {
    await use(async (tab, options = {}) => {
      if (options.on) return placeOn(cluster, tab, options.on)
      const before = await countsWithout(cluster, tab)
      await tab.page.reload()
      await tab.waitSynced()
      tab.instance = await landedOn(cluster, before)
    })
  },
})

/** The connection counts before `tab` connected: its instance's count minus its own connection. */
async function countsWithout(cluster: Cluster, tab: ClusterTab): Promise<Map<ClusterInstance, number>> {
  const counts = await cluster.connectionCounts()
  const own = counts.get(tab.instance)
  if (own !== undefined) counts.set(tab.instance, own - 1)
  return counts
}

/** Reloads `tab` until its WebSocket reaches `instance`. */
async function placeOn(cluster: Cluster, tab: ClusterTab, instance: ClusterInstance): Promise<void> {
  for (let attempt = 1; attempt <= 12; attempt++) {
    const before = await countsWithout(cluster, tab)
    await tab.page.reload()
    await tab.waitSynced()
    tab.instance = await landedOn(cluster, before)
    if (tab.instance === instance) {
      console.log(`[cluster] nginx sent the tab to instance ${instance.name} after ${attempt} reload(s)`)
      return
    }
  }
  throw new Error(`nginx never sent the tab to instance ${instance.name} in 12 reloads`)
}

/**
 * The instance a tab that just synced is connected to: the one whose /healthz count is one above `before`, once
 * every other count is back at `before` (a reloaded tab's old connection may take a moment to close).
 */
async function landedOn(cluster: Cluster, before: Map<ClusterInstance, number>): Promise<ClusterInstance> {
  let now = new Map<ClusterInstance, number>()
  let landed: ClusterInstance | undefined
  const counts = () => [...now].map(([instance, count]) => `${instance.name}: ${before.get(instance)} -> ${count}`)
  await waitFor(
    () => `exactly one new connection on one instance, /healthz says ${counts().join(', ')}`,
    async () => {
      now = await cluster.connectionCounts()
      const grew = [...now].filter(([instance, count]) => count === (before.get(instance) ?? 0) + 1)
      const same = [...now].filter(([instance, count]) => count === (before.get(instance) ?? 0))
      if (grew.length === 1 && grew.length + same.length === now.size) landed = grew[0]![0]
      return landed !== undefined
    },
    10_000,
    25,
  )
  return landed!
}

export { expect } from '@playwright/test'
