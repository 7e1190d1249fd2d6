import { createSyncServer, type SyncServer, type SyncServerOptions } from '@collab/server'
import { type LoopbackServer, listenOnLoopback } from '@collab/test-support'
import { type Logger, pino } from 'pino'
import { WebSocket } from 'ws'
import type { Teardown } from './teardown.js'

/**
 * A sync server in this process, on a real HTTP server on a loopback port. Its `crash()` pairs with
 * {@link SlowDiskStore.crash}, so nothing more reaches the disk either.
 */
export type InProcessServer = LoopbackServer<SyncServer>

/**
 * Starts the sync engine on a free port, or on `port` (a restart the clients should find at the same URL); closed
 * by `teardown`.
 */
export function startInProcessServer(
  options: SyncServerOptions,
  teardown: Teardown,
  port = 0,
): Promise<InProcessServer> {
  return listenOnLoopback(createSyncServer(options), { port, teardown })
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
