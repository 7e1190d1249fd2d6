import { existsSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createSyncServer, type SyncServerOptions } from '@collab/server'
import { LevelDocStore } from '@collab/storage'
import type { Logger } from 'pino'
import { createRequestHandler } from './http-routes.js'

/** Options of {@link startServer}. */
export interface StartOptions {
  host: string
  port: number
  dataDir: string
  logger: Logger
  /** Directory of the built web app; defaults to apps/web/dist of this checkout when it exists. */
  webRoot?: string | undefined
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
  const store = await LevelDocStore.open({ path: options.dataDir })
  const sync = createSyncServer({ ...options.sync, store, logger })
  const webRoot = options.webRoot ?? (existsSync(defaultWebRoot) ? defaultWebRoot : undefined)
  let shuttingDown = false
  const http = createServer(
    createRequestHandler({
      store,
      logger,
      webRoot,
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
