import { createServer } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { createSyncServer, type SyncServer, type SyncServerOptions } from '@collab/server'
import { type Logger, pino } from 'pino'
import { WebSocket } from 'ws'
import type { Teardown } from './teardown.js'

/** A sync server in this process, on a real HTTP server on a loopback port. */
export interface InProcessServer {
  /** `ws://127.0.0.1:<port>` */
  url: string
  port: number
  sync: SyncServer
  /** Graceful shutdown: clients get 1001, rooms are flushed. Idempotent. */
  close(): Promise<void>
  /**
   * Dies like a killed process: every socket is destroyed at once and the engine is abandoned without flushing
   * anything (pair it with {@link SlowDiskStore.crash} so nothing more reaches the disk either).
   */
  crash(): Promise<void>
}

/**
 * Starts the sync engine on a free port, or on `port` (a restart the clients should find at the same URL); closed
 * by `teardown`.
 */
export async function startInProcessServer(
  options: SyncServerOptions,
  teardown: Teardown,
  port = 0,
): Promise<InProcessServer> {
  const http = createServer()
  const sockets = new Set<Socket>()
  http.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  const sync = createSyncServer(options)
  sync.attach(http)
  await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve))
  const actualPort = (http.address() as AddressInfo).port
  let closing: Promise<void> | null = null
  const server: InProcessServer = {
    url: `ws://127.0.0.1:${actualPort}`,
    port: actualPort,
    sync,
    crash() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => http.close(() => resolve()))
        for (const socket of sockets) socket.destroy()
        await closed
      })()
      return closing
    },
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => http.close(() => resolve()))
        await sync.close()
        http.closeAllConnections()
        await closed
      })()
      return closing
    },
  }
  teardown.defer(() => server.close())
  return server
}

/** One JSON line the server logged. */
export interface LogLine {
  level: number
  msg: string
  doc?: string
  err?: string
  [field: string]: unknown
}

/** A pino logger that keeps every line, for tests that check what an operator would read. */
export function capturingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = []
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as LogLine) })
  return { logger, lines }
}

/** pino's number for `error`. */
export const errorLevel = 50

/** A bare WebSocket on a document that only records how the server closed it. */
export async function watchClose(
  url: string,
  teardown: Teardown,
): Promise<{ closed: Promise<{ code: number; at: number }> }> {
  const ws = new WebSocket(url)
  teardown.defer(() => ws.terminate())
  const closed = new Promise<{ code: number; at: number }>((resolve) =>
    ws.once('close', (code) => resolve({ code, at: Date.now() })),
  )
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
  })
  return { closed }
}
