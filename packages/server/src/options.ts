import type { BlockList } from 'node:net'
import type { OtLogOptions } from '@collab/ot'
import type { DocStore } from '@collab/storage'
import type { Logger } from 'pino'
import type { Authenticate } from './auth.js'
import type { Limits } from './limits.js'
import type { SyncObserver } from './observer.js'
import type { DocRelay } from './relay.js'
import type { VersionRules } from './versions/version-policy.js'

/** Options of {@link createSyncServer}. */
export interface SyncServerOptions {
  /** Where documents are loaded from and appended to. The server flushes it on close but does not close it. */
  store: DocStore
  /**
   * Several instances: carries updates and presence between the instances that share `store` (which must then be
   * a shared store, such as PostgreSQL). Each room joins it for its document while loaded. The server does not
   * close it; its owner closes it after the server.
   */
  relay?: DocRelay
  /** Structured logger; a silent one by default. */
  logger?: Logger
  /**
   * Decides who may connect to which document and with what access. Without it every connection may write every
   * document, which is only fit for local use.
   */
  authenticate?: Authenticate
  /**
   * Origins (`https://app.example.com`) browsers may connect from; upgrades from other origins get HTTP 403.
   * Requests without an Origin header (non-browser clients) are not affected. Default: the server's own origin
   * (the `Host` of the request) and loopback origins only ([OR1]).
   */
  allowedOrigins?: readonly string[]
  /**
   * Addresses or CIDR ranges of the reverse proxies in front of the server. A request whose peer is one of them is
   * attributed to the rightmost `X-Forwarded-For` entry that is not; any other request to its peer address, so a
   * client that reaches the port directly cannot forge its address ([PX1]). Default: none trusted.
   */
  trustedProxies?: readonly string[]
  /** How long the `authenticate` hook may take before the connection is closed with 4503. Default 10,000 ms. */
  authTimeoutMs?: number
  limits?: Partial<Limits>
  /** Hooks for metrics (connections, messages, rooms, compactions). */
  observer?: SyncObserver
  /**
   * How often the server sends WebSocket ping frames, in ms. Default 2,500. With the default timeout a dead
   * client is terminated, and its presence removed for everyone else, within 9 s ([LV1]).
   */
  pingIntervalMs?: number
  /** A connection silent (no message, no pong) for longer than this is terminated. Default 6,000 ms. */
  connectionTimeoutMs?: number
  /** How long a room with no connections stays loaded before it is flushed and unloaded. Default 10,000 ms. */
  roomGraceMs?: number
  /** Largest accepted message in bytes; shorthand for `limits.maxMessageBytes`. */
  maxMessageBytes?: number
  /** The OT log's floor ([OT6]): entries kept by count and age, and the hard bound. Defaults: 1,000, 10 min, 20,000. */
  otLog?: OtLogOptions
  /**
   * When the server makes versions by itself ([VH1]; docs/OPERATIONS.md), or `false` for no version history.
   * Version history needs a store with side records and no relay: off in cluster mode.
   */
  versions?: Partial<VersionRules> | false
}

export interface ResolvedSyncServerOptions {
  store: DocStore
  relay: DocRelay | null
  logger: Logger
  authenticate: Authenticate | null
  allowedOrigins: ReadonlySet<string> | null
  trustedProxies: BlockList | null
  authTimeoutMs: number
  limits: Limits
  observer: SyncObserver
  pingIntervalMs: number
  connectionTimeoutMs: number
  roomGraceMs: number
  otLog: OtLogOptions
  versions: Partial<VersionRules> | false
}

export const syncServerDefaults = {
  pingIntervalMs: 2_500,
  connectionTimeoutMs: 6_000,
  roomGraceMs: 10_000,
  authTimeoutMs: 10_000,
} as const
