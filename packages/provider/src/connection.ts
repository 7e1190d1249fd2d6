import {
  Capability,
  CloseCode,
  decodeMessage,
  docNameError,
  encodeHello,
  encodePing,
  encodePong,
  isTerminalCloseCode,
  type Message,
} from '@collab/protocol'
import { type BackoffPolicy, backoffDelay, defaultBackoff } from './backoff.js'
import type { ConnectionOptions, SyncChannel } from './connection-options.js'
import { connectionTarget } from './connection-target.js'
import { defaultHeartbeat, type HeartbeatPolicy, heartbeatVerdict } from './heartbeat.js'
import { httpEndpoint, openHttpTransport } from './http-transport.js'
import { SaveAccounting } from './save-accounting.js'
import { type ProviderStatus, sameStatus } from './status.js'
import type { Transport } from './transport.js'
import { defaultProbeBackoff, WebSocketProbe } from './websocket-probe.js'
import { openWebSocketTransport } from './websocket-transport.js'

export type { ConnectionOptions, SyncChannel, TokenSource } from './connection-options.js'

type StatusListener = (status: ProviderStatus) => void

const clientCapabilities = [Capability.Heartbeat, Capability.SaveAck]

/**
 * A WebSocket that opened but has not been heard gets this many times the fallback delay in all before HTTP is
 * opened beside it: 6 s by default.
 */
const silentOpenFallbackFactor = 4

/**
 * One document's connection to the collab server, kept alive: hello, heartbeat pings, reconnects with backoff and
 * jitter, terminal close codes, save acknowledgements and the status a UI shows. It runs over a WebSocket, or over
 * HTTP long-polling where the network refuses WebSocket ([HT1]): see {@link ConnectionOptions.transports}. What is
 * synced over it is the business of its {@link SyncChannel}.
 */
export class Connection {
  private readonly options: ConnectionOptions
  private readonly channel: SyncChannel
  private readonly params: Readonly<Record<string, string>>
  /** What hello announces: the connection's capabilities and the channel's. */
  private readonly capabilities: readonly string[]
  private readonly heartbeat: HeartbeatPolicy
  private readonly backoff: BackoffPolicy
  private readonly minHealthyMs: number
  private readonly WebSocketImpl: typeof WebSocket
  private readonly fetchImpl: typeof fetch | null
  private readonly listeners = new Set<StatusListener>()
  private currentStatus: ProviderStatus = {
    connection: 'offline',
    unsaved: false,
    readOnly: false,
    error: null,
    transport: 'websocket',
  }

  /** The transport the connection runs on (open, or opening), or null between attempts. */
  private live: Transport | null = null
  /** Whether {@link Connection.live} has opened (hello and the channel's opening messages went out on it). */
  private liveOpen = false
  /** Whether the server has been heard on {@link Connection.live}. */
  private liveHeard = false
  /** The WebSocket attempt (or return to WebSocket) running beside an HTTP connection. */
  private readonly probe: WebSocketProbe
  /** A WebSocket did not open on this network: attempts start with HTTP, and WebSocket is tried beside it. */
  private preferHttp = false
  /** A WebSocket reached the server in this provider's life, and how many attempts in a row have not since. */
  private webSocketWorked = false
  private webSocketMisses = 0
  /** Incremented by every connect and disconnect, so an attempt still resolving its token knows it is stale. */
  private attempt = 0
  private wantConnected = false
  private destroyed = false
  private failures = 0
  private retryTimer: ReturnType<typeof setTimeout> | null = null
  private connectTimer: ReturnType<typeof setTimeout> | null = null
  private fallbackTimer: ReturnType<typeof setTimeout> | null = null
  /**
   * Document messages ([SA1]) a transport carried while it was live, kept for one that may become live again: the
   * WebSocket the HTTP fallback outlasted keeps its chance with the probe, and the server numbers its messages on.
   */
  private readonly numberedOn = new WeakMap<Transport, number>()
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
    this.capabilities = [...clientCapabilities, ...(channel.capabilities ?? [])]
    this.heartbeat = { ...defaultHeartbeat, ...options.heartbeat }
    this.backoff = { ...defaultBackoff, ...options.backoff }
    this.minHealthyMs = options.minHealthyMs ?? 5_000
    const WebSocketImpl = options.WebSocketImpl ?? globalThis.WebSocket
    if (!WebSocketImpl) {
      throw new TypeError('CollabProvider: no WebSocket implementation; in Node 20 pass WebSocketImpl from "ws"')
    }
    this.WebSocketImpl = WebSocketImpl
    const transports = options.transports ?? ['websocket', 'http']
    // A channel that cannot restate its state at every poll (the OT client) stays on WebSocket ([HT1]).
    const httpAllowed = transports.includes('http') && channel.pollState !== undefined
    this.fetchImpl = httpAllowed ? (options.fetchImpl ?? globalThis.fetch?.bind(globalThis) ?? null) : null
    if (!transports.includes('websocket')) {
      this.preferHttp = true
      this.currentStatus = { ...this.currentStatus, transport: 'http' }
    }
    this.probe = new WebSocketProbe({
      policy: { ...defaultProbeBackoff, ...options.websocketRetry },
      answerTimeoutMs: options.connectTimeoutMs ?? 10_000,
      hello: () => encodeHello(this.capabilities),
      open: () => this.openProbe(),
      answered: (ws, first) => this.moveToWebSocket(ws, first),
    })
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

  /** Whether a transport exists (open or opening). */
  get hasSocket(): boolean {
    return this.live !== null
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
    if (this.live) return
    this.clearRetry()
    void this.open(++this.attempt)
  }

  /** Closes the connection and stops reconnecting. */
  disconnect(): void {
    this.wantConnected = false
    this.attempt++
    this.clearRetry()
    this.probe.stop()
    const live = this.live
    if (live) {
      this.transportGone(live, 1000, 'disconnected by the application')
      live.close(1000, 'disconnected by the application')
    } else this.update({ connection: 'offline' })
  }

  /**
   * Refuses to connect for a reason found on this side (a broken setup): status `offline` with `error`
   * `{ code, reason }` (code 0 unless the reason is one a server close code names, such as 4404 for a document
   * the server no longer has), and no attempt until {@link Connection.connect}.
   */
  fail(reason: string, code = 0): void {
    this.disconnect()
    this.update({ connection: 'offline', error: { code, reason } })
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

  /** Sends `message` if the connection is open; false when it is not (the message is dropped). */
  send(message: Uint8Array): boolean {
    const live = this.live
    if (!live || !this.liveOpen || !live.isOpen) return false
    live.send(message)
    return true
  }

  /**
   * The channel received the server's state (sync step 2, `welcome`): the status becomes `synced`, and the
   * server counts as having let us in.
   */
  markSynced(): void {
    if (this.synced || !this.live) return
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

  private get httpAvailable(): boolean {
    return this.fetchImpl !== null
  }

  /**
   * Whether a WebSocket that did not reach the server hands over to HTTP now. Where a WebSocket never worked, at
   * once (a network that blocks it: the switch must be quick). Where one worked before, a miss is far more likely a
   * server that is restarting or slow under a reconnect storm than a network that started blocking WebSocket, and an
   * HTTP session would only add a second connection to that server: only from the second miss in a row.
   */
  private fallBackAfterMiss(): boolean {
    return this.httpAvailable && (!this.webSocketWorked || this.webSocketMisses >= 2)
  }

  private async open(attempt: number): Promise<void> {
    // While the browser reports no network, attempts go on quietly and the status stays "offline".
    this.update({ connection: browserIsOffline() ? 'offline' : 'connecting', error: null })
    let token: string | undefined
    try {
      token = await this.currentToken()
    } catch (err) {
      if (attempt !== this.attempt) return
      this.report('the token callback failed; retrying', err)
      this.failures++
      this.scheduleRetry()
      return
    }
    if (attempt !== this.attempt || !this.wantConnected) return
    if (this.preferHttp && this.httpAvailable) {
      this.openHttp(token)
      return
    }
    let ws: Transport
    try {
      ws = this.openWebSocket(token)
    } catch (err) {
      // An unparsable URL will not parse better on the next try.
      this.wantConnected = false
      this.update({ connection: 'offline', error: { code: 0, reason: `invalid server URL: ${String(err)}` } })
      return
    }
    this.startLive(ws)
    if (this.httpAvailable) {
      // A WebSocket the server has not answered by now may never work: a proxy holding the upgrade, or one that
      // completed it and holds every byte since. HTTP takes over, and this WebSocket keeps its chance beside it.
      const fallbackAfterMs = this.options.fallbackAfterMs ?? 1_500
      const fallBack = (silentWait: boolean) => {
        this.fallbackTimer = null
        if (this.live !== ws || this.liveHeard) return
        // A socket that opened reached a server that accepted the upgrade: most likely ours, busy (a thousand
        // clients connecting at once), rarely a proxy holding every byte. It gets longer before HTTP is opened
        // beside it, which would only add a connection to a busy server.
        if (this.liveOpen && silentWait) {
          this.fallbackTimer = setTimeout(() => fallBack(false), (silentOpenFallbackFactor - 1) * fallbackAfterMs)
          return
        }
        this.webSocketMisses++
        if (!this.fallBackAfterMiss()) return
        this.letGo(ws)
        this.endLive(ws)
        this.probe.adopt(ws)
        this.openHttp(token)
      }
      this.fallbackTimer = setTimeout(() => fallBack(true), fallbackAfterMs)
    }
  }

  /**
   * A WebSocket for the live connection or for the probe. Its events go to whichever of the two holds it when they
   * happen, so the probe's WebSocket becomes the live one without being rewired.
   */
  private openWebSocket(token: string | undefined): Transport {
    const target = connectionTarget(this.options.serverUrl, this.options.docName, token, this.params)
    const ws: Transport = openWebSocketTransport(target, this.WebSocketImpl, {
      opened: () => (ws === this.live ? this.transportOpened(ws) : this.probe.opened(ws)),
      message: (data) => (ws === this.live ? this.transportMessage(ws, data) : this.probe.message(ws, data)),
      closed: (code, reason) => (ws === this.live ? this.transportClosed(ws, code, reason) : this.probe.closed(ws)),
    })
    return ws
  }

  /** Starts an HTTP session as the live transport ([HT1]); WebSocket is tried again beside it. */
  private openHttp(token: string | undefined): void {
    const fetchImpl = this.fetchImpl
    const pollState = this.channel.pollState
    if (!fetchImpl || !pollState) return
    // `.` and `..` would be resolved away in the endpoint's path; the server refuses them anyway ([DN1]).
    const nameError = docNameError(this.options.docName)
    if (nameError !== null) {
      this.wantConnected = false
      this.update({ connection: 'offline', error: { code: CloseCode.UnknownDocument, reason: nameError } })
      return
    }
    let http: Transport
    try {
      http = openHttpTransport(
        {
          url: httpEndpoint(this.options.httpUrl ?? this.options.serverUrl, this.options.docName, this.params),
          token,
          fetch: fetchImpl,
          hello: encodeHello(this.capabilities),
          pollState: () => pollState.call(this.channel),
        },
        {
          opened: () => this.transportOpened(http),
          message: (data) => this.transportMessage(http, data),
          closed: (code, reason) => this.transportClosed(http, code, reason),
        },
      )
    } catch (err) {
      this.wantConnected = false
      this.update({ connection: 'offline', error: { code: 0, reason: `invalid server URL: ${String(err)}` } })
      return
    }
    this.startLive(http)
    if (this.options.transports?.includes('websocket') !== false) this.probe.start()
  }

  private startLive(transport: Transport): void {
    this.live = transport
    this.liveOpen = false
    this.liveHeard = false
    this.connectTimer = setTimeout(() => {
      this.connectTimer = null
      if (this.live === transport) this.abandon(transport, 'no answer from the server while connecting')
    }, this.options.connectTimeoutMs ?? 10_000)
  }

  /** A WebSocket for the probe, or null when this attempt cannot make one now (the token callback failed). */
  private async openProbe(): Promise<Transport | null> {
    const attempt = this.attempt
    try {
      const token = await this.currentToken()
      if (attempt !== this.attempt || !this.wantConnected) return null
      return this.openWebSocket(token)
    } catch (err) {
      this.report('trying WebSocket again failed', err)
      return null
    }
  }

  /** The token for this attempt; a token source is told whether the server just refused the previous one. */
  private async currentToken(): Promise<string | undefined> {
    if (typeof this.options.token !== 'function') return this.options.token
    return this.options.token({ afterRefusal: this.refusedToken })
  }

  private transportOpened(transport: Transport): void {
    if (transport !== this.live) return
    // The HTTP transport puts hello at the start of every request itself ([HT3]).
    this.begin(transport, transport.kind === 'websocket')
  }

  /** The live transport opened: hello (unless already sent), the channel's opening messages, the heartbeat. */
  private begin(transport: Transport, sendHello: boolean): void {
    const now = Date.now()
    this.liveOpen = true
    this.openedAt = now
    this.lastHeardAt = now
    this.lastPingAt = 0
    this.synced = false
    this.serverCapabilities = null
    if (transport.kind === 'websocket') this.preferHttp = false
    if (sendHello) this.send(encodeHello(this.capabilities))
    this.runChannel('opening the sync', () => this.channel.opened())
    this.heartbeatTimer = setInterval(() => this.checkHeartbeat(), this.heartbeat.checkEveryMs)
    // An HTTP session is connected once the server answered its first request (transportMessage).
    if (transport.kind === 'websocket') this.update({ connection: 'connected', transport: transport.kind })
  }

  /**
   * A WebSocket answered while the connection runs over HTTP: the connection moves to it. The HTTP session ends as
   * a closed connection would (what it carried without an acknowledgement rides in the WebSocket's sync step 2),
   * but the status goes straight from one transport to the other.
   */
  private moveToWebSocket(ws: Transport, firstMessage: Uint8Array): void {
    const old = this.live
    if (!this.wantConnected || (old !== null && old.kind !== 'http')) {
      ws.close(1000, 'not needed')
      return
    }
    if (old) {
      this.letGo(old)
      this.endLive(old)
      old.close(1000, 'moved to WebSocket')
    }
    this.clearRetry()
    this.failures = 0
    this.live = ws
    this.liveOpen = false
    this.liveHeard = false
    this.saves.resumeNumbering(this.numberedOn.get(ws) ?? 0)
    this.begin(ws, false)
    this.transportMessage(ws, firstMessage)
  }

  private transportMessage(transport: Transport, data: Uint8Array): void {
    if (transport !== this.live) return
    this.lastHeardAt = Date.now()
    this.liveHeard = true
    if (transport.kind === 'websocket') {
      this.webSocketWorked = true
      this.webSocketMisses = 0
    }
    this.clearConnectTimer()
    this.clearFallback()
    if (this.currentStatus.connection === 'connecting' || this.currentStatus.transport !== transport.kind) {
      // The server answered over HTTP: this network is one where that works, so later attempts start with it.
      if (transport.kind === 'http') this.preferHttp = true
      this.update({ connection: this.synced ? 'synced' : 'connected', transport: transport.kind })
    }
    const decoded = decodeMessage(data)
    if (!decoded.ok) {
      this.report(`ignoring a message the server sent: ${decoded.error}`)
      return
    }
    this.handle(decoded.message)
  }

  private transportClosed(transport: Transport, code: number, reason: string): void {
    if (transport !== this.live) return
    // A WebSocket that failed before opening (a refused upgrade reads as 1006, whatever the proxy answered): HTTP
    // may still reach the server, so it is tried at once.
    // A WebSocket that never reached the server counts as a miss (unless the fallback timer counted it already).
    if (transport.kind === 'websocket' && !this.liveHeard && this.fallbackTimer) this.webSocketMisses++
    if (!this.liveOpen && transport.kind === 'websocket' && code === 1006 && this.fallBackAfterMiss()) {
      this.live = null
      this.clearConnectTimer()
      this.clearFallback()
      const attempt = this.attempt
      void this.currentToken().then(
        (token) => {
          if (attempt === this.attempt && this.wantConnected && !this.live) this.openHttp(token)
        },
        (err: unknown) => {
          if (attempt !== this.attempt) return
          this.report('the token callback failed; retrying', err)
          this.failures++
          this.scheduleRetry()
        },
      )
      return
    }
    this.transportGone(transport, code, reason)
  }

  private handle(message: Message): void {
    switch (message.type) {
      case 'hello':
        this.serverCapabilities = new Set(message.capabilities)
        this.update({ readOnly: this.serverCapabilities.has(Capability.ReadOnly) })
        this.refreshSaved()
        this.runChannel('handling the hello', () => this.channel.helloAnswered?.(this.serverCapabilities!))
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
    const live = this.live
    if (!live || !this.liveOpen || !live.isOpen) return
    // Over HTTP an answered request is the heartbeat, and the transport gives up on one not answered in time ([HT8]).
    if (live.kind === 'http') return
    // Servers that did not announce the heartbeat extension must never see a ping message ([EX1]).
    if (!this.serverCapabilities?.has(Capability.Heartbeat)) return
    const now = Date.now()
    const verdict = heartbeatVerdict(now, this.lastHeardAt, this.lastPingAt, this.heartbeat)
    if (verdict === 'ping') {
      this.lastPingAt = now
      this.send(encodePing())
    } else if (verdict === 'dead') {
      this.abandon(live, `no answer from the server for ${now - this.lastHeardAt} ms`)
    }
  }

  /**
   * Gives up on a transport without waiting for its close event: on a silent network the closing handshake never
   * completes, and the browser would keep it "closing" for a long time.
   */
  private abandon(transport: Transport, reason: string): void {
    this.transportGone(transport, 4000, reason)
    transport.close(4000, 'connection timed out')
  }

  /**
   * The connection leaves the live transport for another while the first may still reach the server: it lets go of
   * what it holds there (this client's presence), so the server does not keep it for the old one until that times out.
   */
  private letGo(transport: Transport): void {
    if (transport !== this.live || !this.liveOpen) return
    const farewell = this.runChannel('handing over', () => this.channel.handOver?.()) ?? []
    for (const message of farewell) transport.send(message)
  }

  /** Everything that ends with the live transport, whether it failed or the connection moved on. */
  private endLive(transport: Transport): void {
    if (transport !== this.live) return
    const wasOpen = this.liveOpen
    this.live = null
    this.liveOpen = false
    this.clearConnectTimer()
    this.clearFallback()
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer)
    this.heartbeatTimer = null
    if (wasOpen) this.numberedOn.set(transport, this.saves.numbered)
    this.saves.connectionClosed()
    this.synced = false
    if (wasOpen) this.runChannel('closing the sync', () => this.channel.closed())
  }

  private transportGone(transport: Transport, code: number, reason: string): void {
    if (transport !== this.live) return
    this.endLive(transport)
    this.probe.stop()
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
      if (this.wantConnected && !this.live) void this.open(++this.attempt)
    }, delay)
  }

  private clearConnectTimer(): void {
    if (this.connectTimer) clearTimeout(this.connectTimer)
    this.connectTimer = null
  }

  private clearFallback(): void {
    if (this.fallbackTimer) clearTimeout(this.fallbackTimer)
    this.fallbackTimer = null
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer)
    this.retryTimer = null
  }

  /** Retries at once instead of waiting out the backoff. */
  private retryNow(): void {
    if (!this.wantConnected || this.live || this.destroyed) return
    this.clearRetry()
    void this.open(++this.attempt)
  }

  private readonly onBrowserOnline = (): void => this.retryNow()

  private readonly onBrowserOffline = (): void => {
    // The browser knows the network is gone; the transport cannot be alive, so say so now rather than in 6 s.
    if (this.live) this.abandon(this.live, 'the browser went offline')
    else this.update({ connection: 'offline' })
  }

  private readonly onVisibilityChange = (): void => {
    if (document.visibilityState !== 'visible') return
    if (!this.live) this.retryNow()
    else if (this.serverCapabilities?.has(Capability.Heartbeat)) {
      // A tab coming back from the background may hold a connection that died meanwhile: ask now.
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
   * The channel's work runs here: a failure is logged, not thrown into the transport's event handler, and (for a
   * message) costs that message only. The Yjs channel never throws on its own; the OT channel validates its input.
   */
  private runChannel<T>(what: string, work: () => T): T | undefined {
    try {
      return work()
    } catch (err) {
      this.report(`${what} failed`, err)
      return undefined
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
