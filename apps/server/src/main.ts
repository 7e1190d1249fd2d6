import { existsSync } from 'node:fs'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname, resolve } from 'node:path'
import type { Duplex } from 'node:stream'
import { fileURLToPath } from 'node:url'
import type { Cluster } from '@collab/cluster'
import {
  type Authenticate,
  clientAddress,
  createSyncServer,
  parseTrustedProxies,
  type SyncServerOptions,
} from '@collab/server'
import { type DocStore, LevelDocStore } from '@collab/storage'
import type { Logger } from 'pino'
import { jwtAuthenticate, randomSecret, TokenVerifier } from './auth.js'
import type { ServerConfig } from './config.js'
import type { HttpAuth } from './http-context.js'
import { createRequestHandler } from './http-routes.js'
import { MeteredDocStore } from './metered-store.js'
import { ServerMetrics } from './metrics.js'
import { type RequestPolicy, refusalOf, refuseUpgrade } from './request-guard.js'

/** Options of {@link startServer}: the configuration, a logger, and engine overrides for tests. */
export type StartOptions = Pick<ServerConfig, 'host' | 'port' | 'dataDir'> &
  Partial<Omit<ServerConfig, 'host' | 'port' | 'dataDir'>> & {
    logger: Logger
    /** Overrides of the sync engine's timings and limits (tests shorten them). */
    sync?: Omit<SyncServerOptions, 'store' | 'logger'>
    /**
     * An open store to serve instead of the LevelDB directory at `dataDir` (tests, embedding). The server closes
     * it on shutdown.
     */
    store?: DocStore
  }

/** A running server. */
export interface RunningServer {
  /** `http://host:port` with the real port. */
  url: string
  port: number
  /** The server's metrics registry, as `/metrics` shows it. */
  metrics: ServerMetrics
  /**
   * Graceful shutdown: refuses new connections, flushes every document, closes storage. Until the flush is done,
   * HTTP still answers, with `/readyz` at 503.
   */
  close(): Promise<void>
}

/** The default of `--max-body-bytes`. */
const defaultMaxBodyBytes = 16 * 1024 * 1024
/** A name no document can have (control characters are refused), read by the readiness check. */
const probeName = '\u0000readyz'
const storageCheckMs = 2_000

const defaultWebRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../web/dist')

/** Opens the store, starts HTTP and WebSocket on one port, and resolves once it is listening. */
export async function startServer(options: StartOptions): Promise<RunningServer> {
  const { logger } = options
  const auth = authFrom(options, logger)
  const policy = requestPolicyFrom(options, logger)
  const trustProxy = options.trustProxy ?? []
  // Throws RangeError on a bad entry; loadConfig has already refused those with a message naming the setting.
  const trustedProxies = trustProxy.length > 0 ? parseTrustedProxies(trustProxy) : null
  const metrics = new ServerMetrics()
  // With DATABASE_URL / REDIS_URL the documents live in PostgreSQL and instances relay through Redis (ARCHITECTURE.md,
  // "Several instances"); otherwise the embedded LevelDB directory.
  // The cluster package (ioredis, pg) is loaded only then: the default server does not pay for it at start.
  const cluster: Cluster =
    options.redisUrl || options.databaseUrl
      ? await (await import('@collab/cluster')).clusterFromConfig({
          redisUrl: options.redisUrl,
          databaseUrl: options.databaseUrl,
          logger,
        })
      : { close: async () => {} }
  const store = new MeteredDocStore(
    options.store ?? cluster.store ?? (await LevelDocStore.open({ path: options.dataDir, logger })),
    metrics,
  )
  const sync = createSyncServer({
    store,
    logger,
    ...(cluster.relay && { relay: cluster.relay }),
    observer: metrics.observer,
    ...(auth.authenticate && { authenticate: auth.authenticate }),
    ...(policy.allowedOrigins && { allowedOrigins: [...policy.allowedOrigins] }),
    // The engine's per-address connection limit counts the same client address as the request logs ([PX1]).
    trustedProxies: trustProxy,
    limits: {
      ...(options.maxMessageBytes !== undefined && { maxMessageBytes: options.maxMessageBytes }),
      ...(options.messagesPerSecond !== undefined && {
        messagesPerSecond: options.messagesPerSecond,
        messageBurst: options.messagesPerSecond,
      }),
      ...(options.bytesPerSecond !== undefined && {
        bytesPerSecond: options.bytesPerSecond,
        byteBurst: options.bytesPerSecond * 8,
      }),
      ...(options.connectionsPerAddress !== undefined && { connectionsPerAddress: options.connectionsPerAddress }),
    },
    ...(options.pingIntervalMs !== undefined && { pingIntervalMs: options.pingIntervalMs }),
    ...(options.connectionTimeoutMs !== undefined && { connectionTimeoutMs: options.connectionTimeoutMs }),
    ...(options.roomGraceMs !== undefined && { roomGraceMs: options.roomGraceMs }),
    ...options.sync,
  })
  metrics.watch({ rooms: () => sync.roomCount, connections: () => sync.connectionCount })
  const webRoot = options.webRoot ?? (existsSync(defaultWebRoot) ? defaultWebRoot : undefined)
  let shuttingDown = false
  const handler = createRequestHandler({
    store,
    sync,
    logger,
    webRoot,
    auth: auth.http,
    metrics,
    metricsToken: options.metricsToken,
    maxBodyBytes: options.maxBodyBytes ?? defaultMaxBodyBytes,
    trustedProxies,
    policy,
    isShuttingDown: () => shuttingDown,
    stats: () => ({ rooms: sync.roomCount, connections: sync.connectionCount }),
    checkStorage: () => checkStorage(store),
  })
  const http = createServer(handler)
  // Requests with `Expect: 100-continue` come here instead of `request`; the handler refuses a body announced too
  // large before the client sends it, and sends "100 Continue" itself otherwise.
  http.on('checkContinue', handler)
  // The Host check comes before the engine sees an upgrade, as before every HTTP route ([SD1]). The Origin check
  // ([SD2], [OR1]) is the engine's, with the same allowlist: it opens the WebSocket and closes it with 4403, a code
  // the refused page can read, where an HTTP 403 would look to it like a network failure.
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const refusal = refusalOf(req, policy, false)
    if (refusal === null) return sync.handleUpgrade(req, socket, head)
    logger.warn(
      { host: req.headers.host, origin: req.headers.origin, remote: clientAddress(req, trustedProxies) },
      `upgrade refused: ${refusal.reason} not allowed`,
    )
    metrics.upgradeRefused(refusal.reason)
    refuseUpgrade(socket, refusal)
  })
  try {
    await new Promise<void>((resolvePromise, reject) => {
      http.once('error', reject)
      http.listen(options.port, options.host, () => {
        http.off('error', reject)
        resolvePromise()
      })
    })
  } catch (err) {
    await sync.close()
    await cluster.close()
    await store.close()
    metrics.clear()
    throw err
  }
  const port = (http.address() as AddressInfo).port
  const url = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`
  let closing: Promise<void> | null = null
  return {
    url,
    port,
    metrics,
    close() {
      closing ??= (async () => {
        // HTTP keeps answering while the engine flushes (the engine refuses new WebSockets meanwhile), so load
        // balancers see /readyz turn 503 rather than a refused connection.
        shuttingDown = true
        await sync.close()
        const httpClosed = new Promise<void>((resolvePromise) => http.close(() => resolvePromise()))
        http.closeAllConnections()
        await httpClosed
        await cluster.close()
        await store.close()
        metrics.clear()
      })()
      return closing
    },
  }
}

/** Builds token verification from the configuration, and says loudly when there is none ([AU5]). */
function authFrom(options: StartOptions, logger: Logger): { authenticate: Authenticate | null; http: HttpAuth } {
  const secret = options.authSecret ?? (options.devTokens ? randomSecret() : undefined)
  const jwt = {
    secret,
    publicKey: options.authPublicKey,
    issuer: options.authIssuer,
    audience: options.authAudience,
    maxLifetimeSeconds: options.maxTokenLifetime,
  }
  if (!secret && !options.authPublicKey) {
    logger.warn(
      'AUTHENTICATION IS OFF: anyone who can reach this port can read and change every document. ' +
        'Fine on your own machine; elsewhere set AUTH_SECRET or AUTH_PUBLIC_KEY (docs/SECURITY.md).',
    )
    return { authenticate: null, http: { verifier: null, devTokens: null } }
  }
  const verifier = new TokenVerifier(jwt)
  if (options.maxTokenLifetime === 0) {
    logger.warn(
      'TOKEN LIFETIME IS UNLIMITED (--max-token-lifetime 0): tokens without "exp" are accepted forever, and a ' +
        'leaked one cannot be made to expire short of changing the key (docs/SECURITY.md).',
    )
  }
  if (options.devTokens) {
    logger.warn(
      'DEVELOPMENT TOKENS ARE ON: /api/dev-token gives anyone who asks a token for every document. ' +
        'Never enable this on a server others can reach.',
    )
  }
  return {
    authenticate: jwtAuthenticate(verifier),
    http: { verifier, devTokens: options.devTokens && secret ? { ...jwt, secret } : null },
  }
}

/** The Host and Origin rules of the configuration; warns when the Host check is off ([SD1]). */
function requestPolicyFrom(options: StartOptions, logger: Logger): RequestPolicy {
  const allowedHosts = options.allowedHosts ?? []
  if (allowedHosts.includes('*')) {
    logger.warn(
      'HOST CHECK IS OFF (--allowed-hosts *): a web page can reach this server through DNS rebinding. ' +
        'List the names it is reached by instead (docs/SECURITY.md).',
    )
  }
  const origins = options.allowedOrigins ?? []
  return { allowedHosts, allowedOrigins: origins.length > 0 ? new Set(origins) : null }
}

/**
 * The readiness check of storage: the last write batch succeeded (`flush` rejects otherwise) and a read of a
 * document that cannot exist returns, both within a deadline.
 */
async function checkStorage(store: DocStore): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<string>((resolvePromise) => {
    timer = setTimeout(() => resolvePromise(`storage did not answer within ${storageCheckMs} ms`), storageCheckMs)
  })
  const check = Promise.all([store.flush(), store.load(probeName)]).then(
    () => null,
    (err: unknown) => (err instanceof Error ? err.message : String(err)),
  )
  try {
    return await Promise.race([check, deadline])
  } finally {
    clearTimeout(timer)
  }
}
