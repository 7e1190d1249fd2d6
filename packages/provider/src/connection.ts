import {
  Capability,
  CloseCode,
  decodeMessage,
  encodeHello,
  encodePing,
  encodePong,
  isTerminalCloseCode,
  type Message,
} from '@collab/protocol'
import { type BackoffPolicy, backoffDelay, defaultBackoff } from './backoff.js'
import { type ConnectionTarget, connectionTarget } from './connection-target.js'
import { defaultHeartbeat, type HeartbeatPolicy, heartbeatVerdict } from './heartbeat.js'
import { SaveAccounting } from './save-accounting.js'
import { type ProviderStatus, sameStatus } from './status.js'

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
}

type StatusListener = (status: ProviderStatus) => void

const clientCapabilities = [Capability.Heartbeat, Capability.SaveAck]

/**
 * One document's WebSocket to the collab server, kept alive: hello, heartbeat pings, reconnects with backoff and
 * jitter, terminal close codes, save acknowledgements and the status a UI shows. What is synced over it is the
 * business of its {@link SyncChannel}.
 */
export class Connection {
  private readonly options: ConnectionOptions
  private readonly channel: SyncChannel
  private readonly params: Readonly<Record<string, string>>
  private readonly heartbeat: HeartbeatPolicy
  private readonly backoff: BackoffPolicy
  private readonly minHealthyMs: number
  private readonly WebSocketImpl: typeof WebSocket
  private readonly listeners = new Set<StatusListener>()
  private currentStatus: ProviderStatus = { connection: 'offline', unsaved: false, readOnly: false, error: null }

  private ws: WebSocket | null = null
  /** Incremented by every connect and disconnect, so an attempt still resolving its token knows it is stale. */
  private attempt = 0
  private wantConnected = false
  private destroyed = false
  private failures = 0
  private retryTimer: ReturnType<typeof setTimeout> | null = null
  private connectTimer: ReturnType<typeof setTimeout> | null = null
  private heartbeatTimer: ReturnType<typeof setInterval> | null = null
  private openedAt = 0
  private lastHeardAt = 0
  private lastPingAt = 0
  private synced = false
  /** Whether the 4401 retry with a fresh token was used since the server last let us in. */
  private retriedAuth = false
  /** The server refused the last token; the token source is told so it fetches a fresh one. */
  private refusedToken = false
  /** Capabilities the server answered with, or null until (unless) it answers our hello. */
  private serverCapabilities: ReadonlySet<string> | null = null
  /** Which local changes the server has acknowledged as stored ([SA1]); told of every document message. */
  private readonly saves = new SaveAccounting()

  /**
   * `params` are query parameters of the document URL (`{ sync: 'ot' }`). Does not connect: the owner calls
   * {@link Connection.connect} once its channel is ready.
   */
  constructor(options: ConnectionOptions, channel: SyncChannel, params: Readonly<Record<string, string>> = {}) {
    this.options = options
    this.channel = channel
    this.params = params
    this.heartbeat = { ...defaultHeartbeat, ...options.heartbeat }
    this.backoff = { ...defaultBackoff, ...options.backoff }
    this.minHealthyMs = options.minHealthyMs ?? 5_000
    const WebSocketImpl = options.WebSocketImpl ?? globalThis.WebSocket
    if (!WebSocketImpl) {
      throw new TypeError('CollabProvider: no WebSocket implementation; in Node 20 pass WebSocketImpl from "ws"')
    }
    this.WebSocketImpl = WebSocketImpl
    if (typeof window !== 'undefined') {
      window.addEventListener('online', this.onBrowserOnline)
      window.addEventListener('offline', this.onBrowserOffline)
      document.addEventListener('visibilitychange', this.onVisibilityChange)
    }
  }

  /** The current status; {@link Connection.onStatus} tells when it changes. */
  get status(): ProviderStatus {
    return this.currentStatus
  }

  /** Whether a socket exists (open or opening). */
  get hasSocket(): boolean {
    return this.ws !== null
  }

  /** Calls `listener` with every status change; returns a function that unsubscribes it. */
  onStatus(listener: StatusListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Connects, and keeps reconnecting until {@link Connection.disconnect}. Clears a terminal error. */
  connect(): void {
    if (this.destroyed) throw new Error('CollabProvider: connect() after destroy()')
    this.wantConnected = true
    if (this.ws) return
    this.clearRetry()
    void this.open(++this.attempt)
  }

  /** Closes the connection and stops reconnecting. */
  disconnect(): void {
    this.wantConnected = false
    this.attempt++
    this.clearRetry()
    const ws = this.ws
    if (ws) {
      this.socketGone(ws, 1000, 'disconnected by the application')
      ws.close(1000)
    } else this.update({ connection: 'offline' })
  }

  /**
   * Refuses to connect for a reason found on this side (a broken setup): status `offline` with `error`
   * `{ code: 0, reason }`, and no attempt until {@link Connection.connect}.
   */
  fail(reason: string): void {
    this.disconnect()
    this.update({ connection: 'offline', error: { code: 0, reason } })
  }

  /** Closes the connection and releases every timer and listener. */
  destroy(): void {
    if (this.destroyed) return
    this.disconnect()
    this.destroyed = true
    if (typeof window !== 'undefined') {
      window.removeEventListener('online', this.onBrowserOnline)
      window.removeEventListener('offline', this.onBrowserOffline)
      document.removeEventListener('visibilitychange', this.onVisibilityChange)
    }
    this.listeners.clear()
  }

  /** Sends `message` if the socket is open; false when it is not (the message is dropped). */
  send(message: Uint8Array): boolean {
    const ws = this.ws
    if (!ws || ws.readyState !== this.WebSocketImpl.OPEN) return false
    ws.send(message)
    return true
  }

  /**
   * The channel received the server's state (sync step 2, `welcome`): the status becomes `synced`, and the
   * server counts as having let us in.
   */
  markSynced(): void {
    if (this.synced || !this.ws) return
    this.synced = true
    // The server let us in, so the next 4401 (an expiry) deserves a fresh-token retry again.
    this.retriedAuth = false
    this.refusedToken = false
    // A server that did not answer hello (a stock y-websocket server) sends no acknowledgements; what it has
    // received is the best we can know.
    if (this.serverCapabilities === null) this.serverCapabilities = new Set()
    this.refreshSaved()
    this.update({ connection: 'synced' })
  }

  /** A local change exists that no message has carried yet: unsaved until a carrier is acknowledged. */
  changeNotSent(): void {
    this.saves.changeNotSent()
    this.refreshSaved()
  }

  /** A document message ([SA1]) carrying one new local change was sent. */
  updateSent(): void {
    this.saves.updateSent()
    this.refreshSaved()
  }

  /**
   * A document message ([SA1]) carrying every local change no earlier message on this connection carried was
   * sent: a sync step 2, or a push of every unconfirmed OT update.
   */
  carrierSent(): void {
    this.saves.syncStep2Sent()
    this.refreshSaved()
  }

  private async open(attempt: number): Promise<void> {
    // While the browser reports no network, attempts go on quietly and the status stays "offline".
    this.update({ connection: browserIsOffline() ? 'offline' : 'connecting', error: null })
    let target: ConnectionTarget
    try {
      target = connectionTarget(this.options.serverUrl, this.options.docName, await this.currentToken(), this.params)
    } catch (err) {
      if (attempt !== this.attempt) return
      this.report('the token callback failed; retrying', err)
      this.failures++
      this.scheduleRetry()
      return
    }
    if (attempt !== this.attempt || !this.wantConnected) return
    let ws: WebSocket
    try {
      ws =
        target.protocols.length > 0
          ? new this.WebSocketImpl(target.url, target.protocols)
          : new this.WebSocketImpl(target.url)
    } catch (err) {
      // An unparsable URL will not parse better on the next try.
      this.wantConnected = false
      this.update({ connection: 'offline', error: { code: 0, reason: `invalid server URL: ${String(err)}` } })
      return
    }
    ws.binaryType = 'arraybuffer'
    this.ws = ws
    this.connectTimer = setTimeout(() => {
      this.connectTimer = null
      if (this.ws === ws) this.abandon(ws, 'no answer from the server while connecting')
    }, this.options.connectTimeoutMs ?? 10_000)
    ws.onopen = () => this.onOpen(ws)
    ws.onmessage = (event: MessageEvent) => this.onSocketMessage(ws, event.data)
    ws.onclose = (event: CloseEvent) => this.socketGone(ws, event.code, event.reason)
    // An error is always followed by close, which is where it is handled.
    ws.onerror = () => undefined
  }

  /** The token for this attempt; a token source is told whether the server just refused the previous one. */
  private async currentToken(): Promise<string | undefined> {
    if (typeof this.options.token !== 'function') return this.options.token
    return this.options.token({ afterRefusal: this.refusedToken })
  }

  private onOpen(ws: WebSocket): void {
    if (ws !== this.ws) return
    const now = Date.now()
    this.openedAt = now
    this.lastHeardAt = now
    this.lastPingAt = 0
    this.synced = false
    this.serverCapabilities = null
    this.send(encodeHello(clientCapabilities))
    this.runChannel('opening the sync', () => this.channel.opened())
    this.heartbeatTimer = setInterval(() => this.checkHeartbeat(), this.heartbeat.checkEveryMs)
    this.update({ connection: 'connected' })
  }

  private onSocketMessage(ws: WebSocket, data: unknown): void {
    if (ws !== this.ws) return
    this.lastHeardAt = Date.now()
    this.clearConnectTimer()
    if (!(data instanceof ArrayBuffer)) return
    const decoded = decodeMessage(new Uint8Array(data))
    if (!decoded.ok) {
      this.report(`ignoring a message the server sent: ${decoded.error}`)
      return
    }
    this.handle(decoded.message)
  }

  private handle(message: Message): void {
    switch (message.type) {
      case 'hello':
        this.serverCapabilities = new Set(message.capabilities)
        this.update({ readOnly: this.serverCapabilities.has(Capability.ReadOnly) })
        this.refreshSaved()
        return
      case 'ping':
        this.send(encodePong())
        return
      case 'saved':
        this.saves.savedReceived(message.count)
        this.refreshSaved()
        return
      case 'pong':
        // Only refreshes lastHeardAt.
        return
      case 'auth-denied':
        // Followed by a close with the reason.
        return
      default:
        this.runChannel(`handling a ${message.type} message`, () => this.channel.received(message))
    }
  }

  /** Recomputes `unsaved` from what was sent and what the server acknowledged. */
  private refreshSaved(): void {
    const acknowledges = this.serverCapabilities?.has(Capability.SaveAck) ?? false
    // Without acknowledgements, a change counts as saved once it is sent on a synced connection.
    if (!acknowledges && this.serverCapabilities !== null && this.synced) this.saves.acknowledgeAllSent()
    this.update({ unsaved: this.saves.unsaved })
  }

  private checkHeartbeat(): void {
    const ws = this.ws
    if (!ws || ws.readyState !== this.WebSocketImpl.OPEN) return
    // Servers that did not announce the heartbeat extension must never see a ping message ([EX1]).
    if (!this.serverCapabilities?.has(Capability.Heartbeat)) return
    const now = Date.now()
    const verdict = heartbeatVerdict(now, this.lastHeardAt, this.lastPingAt, this.heartbeat)
    if (verdict === 'ping') {
      this.lastPingAt = now
      this.send(encodePing())
    } else if (verdict === 'dead') {
      this.abandon(ws, `no answer from the server for ${now - this.lastHeardAt} ms`)
    }
  }

  /**
   * Gives up on a socket without waiting for its close event: on a silent network the closing handshake never
   * completes, and the browser would keep it "closing" for a long time.
   */
  private abandon(ws: WebSocket, reason: string): void {
    this.socketGone(ws, 4000, reason)
    try {
      ws.close(4000, 'connection timed out')
    } catch (err) {
      this.report('closing an abandoned socket failed', err)
    }
  }

  private socketGone(ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.ws) return
    ws.onopen = null
    ws.onmessage = null
    ws.onclose = null
    this.ws = null
    this.clearConnectTimer()
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer)
    this.heartbeatTimer = null
    this.saves.connectionClosed()
    this.synced = false
    this.runChannel('closing the sync', () => this.channel.closed())
    // An expired token is the usual 4401: with a token callback, try once more at once with a fresh token.
    if (code === CloseCode.NotAuthenticated && typeof this.options.token === 'function' && !this.retriedAuth) {
      this.retriedAuth = true
      this.refusedToken = true
      this.update({ connection: 'connecting' })
      if (this.wantConnected) void this.open(++this.attempt)
      return
    }
    if (isTerminalCloseCode(code)) {
      this.wantConnected = false
      this.update({ connection: 'offline', error: { code, reason: reason || `closed with ${code}` } })
      this.refreshSaved()
      return
    }
    const healthy = this.openedAt > 0 && Date.now() - this.openedAt >= this.minHealthyMs
    this.failures = healthy ? 0 : this.failures + 1
    this.openedAt = 0
    this.update({ connection: this.wantConnected && !browserIsOffline() ? 'connecting' : 'offline' })
    this.refreshSaved()
    if (this.wantConnected) this.scheduleRetry()
  }

  private scheduleRetry(): void {
    this.clearRetry()
    const delay = backoffDelay(this.failures, this.backoff)
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null
      if (this.wantConnected && !this.ws) void this.open(++this.attempt)
    }, delay)
  }

  private clearConnectTimer(): void {
    if (this.connectTimer) clearTimeout(this.connectTimer)
    this.connectTimer = null
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer)
    this.retryTimer = null
  }

  /** Retries at once instead of waiting out the backoff. */
  private retryNow(): void {
    if (!this.wantConnected || this.ws || this.destroyed) return
    this.clearRetry()
    void this.open(++this.attempt)
  }

  private readonly onBrowserOnline = (): void => this.retryNow()

  private readonly onBrowserOffline = (): void => {
    // The browser knows the network is gone; the socket cannot be alive, so say so now rather than in 6 s.
    if (this.ws) this.abandon(this.ws, 'the browser went offline')
    else this.update({ connection: 'offline' })
  }

  private readonly onVisibilityChange = (): void => {
    if (document.visibilityState !== 'visible') return
    if (!this.ws) this.retryNow()
    else if (this.serverCapabilities?.has(Capability.Heartbeat)) {
      // A tab coming back from the background may hold a socket that died meanwhile: ask now.
      this.lastPingAt = Date.now()
      this.send(encodePing())
    }
  }

  private update(change: Partial<ProviderStatus>): void {
    const next = { ...this.currentStatus, ...change }
    if (sameStatus(next, this.currentStatus)) return
    this.currentStatus = next
    for (const listener of [...this.listeners]) {
      try {
        listener(next)
      } catch (err) {
        this.report('a status listener threw', err)
      }
    }
  }

  /**
   * The channel's work runs here: a failure is logged, not thrown into the socket's event handler, and (for a
   * message) costs that message only. The Yjs channel never throws on its own; the OT channel validates its input.
   */
  private runChannel(what: string, work: () => void): void {
    try {
      work()
    } catch (err) {
      this.report(`${what} failed`, err)
    }
  }

  private report(message: string, err?: unknown): void {
    console.error(`[collab] ${message}`, ...(err === undefined ? [] : [err]))
  }
}

/** Whether the browser says it has no network; never true outside browsers. */
function browserIsOffline(): boolean {
  return typeof navigator !== 'undefined' && navigator.onLine === false
}
