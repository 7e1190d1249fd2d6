import type { CapabilityName, Message } from '@collab/protocol'
import type { BackoffPolicy } from './backoff.js'
import type { HeartbeatPolicy } from './heartbeat.js'
import type { TransportKind } from './transport.js'

/** How to reach the server and how to keep the connection alive; shared by the Yjs and the OT provider. */
export interface ConnectionOptions {
  /** `ws://host:port` or `wss://host`, without the document name. */
  serverUrl: string
  docName: string
  /**
   * Credentials for the server's authentication ([AU1]). A function is called before every connection attempt, so
   * it can refresh an expired token; `afterRefusal` is true when the server just refused the previous token (4401),
   * so a cached token must not be reused.
   */
  token?: string | TokenSource
  /** The WebSocket class; defaults to the global one (Node 20 has none: pass `WebSocket` from `ws`). */
  WebSocketImpl?: typeof WebSocket
  /** Connect at once. Default true. */
  connect?: boolean
  heartbeat?: Partial<HeartbeatPolicy>
  backoff?: Partial<BackoffPolicy>
  /**
   * A connection that closes sooner than this after opening counts as a failed attempt, so a server that accepts
   * and drops at once is retried with growing delays instead of in a tight loop. Default 5,000 ms.
   */
  minHealthyMs?: number
  /**
   * An attempt that has heard nothing from the server this long after it started is abandoned: a middlebox that
   * accepts TCP and never answers would otherwise hold it in "connecting" forever, since the heartbeat only
   * starts once the server answers. Default 10,000 ms.
   */
  connectTimeoutMs?: number
  /**
   * The transports the connection may use, in the order tried. Default both: WebSocket, and HTTP long-polling
   * ([HT1]) when a WebSocket cannot be established (refused, or not open after
   * {@link ConnectionOptions.fallbackAfterMs}) while plain HTTP reaches the server. `['websocket']` never polls;
   * `['http']` never tries WebSocket. The OT client always stays on WebSocket.
   */
  transports?: readonly TransportKind[]
  /**
   * Where the HTTP transport sends its requests: `http(s)://host[:port][/prefix]`. Default: `serverUrl` with
   * `ws` made `http` (`wss` made `https`), which is right whenever one server (or balancer) serves both.
   */
  httpUrl?: string
  /** The `fetch` of the HTTP transport; defaults to the global one (Node 18 and later have it). */
  fetchImpl?: typeof fetch
  /**
   * How long a WebSocket may take to open before the HTTP transport starts beside it; the WebSocket keeps its
   * chance and takes over if it opens. A WebSocket that opened but on which the server has not been heard gets four
   * times as long in all (more often a busy server than a proxy holding every byte). A refused upgrade falls back at
   * once. Default 1,500 ms.
   */
  fallbackAfterMs?: number
  /**
   * While on HTTP, WebSocket is tried again after `baseMs` plus a random part that doubles with every failure up
   * to `maxMs` (default 3 s and 30 s); the connection moves to the first WebSocket that answers.
   */
  websocketRetry?: Partial<BackoffPolicy>
}

/** A function that supplies the token for the next connection attempt. */
export type TokenSource = (attempt: { afterRefusal: boolean }) => string | Promise<string>

/**
 * The sync protocol spoken over a {@link Connection} (Yjs sync and awareness, or @codemirror/collab). The
 * connection handles hello, heartbeat and save acknowledgements itself and hands everything else here.
 */
export interface SyncChannel {
  /** The socket opened and our hello went out: start the sync (sync step 1, `join`). */
  opened(): void
  /** A message the connection does not handle itself (sync, awareness, collab). */
  received(message: Message): void
  /** The socket closed or was abandoned: nothing sent on it will be answered. */
  closed(): void
  /**
   * What the client holds, restated at the start of every HTTP poll ([HT1]): sync step 1 with its state vector, and
   * its presence. A channel without it (the OT client) never runs over HTTP.
   */
  pollState?(): Uint8Array[]
  /**
   * The connection moves to another transport: messages that let go of what the old one holds on the server (this
   * client's presence), sent on it before it closes.
   */
  handOver?(): Uint8Array[]
  /** Capabilities the channel asks for in hello, beside the connection's own (`incarnation`, [IN1]). */
  capabilities?: readonly CapabilityName[]
  /** The server answered hello with its capabilities ([EX1]); a server that does not answer never calls it. */
  helloAnswered?(capabilities: ReadonlySet<string>): void
}
