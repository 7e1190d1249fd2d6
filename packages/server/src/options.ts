import type { DocStore } from '@collab/storage'
import type { Logger } from 'pino'

/** Options of {@link createSyncServer}. */
export interface SyncServerOptions {
  /** Where documents are loaded from and appended to. The server flushes it on close but does not close it. */
  store: DocStore
  /** Structured logger; a silent one by default. */
  logger?: Logger
  /**
   * How often the server sends WebSocket ping frames, in ms. Default 2,500. With the default timeout a dead
   * client is terminated, and its presence removed for everyone else, within 9 s ([LV1]).
   */
  pingIntervalMs?: number
  /** A connection silent (no message, no pong) for longer than this is terminated. Default 6,000 ms. */
  connectionTimeoutMs?: number
  /** How long a room with no connections stays loaded before it is flushed and unloaded. Default 10,000 ms. */
  roomGraceMs?: number
  /** Largest accepted message in bytes; larger ones close the connection with 1009. Default 16 MiB. */
  maxMessageBytes?: number
}

export type ResolvedSyncServerOptions = Required<SyncServerOptions>

export const syncServerDefaults = {
  pingIntervalMs: 2_500,
  connectionTimeoutMs: 6_000,
  roomGraceMs: 10_000,
  maxMessageBytes: 16 * 1024 * 1024,
} as const
