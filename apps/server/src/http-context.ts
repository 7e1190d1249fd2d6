import type { IncomingMessage, ServerResponse } from 'node:http'
import type { BlockList } from 'node:net'
import type { SyncServer } from '@collab/server'
import type { DocStore } from '@collab/storage'
import type { Logger } from 'pino'
import type { JwtAuthOptions, TokenVerifier } from './auth.js'
import type { ServerMetrics } from './metrics.js'
import type { RequestPolicy } from './request-guard.js'

// What an HTTP route handler receives. The route table (http-routes.ts) and the handler modules (docs-api.ts,
// client-api.ts, operator-api.ts) import these types and this module imports none of them, so a handler module
// never has to import the table that refers to it.

/** Token checks for the HTTP API: the same tokens as the WebSocket. */
export interface HttpAuth {
  /** `null` when authentication is off. */
  verifier: TokenVerifier | null
  /** Signing options when development tokens are on, else `null`. */
  devTokens: (JwtAuthOptions & { secret: string }) | null
}

/** What the HTTP routes need from the running server. */
export interface HttpContext {
  store: DocStore
  /** The engine's document API: reads see live edits, writes reach connected clients. */
  sync: Pick<SyncServer, 'getDocument' | 'applyUpdate' | 'deleteDocument'> &
    Partial<Pick<SyncServer, 'versions'>> &
    /** The HTTP transport ([HT1]); contexts that serve only the document API leave it out. */
    Partial<Pick<SyncServer, 'handleHttpSync'>>
  logger: Logger
  webRoot: string | undefined
  auth: HttpAuth
  metrics: ServerMetrics
  /** When set, `/metrics` needs it as a Bearer token. */
  metricsToken: string | undefined
  /** Largest request body. */
  maxBodyBytes: number
  /** The proxies whose `X-Forwarded-For` gives the client address in request logs ([PX1]); `null`: none. */
  trustedProxies: BlockList | null
  /** The host names and origins requests may come with ([SD1], [SD2]). */
  policy: RequestPolicy
  /** Live figures for /healthz. */
  stats(): { rooms: number; connections: number }
  isShuttingDown(): boolean
  /** A cheap storage check for /readyz: `null` when storage answers, else what is wrong. */
  checkStorage(): Promise<string | null>
}

/** One request as its log line sees it, beyond what the request itself says. */
export interface RequestInfo {
  /** Echoed as `X-Request-Id` and logged. */
  readonly id: string
  /** The token's subject, set by the handler that verified it. */
  user?: string | undefined
}

/** The values of a route pattern's `:name` segments, still percent-encoded: the handler decides what a bad one means. */
export type RouteParams = Readonly<Record<string, string>>

/** One request a route matched. */
export interface RouteRequest {
  req: IncomingMessage
  res: ServerResponse
  info: RequestInfo
  params: RouteParams
}

/**
 * Answers one request. A rejection is answered with 500 and logged, except `ClientGoneError` (http-io.ts), which
 * means nobody is left to answer.
 */
export type RouteHandler = (ctx: HttpContext, request: RouteRequest) => void | Promise<void>
