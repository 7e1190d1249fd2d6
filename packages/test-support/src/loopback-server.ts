import { createServer, type RequestListener, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Teardown } from './teardown.js'

/**
 * What serves WebSockets on an HTTP server: the sync engine of `createSyncServer` (@collab/server). Stated by
 * shape because the engine's own tests use this package, which therefore cannot depend on it.
 */
export interface AttachableServer {
  attach(http: Server): void
  /** Closes every connection (clients get 1001) and flushes the rooms. */
  close(): Promise<void>
}

export interface LoopbackServerOptions {
  /** 0 (the default) picks a free port; a given port is a restart that clients should find at the same URL. */
  port?: number
  /** Answers plain HTTP requests; without it they are never answered. */
  onRequest?: RequestListener
  /** Closes the server when the test ends. */
  teardown?: Teardown
}

/** A sync engine in this process on an HTTP server listening on 127.0.0.1. */
export interface LoopbackServer<Sync extends AttachableServer> {
  /** `ws://127.0.0.1:<port>`, the base URL of every document. */
  url: string
  port: number
  sync: Sync
  /** The HTTP server the engine is attached to, for tests that watch upgrades or raw sockets. */
  http: Server
  /** Graceful shutdown: the engine closes (clients get 1001), then the HTTP server. Idempotent. */
  close(): Promise<void>
  /**
   * Dies like a killed process: every socket is destroyed at once and the engine is abandoned without flushing
   * anything. Idempotent, and a later {@link LoopbackServer.close} does nothing more.
   */
  crash(): Promise<void>
}

/** Attaches `sync` to a new HTTP server and resolves once that listens on 127.0.0.1 (a free port by default). */
export async function listenOnLoopback<Sync extends AttachableServer>(
  sync: Sync,
  options: LoopbackServerOptions = {},
): Promise<LoopbackServer<Sync>> {
  const http = options.onRequest ? createServer(options.onRequest) : createServer()
  const sockets = new Set<Socket>()
  http.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  sync.attach(http)
  await new Promise<void>((resolve) => http.listen(options.port ?? 0, '127.0.0.1', resolve))
  const port = (http.address() as AddressInfo).port
  let closing: Promise<void> | null = null
  const server: LoopbackServer<Sync> = {
    url: `ws://127.0.0.1:${port}`,
    port,
    sync,
    http,
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => http.close(() => resolve()))
        await sync.close()
        http.closeAllConnections()
        await closed
      })()
      return closing
    },
    crash() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => http.close(() => resolve()))
        for (const socket of sockets) socket.destroy()
        await closed
      })()
      return closing
    },
  }
  options.teardown?.defer(() => server.close())
  return server
}
