import { existsSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Authenticate, createSyncServer, type SyncServerOptions } from '@collab/server'
import { LevelDocStore } from '@collab/storage'
import type { Logger } from 'pino'
import { jwtAuthenticate, randomSecret, TokenVerifier } from './auth.js'
import type { ServerConfig } from './config.js'
import { createRequestHandler, type HttpAuth } from './http-routes.js'

/** Options of {@link startServer}: the configuration, a logger, and engine overrides for tests. */
export type StartOptions = Pick<ServerConfig, 'host' | 'port' | 'dataDir'> &
  Partial<Omit<ServerConfig, 'host' | 'port' | 'dataDir'>> & {
    logger: Logger
    /** Overrides of the sync engine's timings and limits (tests shorten them). */
    sync?: Omit<SyncServerOptions, 'store' | 'logger'>
  }

/** A running server. */
export interface RunningServer {
  /** `http://host:port` with the real port. */
  url: string
  port: number
  /** Graceful shutdown: refuses new connections, flushes every document, closes storage. */
  close(): Promise<void>
}

const defaultWebRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../web/dist')

/** Opens the store, starts HTTP and WebSocket on one port, and resolves once it is listening. */
export async function startServer(options: StartOptions): Promise<RunningServer> {
  const { logger } = options
  const auth = authFrom(options, logger)
  const store = await LevelDocStore.open({ path: options.dataDir })
  const sync = createSyncServer({
    store,
    logger,
    ...(auth.authenticate && { authenticate: auth.authenticate }),
    ...(options.allowedOrigins && { allowedOrigins: options.allowedOrigins }),
    trustProxy: options.trustProxy ?? false,
    limits: {
      ...(options.maxMessageBytes !== undefined && { maxMessageBytes: options.maxMessageBytes }),
      ...(options.messagesPerSecond !== undefined && {
        messagesPerSecond: options.messagesPerSecond,
        messageBurst: options.messagesPerSecond * 10,
      }),
      ...(options.bytesPerSecond !== undefined && {
        bytesPerSecond: options.bytesPerSecond,
        byteBurst: options.bytesPerSecond * 8,
      }),
      ...(options.connectionsPerAddress !== undefined && { connectionsPerAddress: options.connectionsPerAddress }),
    },
    ...options.sync,
  })
  const webRoot = options.webRoot ?? (existsSync(defaultWebRoot) ? defaultWebRoot : undefined)
  let shuttingDown = false
  const http = createServer(
    createRequestHandler({
      store,
      logger,
      webRoot,
      auth: auth.http,
      isShuttingDown: () => shuttingDown,
      stats: () => ({ rooms: sync.roomCount, connections: sync.connectionCount }),
    }),
  )
  sync.attach(http)
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
    await store.close()
    throw err
  }
  const port = (http.address() as AddressInfo).port
  const url = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`
  let closing: Promise<void> | null = null
  return {
    url,
    port,
    close() {
      closing ??= (async () => {
        shuttingDown = true
        const httpClosed = new Promise<void>((resolvePromise) => http.close(() => resolvePromise()))
        await sync.close()
        http.closeAllConnections()
        await httpClosed
        await store.close()
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
  }
  if (!secret && !options.authPublicKey) {
    logger.warn(
      'AUTHENTICATION IS OFF: anyone who can reach this port can read and change every document. ' +
        'Fine on your own machine; elsewhere set AUTH_SECRET or AUTH_PUBLIC_KEY (docs/SECURITY.md).',
    )
    return { authenticate: null, http: { verifier: null, devTokens: null } }
  }
  const verifier = new TokenVerifier(jwt)
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
