import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { Capability, CloseCode, decodeMessage, docNameError, encodeHello, encodePong } from '@collab/protocol'
import { mergeUpdatesViaDoc } from '@collab/storage'
import { pino } from 'pino'
import { type RawData, type WebSocket, WebSocketServer } from 'ws'
import * as Y from 'yjs'
import { collabSubprotocol, tokenFromRequest } from './auth.js'
import { Connection } from './connection.js'
import { defaultLimits, type Limits } from './limits.js'
import { type ResolvedSyncServerOptions, type SyncServerOptions, syncServerDefaults } from './options.js'
import { Room, type RoomContext } from './room.js'

/** Capabilities this server understands, answered to a client's `Hello` ([EX1]). */
const serverCapabilities = [Capability.Heartbeat, Capability.SaveAck]

/** The sync engine, attached to an HTTP server of the embedding app. */
export interface SyncServer {
  /** Handles an HTTP upgrade request: the document is the URL path, `ws://host/<docName>`. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void
  /** Routes every `upgrade` event of `server` to {@link SyncServer.handleUpgrade}. */
  attach(server: Server): void
  /** The room of a loaded document, if any. */
  getRoom(name: string): Room | undefined
  /** Number of documents loaded. */
  readonly roomCount: number
  /**
   * A document's state as one Yjs update: from the live room when it is loaded, else from storage; `null` for a
   * document that does not exist. Throws RangeError for an invalid name, DocumentUnreadableError for damaged data.
   */
  getDocument(name: string): Promise<Uint8Array | null>
  /**
   * Applies an update as if a client had sent it: connected clients see it at once, and it is stored. Resolves once
   * it is durable. Throws (and changes nothing) when the update does not decode or the name is invalid.
   */
  applyUpdate(name: string, update: Uint8Array): Promise<void>
  /**
   * Closes the document's connections (4404, "document deleted") and removes it from storage. Resolves to whether
   * it existed.
   */
  deleteDocument(name: string): Promise<boolean>
  /** Number of open connections. */
  readonly connectionCount: number
  /**
   * Graceful shutdown: refuses new connections, closes the open ones with 1001, flushes and unloads every room.
   * The store stays open; its owner closes it.
   */
  close(): Promise<void>
}

/** Creates the sync engine. It serves nothing until attached to an HTTP server (or fed upgrades). */
export function createSyncServer(options: SyncServerOptions): SyncServer {
  const limits: Limits = {
    ...defaultLimits,
    ...stripUndefined(options.limits ?? {}),
    ...(options.maxMessageBytes !== undefined && { maxMessageBytes: options.maxMessageBytes }),
  }
  return new SyncServerImpl({
    store: options.store,
    relay: options.relay ?? null,
    logger: options.logger ?? pino({ level: 'silent' }),
    authenticate: options.authenticate ?? null,
    allowedOrigins: options.allowedOrigins ? new Set(options.allowedOrigins) : null,
    trustProxy: options.trustProxy ?? false,
    limits,
    observer: options.observer ?? {},
    pingIntervalMs: options.pingIntervalMs ?? syncServerDefaults.pingIntervalMs,
    connectionTimeoutMs: options.connectionTimeoutMs ?? syncServerDefaults.connectionTimeoutMs,
    roomGraceMs: options.roomGraceMs ?? syncServerDefaults.roomGraceMs,
  })
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}

class SyncServerImpl implements SyncServer {
  private readonly wss: WebSocketServer
  private readonly rooms = new Map<string, Room>()
  private readonly unloading = new Map<string, Promise<void>>()
  private readonly idleTimers = new Map<Room, NodeJS.Timeout>()
  /** Every open connection, and the room of those that passed authentication. */
  private readonly connections = new Map<Connection, Room | null>()
  private readonly perAddress = new Map<string, number>()
  private readonly sweepTimer: NodeJS.Timeout
  private readonly roomContext: RoomContext
  private closing: Promise<void> | null = null

  constructor(private readonly options: ResolvedSyncServerOptions) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.limits.maxMessageBytes,
      // permessage-deflate costs 7-9x throughput on keystroke-sized messages (STACK.md trap 13).
      perMessageDeflate: false,
      // Our client offers `collab` plus `token.<token>`; answering `collab` completes its handshake.
      handleProtocols: (protocols) => (protocols.has(collabSubprotocol) ? collabSubprotocol : false),
    })
    this.roomContext = {
      store: options.store,
      logger: options.logger,
      limits: options.limits,
      observer: options.observer,
      relay: options.relay,
      onIdle: (room) => this.onRoomIdle(room),
      onDeletedElsewhere: (room) => this.closeDeletedRoom(room),
    }
    this.sweepTimer = setInterval(() => this.sweepConnections(), options.pingIntervalMs)
    this.sweepTimer.unref()
  }

  get roomCount(): number {
    return this.rooms.size
  }

  get connectionCount(): number {
    return this.connections.size
  }

  getRoom(name: string): Room | undefined {
    return this.rooms.get(name)
  }

  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.handleUpgrade(req, socket, head))
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.closing) {
      this.options.observer.connectionRefused?.('shutdown', 503)
      refuseUpgrade(socket, 503, 'Service Unavailable')
      return
    }
    const origin = req.headers.origin
    if (origin !== undefined && this.options.allowedOrigins && !this.options.allowedOrigins.has(origin)) {
      this.options.logger.warn({ origin }, 'upgrade refused: origin not allowed')
      this.options.observer.connectionRefused?.('origin', 403)
      refuseUpgrade(socket, 403, 'Forbidden')
      return
    }
    const address = this.clientAddress(req)
    const { name, error } = docNameFromUrl(req.url ?? '/')
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      // Browsers cannot read the HTTP status of a refused upgrade, so refusals after this point are close codes.
      if (error !== null) {
        this.options.logger.info({ url: req.url?.split('?')[0], error }, 'connection refused: bad document name')
        this.options.observer.connectionRefused?.('name', CloseCode.UnknownDocument)
        ws.close(CloseCode.UnknownDocument, error.slice(0, 120))
        return
      }
      if ((this.perAddress.get(address) ?? 0) >= this.options.limits.connectionsPerAddress) {
        this.options.logger.warn({ remote: address }, 'connection refused: too many connections from this address')
        this.options.observer.connectionRefused?.('address', CloseCode.RateLimited)
        ws.close(CloseCode.RateLimited, 'too many connections from this address')
        return
      }
      this.admit(ws, req, name, address)
    })
  }

  private clientAddress(req: IncomingMessage): string {
    if (this.options.trustProxy) {
      const forwarded = req.headers['x-forwarded-for']
      const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim()
      if (first) return first
    }
    return req.socket.remoteAddress ?? 'unknown'
  }

  /** Registers a connection, authenticates it, then lets it into its document's room. */
  private admit(ws: WebSocket, req: IncomingMessage, docName: string, address: string): void {
    const conn = new Connection(ws, docName, address, this.options.limits, this.options.observer)
    this.connections.set(conn, null)
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1)
    // Messages that arrive while the auth hook decides wait here, bounded by the rate limits.
    const early: Array<{ data: RawData; isBinary: boolean }> = []
    ws.on('message', (data, isBinary) => {
      if (this.connections.get(conn)) this.onMessage(conn, data, isBinary)
      else if (conn.closed) return
      // Charged as they arrive: however long the hook takes, what waits stays within the budget ([AU1], [LM2]).
      else if (!conn.withinRate(rawDataBytes(data), Date.now())) {
        this.refuse(conn, CloseCode.RateLimited, 'rate limit exceeded')
      } else early.push({ data, isBinary })
    })
    ws.on('pong', () => {
      conn.lastSeen = Date.now()
    })
    ws.on('error', (err) => {
      this.options.logger.warn({ conn: conn.id, doc: docName, err: err.message }, 'connection error')
    })
    ws.on('close', (code) => {
      conn.closed = true
      this.forget(conn)
      this.options.observer.connectionClosed?.(code, Date.now() - conn.openedAt)
      this.options.logger.info(
        { conn: conn.id, doc: docName, code, ms: Date.now() - conn.openedAt, user: conn.user },
        'connection closed',
      )
    })
    const join = () => {
      if (conn.closed) return
      const room = this.roomFor(docName)
      this.connections.set(conn, room)
      room.add(conn)
      this.options.observer.connectionOpened?.(conn.access)
      this.options.logger.info(
        { conn: conn.id, doc: docName, remote: address, user: conn.user, access: conn.access },
        'connection opened',
      )
      for (const { data, isBinary } of early.splice(0)) this.onMessage(conn, data, isBinary, true)
    }
    const authenticate = this.options.authenticate
    if (!authenticate) {
      join()
      return
    }
    const request = { docName, token: tokenFromRequest(req), remoteAddress: address, headers: req.headers }
    Promise.resolve()
      .then(() => authenticate(request))
      .then(
        (result) => {
          if (conn.closed) return
          if (!result.ok) {
            // The reason is ours or the hook's; the token itself never reaches a log line.
            this.options.logger.warn(
              { doc: docName, remote: address, code: result.code, reason: result.reason },
              'connection refused: authentication',
            )
            this.options.observer.connectionRefused?.('auth', result.code)
            this.closeConnection(conn, result.code, result.reason)
            return
          }
          conn.access = result.access
          conn.user = result.user
          conn.expiresAt = result.expiresAt
          join()
        },
        (err: unknown) => {
          this.options.logger.error(
            { doc: docName, remote: address, err: err instanceof Error ? err.message : String(err) },
            'the authenticate hook failed',
          )
          this.options.observer.connectionRefused?.('auth-error', CloseCode.RetryLater)
          this.closeConnection(conn, CloseCode.RetryLater, 'authentication unavailable')
        },
      )
  }

  /** Removes a connection from its room and the counts, once. */
  private forget(conn: Connection): void {
    if (!this.connections.has(conn)) return
    const room = this.connections.get(conn)
    this.connections.delete(conn)
    const left = (this.perAddress.get(conn.remoteAddress) ?? 1) - 1
    if (left > 0) this.perAddress.set(conn.remoteAddress, left)
    else this.perAddress.delete(conn.remoteAddress)
    room?.remove(conn)
  }

  /** Closes a connection with a code and forgets it at once rather than when the close handshake ends. */
  private closeConnection(conn: Connection, code: number, reason: string): void {
    conn.close(code, reason)
    this.forget(conn)
  }

  /** Handles one message; `charged` when it was already charged against the rate limits (it waited for auth). */
  private onMessage(conn: Connection, data: RawData, isBinary: boolean, charged = false): void {
    const now = Date.now()
    conn.lastSeen = now
    if (conn.closed) return
    const bytes = data instanceof Uint8Array ? data.length : 0
    if (!isBinary || !(data instanceof Uint8Array)) {
      this.options.observer.messageReceived?.('invalid', bytes)
      this.refuse(conn, CloseCode.BadMessage, 'text messages are not part of the protocol')
      return
    }
    const decoded = decodeMessage(data)
    if (!decoded.ok) {
      this.options.observer.messageReceived?.('invalid', bytes)
      this.refuse(conn, CloseCode.BadMessage, decoded.error)
      return
    }
    const message = decoded.message
    // An echoed awareness message costs its bytes but not a message ([LM2]): see Room.takeEcho.
    const echo = message.type === 'awareness' && this.connections.get(conn)?.takeEcho(conn, message.entries) === true
    if (!charged && !conn.withinRate(data.length, now, echo ? 0 : 1)) {
      this.refuse(conn, CloseCode.RateLimited, 'rate limit exceeded')
      return
    }
    this.options.observer.messageReceived?.(message.type, bytes)
    // Connection-level messages are answered at once, even while the document loads: a slow load must not
    // look like a dead server to the client's heartbeat. Updates that came before them are applied first ([SU4]).
    if (message.type === 'hello' || message.type === 'ping' || message.type === 'pong') {
      this.connections.get(conn)?.applyPendingUpdates()
    }
    switch (message.type) {
      case 'hello':
        conn.capabilities = new Set(message.capabilities)
        conn.send(
          encodeHello(conn.access === 'read' ? [...serverCapabilities, Capability.ReadOnly] : serverCapabilities),
        )
        return
      case 'ping':
        conn.send(encodePong())
        return
      case 'pong':
        return
      default:
        this.connections.get(conn)?.receive(conn, message)
    }
  }

  private refuse(conn: Connection, code: number, error: string): void {
    this.options.logger.warn({ conn: conn.id, doc: conn.docName, code, error }, 'closing the connection')
    this.closeConnection(conn, code, error)
  }

  private roomFor(name: string): Room {
    const existing = this.rooms.get(name)
    if (existing?.isLive) {
      const timer = this.idleTimers.get(existing)
      if (timer) {
        clearTimeout(timer)
        this.idleTimers.delete(existing)
      }
      return existing
    }
    const room = new Room(name, this.roomContext, this.unloading.get(name))
    this.rooms.set(name, room)
    return room
  }

  private onRoomIdle(room: Room): void {
    if (!room.isLive) {
      this.unloadRoom(room)
      return
    }
    if (this.idleTimers.has(room)) return
    const timer = setTimeout(() => {
      this.idleTimers.delete(room)
      if (room.connections.size === 0) this.unloadRoom(room)
    }, this.options.roomGraceMs)
    timer.unref()
    this.idleTimers.set(room, timer)
  }

  private unloadRoom(room: Room, options: { compact?: boolean } = {}): Promise<void> {
    const timer = this.idleTimers.get(room)
    if (timer) clearTimeout(timer)
    this.idleTimers.delete(room)
    if (this.rooms.get(room.name) === room) this.rooms.delete(room.name)
    const started = performance.now()
    const previous = this.unloading.get(room.name)
    const unloaded: Promise<void> = Promise.all([previous, room.unload(options)]).then(() => {
      const ms = performance.now() - started
      this.options.observer.roomUnloaded?.(ms)
      this.options.logger.info({ doc: room.name, ms: Math.round(ms) }, 'room unloaded')
      if (this.unloading.get(room.name) === unloaded) this.unloading.delete(room.name)
    })
    this.unloading.set(room.name, unloaded)
    return unloaded
  }

  /**
   * Pings every connection, terminates those silent for longer than the timeout ([LV1]) and closes those whose
   * credentials expired ([AU4]).
   */
  private sweepConnections(): void {
    const now = Date.now()
    for (const conn of this.connections.keys()) {
      if (now - conn.lastSeen > this.options.connectionTimeoutMs) {
        this.options.logger.info({ conn: conn.id, doc: conn.docName, silentMs: now - conn.lastSeen }, 'connection dead')
        conn.ws.terminate()
        this.forget(conn)
      } else if (conn.expiresAt !== undefined && now >= conn.expiresAt) {
        this.refuse(conn, CloseCode.NotAuthenticated, 'credentials expired')
      } else if (conn.ws.readyState === conn.ws.OPEN) {
        conn.ws.ping()
      }
    }
  }

  async getDocument(name: string): Promise<Uint8Array | null> {
    const error = docNameError(name)
    if (error) throw new RangeError(error)
    const room = this.rooms.get(name)
    if (room?.isReady) return Y.encodeStateAsUpdate(room.doc)
    await this.unloading.get(name)
    const updates = await this.options.store.load(name)
    if (updates.length === 0) return null
    return updates.length === 1 && updates[0] ? updates[0] : mergeUpdatesViaDoc(updates)
  }

  async applyUpdate(name: string, update: Uint8Array): Promise<void> {
    const error = docNameError(name)
    if (error) throw new RangeError(error)
    if (this.closing) throw new Error('the server is shutting down')
    // Checked before a room is loaded for it: a bad update must not even create the document.
    Y.decodeUpdate(update)
    const room = this.roomFor(name)
    try {
      await room.loaded
      await room.applyUpdate(update, 'api')
    } finally {
      if (room.connections.size === 0) this.onRoomIdle(room)
    }
  }

  async deleteDocument(name: string): Promise<boolean> {
    const error = docNameError(name)
    if (error) throw new RangeError(error)
    const room = this.rooms.get(name)
    for (const [conn, joined] of this.connections) {
      if (joined === room && room) this.closeConnection(conn, CloseCode.UnknownDocument, 'document deleted')
    }
    // Pending writes finish first (without a pointless compaction), so nothing lands after the delete.
    if (room) await this.unloadRoom(room, { compact: false })
    await this.unloading.get(name)
    const existed = room !== undefined || (await this.options.store.load(name)).length > 0
    await this.options.store.delete(name)
    this.options.relay?.publishDeleted(name)
    return existed
  }

  /** Another instance deleted the document: its connections here are told so and the room goes, unsaved. */
  private closeDeletedRoom(room: Room): void {
    if (this.rooms.get(room.name) !== room) return
    this.options.logger.info({ doc: room.name }, 'document deleted by another instance')
    for (const [conn, joined] of this.connections) {
      if (joined === room) this.closeConnection(conn, CloseCode.UnknownDocument, 'document deleted')
    }
    void this.unloadRoom(room, { compact: false })
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  private async shutdown(): Promise<void> {
    clearInterval(this.sweepTimer)
    const sockets = [...this.connections.keys()].map((conn) => conn.ws)
    const allClosed = Promise.all(
      sockets.map((ws) => new Promise<void>((resolve) => ws.once('close', () => resolve()))),
    )
    for (const conn of this.connections.keys()) conn.close(CloseCode.GoingAway, 'server shutting down')
    await Promise.all([...this.rooms.values()].map((room) => this.unloadRoom(room)))
    await Promise.all(this.unloading.values())
    await this.options.store.flush().catch((err: unknown) => {
      this.options.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'final store flush failed')
    })
    // A peer that never answers the close frame must not hold the shutdown up.
    let timeout: NodeJS.Timeout | undefined
    await Promise.race([allClosed, new Promise<void>((resolve) => (timeout = setTimeout(resolve, 1_000)))])
    clearTimeout(timeout)
    for (const ws of sockets) ws.terminate()
    this.wss.close()
  }
}

function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
}

/** The document name of an upgrade URL: its path without the leading `/`, percent-decoded. */
export function docNameFromUrl(url: string): { name: string; error: string | null } {
  const path = url.split('?')[0] ?? ''
  let name: string
  try {
    name = decodeURIComponent(path.slice(1))
  } catch {
    return { name: '', error: 'document name is not valid percent-encoding' }
  }
  return { name, error: docNameError(name) }
}

/** Bytes of a received message, however ws delivered it. */
function rawDataBytes(data: RawData): number {
  return Array.isArray(data) ? data.reduce((sum, chunk) => sum + chunk.length, 0) : data.byteLength
}
