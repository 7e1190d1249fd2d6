import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { CloseCode, decodeMessage, docNameError } from '@collab/protocol'
import { mergeUpdatesViaDoc } from '@collab/storage'
import { pino } from 'pino'
import { type WebSocket, WebSocketServer } from 'ws'
import * as Y from 'yjs'
import { Admission, docNameFromUrl, type Refusal } from './admission.js'
import { type AuthResult, collabSubprotocol } from './auth.js'
import type { Channel, ChannelEvents } from './channel.js'
import { Connection, type SyncKind } from './connection.js'
import { createExceptionSink, type ExceptionSink, guarded, guardObserver } from './exception-sink.js'
import type { HttpSyncAnswer } from './http-channel.js'
import { HttpSessions, type HttpSyncRequest } from './http-sessions.js'
import { LoopShare } from './inbound-flow.js'
import { defaultLimits, type Limits } from './limits.js'
import { judgeConnection } from './liveness.js'
import { type ResolvedSyncServerOptions, type SyncServerOptions, syncServerDefaults } from './options.js'
import { parseTrustedProxies } from './request-policy.js'
import type { Room } from './room.js'
import { RoomRegistry } from './room-registry.js'
import { decodeUpdate, UpdateRefusedError } from './update-admission.js'
import { type DocVersions, VersionHistory } from './versions/version-history.js'
import { createWebSocketChannel } from './websocket-channel.js'

/** The sync engine, attached to an HTTP server of the embedding app. */
export interface SyncServer {
  /** Handles an HTTP upgrade request: the document is the URL path, `ws://host/<docName>`. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void
  /** Routes every `upgrade` event of `server` to {@link SyncServer.handleUpgrade}. */
  attach(server: Server): void
  /**
   * Answers one request of the HTTP transport ([HT1]-[HT10]), a session being the HTTP form of a connection: its
   * messages, or the close a WebSocket would have been closed with. `null` when the client left before the answer.
   */
  handleHttpSync(request: HttpSyncRequest): Promise<HttpSyncAnswer | null>
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
   * it is durable. Throws {@link UpdateRefusedError} (and changes nothing, creates nothing) when the update is
   * refused by the admission every update goes through, RangeError for an invalid name.
   */
  applyUpdate(name: string, update: Uint8Array): Promise<void>
  /**
   * Closes the document's connections (4404, "document deleted") and removes it from storage, keeping a tombstone so
   * that clients holding it cannot bring it back ([DL1], [DL2]). Resolves to whether it existed.
   */
  deleteDocument(name: string): Promise<boolean>
  /**
   * Version history of the documents ([VH1]-[VH3]): list, make, read, restore, rename and delete versions. Not
   * available (every call throws VersionError `unavailable`) in cluster mode or on a store without side records.
   */
  readonly versions: DocVersions
  /** Number of open connections. */
  readonly connectionCount: number
  /** Failures of hooks and message handling caught so far (each logged, and counted by `observer.hookFailed`). */
  readonly failureCount: number
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
  const logger = options.logger ?? pino({ level: 'silent' })
  const rawObserver = options.observer ?? {}
  const sink = createExceptionSink(logger, (where) => rawObserver.hookFailed?.(where))
  return new SyncServerImpl(
    {
      store: options.store,
      relay: options.relay ?? null,
      logger,
      authenticate: options.authenticate ?? null,
      allowedOrigins: options.allowedOrigins ? new Set(options.allowedOrigins) : null,
      trustedProxies: options.trustedProxies?.length ? parseTrustedProxies(options.trustedProxies) : null,
      limits,
      observer: guardObserver(rawObserver, sink),
      pingIntervalMs: options.pingIntervalMs ?? syncServerDefaults.pingIntervalMs,
      connectionTimeoutMs: options.connectionTimeoutMs ?? syncServerDefaults.connectionTimeoutMs,
      roomGraceMs: options.roomGraceMs ?? syncServerDefaults.roomGraceMs,
      authTimeoutMs: options.authTimeoutMs ?? syncServerDefaults.authTimeoutMs,
      otLog: options.otLog ?? {},
      versions: options.versions ?? {},
    },
    sink,
  )
}

/** What every connection gets without an `authenticate` hook. */
const openAccess: AuthResult = { ok: true, access: 'write' }
/** How often the liveness sweep runs a slice of its pass ([LV1]): a pass takes one ping interval. */
const sweepSliceMs = 50

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}

class SyncServerImpl implements SyncServer {
  private readonly wss: WebSocketServer
  private readonly admission: Admission
  private readonly rooms: RoomRegistry
  /** Every open connection, and the room of those that were admitted. */
  private readonly connections = new Map<Connection, Room | null>()
  private readonly sweepTimer: NodeJS.Timeout
  /** The current pass of {@link SyncServer.sweepConnections}: its connections, the next to look at, its start. */
  private readonly sweep: { pass: Connection[]; next: number; startedAt: number } = {
    pass: [],
    next: 0,
    startedAt: Number.NEGATIVE_INFINITY,
  }
  private readonly loop = new LoopShare()
  private readonly http: HttpSessions
  private closing: Promise<void> | null = null
  readonly versions: VersionHistory

  constructor(
    private readonly options: ResolvedSyncServerOptions,
    private readonly sink: ExceptionSink,
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.limits.maxMessageBytes,
      // permessage-deflate costs 7-9x throughput on keystroke-sized messages (STACK.md trap 13).
      perMessageDeflate: false,
      // Our client offers `collab` plus `token.<token>`; answering `collab` completes its handshake.
      handleProtocols: (protocols) => (protocols.has(collabSubprotocol) ? collabSubprotocol : false),
    })
    this.admission = new Admission({
      allowedOrigins: options.allowedOrigins,
      trustedProxies: options.trustedProxies,
      connectionsPerAddress: options.limits.connectionsPerAddress,
      authenticate: options.authenticate,
      authTimeoutMs: options.authTimeoutMs,
      sink,
    })
    // Versions live in side records, which a cluster's shared store does not keep; and one instance alone cannot
    // tell which user owns a client ID that wrote through another.
    const versioned = options.versions !== false && !options.relay
    this.versions = new VersionHistory(versioned ? options.store : null, options.versions || {}, options.logger)
    this.rooms = new RoomRegistry(
      {
        versions: this.versions.available ? this.versions : null,
        store: options.store,
        logger: options.logger,
        limits: options.limits,
        observer: options.observer,
        relay: options.relay,
        otLog: options.otLog,
        sink,
        onDeletedElsewhere: (room) => this.closeDeletedRoom(room),
      },
      {
        store: options.store,
        logger: options.logger,
        observer: options.observer,
        roomGraceMs: options.roomGraceMs,
      },
    )
    this.versions.attach((name, use) => this.withRoom(name, (room) => use(room.versions)))
    const tickMs = options.pingIntervalMs / Math.max(1, Math.round(options.pingIntervalMs / sweepSliceMs))
    this.sweepTimer = setInterval(() => this.sweepConnections(tickMs), tickMs)
    this.sweepTimer.unref()
    const server = this
    this.http = new HttpSessions({
      get closing() {
        return server.closing !== null
      },
      admission: this.admission,
      logger: options.logger,
      observer: options.observer,
      limits: options.limits,
      open: (docName, address, grant, channelFor) => {
        const conn = this.register(docName, address, 'yjs', (events) =>
          channelFor(events, {
            settled: (stored) => this.settled(conn, stored),
            missedRemovals: (entries) => this.connections.get(conn)?.awareness.missedRemovals(entries) ?? [],
          }),
        )
        this.join(conn, grant)
        return conn
      },
    })
  }

  get roomCount(): number {
    return this.rooms.size
  }

  get connectionCount(): number {
    return this.connections.size
  }

  get failureCount(): number {
    return this.sink.failures
  }

  getRoom(name: string): Room | undefined {
    return this.rooms.get(name)
  }

  handleHttpSync(request: HttpSyncRequest): Promise<HttpSyncAnswer | null> {
    return this.http.handle(request)
  }

  /**
   * Resolves once every message a connection sent so far is handled and the updates among them are stored, and the
   * acknowledgements due are sent: when an HTTP request may be answered ([HT5]).
   */
  private async settled(conn: Connection, stored: boolean): Promise<void> {
    const room = this.connections.get(conn)
    if (!room) return
    await room.loaded
    // The updates of the messages just handled are applied in a microtask, and acknowledged in one after the write.
    await new Promise<void>((resolve) => setImmediate(resolve))
    if (!stored) return
    // A failed write closes the connection (4503), which answers the request.
    await room.written().catch(() => undefined)
    await new Promise<void>((resolve) => setImmediate(resolve))
  }

  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.handleUpgrade(req, socket, head))
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.closing) {
      this.options.logger.warn({ reason: 'shutdown' }, 'upgrade refused: shutting down')
      this.options.observer.connectionRefused?.('shutdown', 503)
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    const address = this.admission.addressOf(req)
    const { name, error } = docNameFromUrl(req.url ?? '/')
    const sync = syncKindOf(req.url ?? '/')
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const refusal = this.admission.checkUpgrade(req, error, address) ?? this.otRefusal(sync)
      if (refusal) {
        this.options.logger.info(
          { url: req.url?.split('?')[0], remote: address, error: refusal.message },
          'connection refused',
        )
        this.options.observer.connectionRefused?.(refusal.reason, refusal.code)
        ws.close(refusal.code, refusal.message.slice(0, 120))
        return
      }
      void this.admit(ws, req, name, address, sync)
    })
  }

  /**
   * OT clients need one sequencer per document and a store that keeps the log beside the updates: not offered in
   * cluster mode ([OT9]).
   */
  private otRefusal(sync: SyncKind): Refusal | null {
    if (sync !== 'ot' || (!this.options.relay && this.options.store.readSide && this.options.store.writeSide)) {
      return null
    }
    return {
      reason: 'unsupported',
      code: CloseCode.NotSupported,
      message: '@codemirror/collab clients are not supported in cluster mode',
    }
  }

  /** Registers a connection, authenticates it, then lets it into its document's room. */
  private async admit(
    ws: WebSocket,
    req: IncomingMessage,
    docName: string,
    address: string,
    sync: SyncKind,
  ): Promise<void> {
    const logger = this.options.logger
    const conn = this.register(docName, address, sync, (events) => createWebSocketChannel(ws, events))
    // Without a hook the connection joins in this same task, so its messages are handled as they arrive, in the
    // order the socket delivers them (a frame over the size limit, which ws refuses as soon as it reads its header,
    // cannot overtake the messages before it).
    const verdict = this.options.authenticate ? await this.admission.authenticate(req, docName, address) : openAccess
    if (conn.closed) return
    if ('reason' in verdict && 'message' in verdict) {
      this.options.observer.connectionRefused?.(verdict.reason, verdict.code)
      this.refuse(conn, verdict.code, verdict.message)
      return
    }
    if (!verdict.ok) {
      // The reason is ours or the hook's; the token itself never reaches a log line.
      logger.warn(
        { doc: docName, remote: address, code: verdict.code, reason: verdict.reason },
        'connection refused: authentication',
      )
      this.options.observer.connectionRefused?.('auth', verdict.code)
      this.closeConnection(conn, verdict.code, verdict.reason)
      return
    }
    this.join(conn, verdict)
  }

  /** Registers a connection over the channel `channelFor` makes (WebSocket or HTTP); it is in no room yet. */
  private register(
    docName: string,
    address: string,
    sync: SyncKind,
    channelFor: (events: ChannelEvents) => Channel,
  ): Connection {
    const logger = this.options.logger
    const channel = channelFor({
      message: (data, bytes) => conn.receive(data, bytes),
      alive: () => conn.heard(),
      error: (err) => logger.warn({ conn: conn.id, doc: docName, err: err.message }, 'connection error'),
      unreadable: () => conn.handleWaitingBeforeClose(),
      closed: (code) => {
        conn.channelClosed()
        this.forget(conn)
        this.options.observer.connectionClosed?.(code, Date.now() - conn.openedAt)
        logger.info(
          { conn: conn.id, doc: docName, code, ms: Date.now() - conn.openedAt, user: conn.user },
          'connection closed',
        )
      },
    })
    const conn: Connection = new Connection({
      channel,
      docName,
      remoteAddress: address,
      sync,
      limits: this.options.limits,
      observer: this.options.observer,
      loop: this.loop,
      sink: {
        deliver: (data, bytes) => this.deliver(conn, data, bytes),
        overBudgetTooLong: () => this.refuse(conn, CloseCode.RateLimited, 'over the rate limit for too long'),
      },
    })
    this.connections.set(conn, null)
    this.admission.opened(address)
    return conn
  }

  /** Lets an authenticated connection into its document's room; its waiting messages are handled from now on. */
  private join(conn: Connection, grant: Extract<AuthResult, { ok: true }>): void {
    const room = this.rooms.roomFor(conn.docName)
    this.connections.set(conn, room)
    room.add(conn)
    this.options.observer.connectionOpened?.(grant.access)
    this.options.logger.info(
      { conn: conn.id, doc: conn.docName, remote: conn.remoteAddress, user: grant.user, access: grant.access },
      'connection opened',
    )
    conn.admit(grant)
  }

  /**
   * Handles one message of an admitted connection, in arrival order and within its limits (see InboundFlow). A
   * failure while handling it closes that connection with 4400, never the process.
   */
  private deliver(conn: Connection, data: Uint8Array | null, bytes: number): void {
    if (conn.closed) return
    try {
      if (data === null) {
        this.options.observer.messageReceived?.('invalid', bytes)
        this.refuse(conn, CloseCode.BadMessage, 'text messages are not part of the protocol')
        return
      }
      // Checked on every message, not only by the periodic sweep: nothing is accepted after the expiry ([AU4]).
      if (conn.credentialsExpired(Date.now())) {
        this.refuse(conn, CloseCode.NotAuthenticated, 'credentials expired')
        return
      }
      const decoded = decodeMessage(data, this.options.limits)
      if (!decoded.ok) {
        this.options.observer.messageReceived?.('invalid', bytes)
        this.refuse(conn, CloseCode.BadMessage, decoded.error)
        return
      }
      const room = this.connections.get(conn)
      if (!room) return
      const message = decoded.message
      // An echoed awareness message costs its bytes but not a message ([LM2]).
      conn.chargeMessages(room.takeEcho(conn, message) ? 0 : 1)
      this.options.observer.messageReceived?.(message.type, bytes)
      room.receive(conn, message)
    } catch (err) {
      this.sink.report('message handling', err, { conn: conn.id, doc: conn.docName })
      this.refuse(conn, CloseCode.BadMessage, 'the server failed to handle a message')
    }
  }

  /** Removes a connection from its room and the counts, once. */
  private forget(conn: Connection): void {
    if (!this.connections.has(conn)) return
    const room = this.connections.get(conn)
    this.connections.delete(conn)
    this.admission.closed(conn.remoteAddress)
    room?.remove(conn)
  }

  /** Closes a connection with a code and forgets it at once rather than when the close handshake ends. */
  private closeConnection(conn: Connection, code: number, reason: string): void {
    conn.close(code, reason)
    this.forget(conn)
  }

  private refuse(conn: Connection, code: number, error: string): void {
    this.options.logger.warn({ conn: conn.id, doc: conn.docName, code, error }, 'closing the connection')
    this.closeConnection(conn, code, error)
  }

  /**
   * Probes the next slice of the connections and ends those that died ([LV1]), whose credentials expired ([AU4]) or
   * that stopped reading what is sent to them ([LM6]). It runs every `tickMs` (about 50 ms), so every
   * connection is looked at once per interval, and the work is spread over it: one pass over everyone at once took
   * 11-25 ms at 800 silent connections (pings and then their pongs in one burst), a stall every other client's
   * keystrokes waited behind.
   */
  private sweepConnections(tickMs: number): void {
    const now = Date.now()
    const policy = {
      connectionTimeoutMs: this.options.connectionTimeoutMs,
      probeAnswerMs: this.options.pingIntervalMs,
      maxQueuedBytes: this.options.limits.maxQueuedBytes,
      queueStallMs: this.options.limits.queueStallMs,
    }
    // A pass looks at the connections there were when it started, one slice per tick; one that joined since is new
    // (and alive) and waits for the next pass, one that left is skipped. How far a pass has come follows the clock,
    // not the count of ticks: on a saturated server the timer fires late (2-13 times a second instead of 20), and a
    // pass counted in ticks then took 4-25 s instead of one interval.
    const interval = this.options.pingIntervalMs
    const sweep = this.sweep
    if (sweep.next >= sweep.pass.length && now - sweep.startedAt >= interval) {
      sweep.pass = [...this.connections.keys()]
      sweep.next = 0
      sweep.startedAt = now
    }
    const share = Math.min(1, (now - sweep.startedAt + tickMs) / interval)
    const end = Math.min(sweep.pass.length, Math.ceil(sweep.pass.length * share))
    for (; sweep.next < end; sweep.next++) {
      const conn = sweep.pass[sweep.next]!
      if (!this.connections.has(conn)) continue
      switch (judgeConnection(conn, now, policy)) {
        case 'dead':
          this.options.logger.info(
            { conn: conn.id, doc: conn.docName, silentMs: now - conn.lastSeen },
            'connection dead',
          )
          conn.terminate()
          this.forget(conn)
          break
        case 'not-reading':
          this.options.logger.warn(
            { conn: conn.id, doc: conn.docName, queued: conn.queuedBytes },
            'connection does not read; dropped',
          )
          conn.terminate()
          this.forget(conn)
          break
        case 'expired':
          this.refuse(conn, CloseCode.NotAuthenticated, 'credentials expired')
          break
        case 'alive':
          // Only what has been silent for a sweep interval is probed: a connection heard from since is known alive,
          // and our clients' own heartbeats keep theirs that way, so an idle room costs the sweep a comparison per
          // connection, not a ping frame each ([LV1]).
          if (now - conn.lastSeen >= this.options.pingIntervalMs) conn.probe(now)
      }
    }
  }

  async getDocument(name: string): Promise<Uint8Array | null> {
    const error = docNameError(name)
    if (error) throw new RangeError(error)
    const room = this.rooms.get(name)
    if (room?.isReady) return room.isEmpty ? null : Y.encodeStateAsUpdate(room.doc)
    await this.rooms.settled(name)
    const updates = await this.options.store.load(name)
    if (updates.length === 0) return null
    return updates.length === 1 && updates[0] ? updates[0] : mergeUpdatesViaDoc(updates)
  }

  async applyUpdate(name: string, update: Uint8Array): Promise<void> {
    const error = docNameError(name)
    if (error) throw new RangeError(error)
    if (this.closing) throw new Error('the server is shutting down')
    // The same admission as a connection's update, before a room is loaded for it: a refused update must not even
    // create the document ([PR2]).
    const decoded = decodeUpdate(update, this.options.limits)
    if (!decoded.ok) throw new UpdateRefusedError(decoded.refusal)
    const room = this.rooms.roomFor(name)
    try {
      await room.loaded
      await room.applyUpdate(update, 'api')
    } finally {
      if (room.connections.size === 0) this.rooms.onIdle(room)
    }
  }

  /** Runs `use` with the document's room loaded, which then unloads after its grace period if nobody is in it. */
  private async withRoom<T>(name: string, use: (room: Room) => Promise<T>): Promise<T> {
    const error = docNameError(name)
    if (error) throw new RangeError(error)
    if (this.closing) throw new Error('the server is shutting down')
    const room = this.rooms.roomFor(name)
    try {
      await room.loaded
      if (!room.isReady) throw new Error(`document ${JSON.stringify(name)} is not available`)
      return await use(room)
    } finally {
      if (room.connections.size === 0) this.rooms.onIdle(room)
    }
  }

  async deleteDocument(name: string): Promise<boolean> {
    const error = docNameError(name)
    if (error) throw new RangeError(error)
    const room = this.rooms.get(name)
    if (room) this.closeRoomConnections(room, 'document deleted')
    const existed = await this.rooms.delete(name)
    const relay = this.options.relay
    if (relay) guarded(this.sink, 'relay.publishDeleted', () => relay.publishDeleted(name), undefined)
    return existed
  }

  private closeRoomConnections(room: Room, reason: string): void {
    for (const [conn, joined] of this.connections) {
      if (joined === room) this.closeConnection(conn, CloseCode.UnknownDocument, reason)
    }
  }

  /** Another instance deleted the document: its connections here are told so and the room goes, unsaved. */
  private closeDeletedRoom(room: Room): void {
    if (this.rooms.get(room.name) !== room) return
    this.options.logger.info({ doc: room.name }, 'document deleted by another instance')
    this.closeRoomConnections(room, 'document deleted')
    void this.rooms.unload(room, { compact: false })
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  private async shutdown(): Promise<void> {
    clearInterval(this.sweepTimer)
    this.sweep.pass = []
    const open = [...this.connections.keys()]
    const allClosed = Promise.all(open.map((conn) => conn.whenClosed))
    for (const conn of open) conn.close(CloseCode.GoingAway, 'server shutting down')
    await this.rooms.unloadAll()
    await this.options.store.flush().catch((err: unknown) => {
      this.options.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'final store flush failed')
    })
    // A peer that never answers the close frame must not hold the shutdown up.
    let timeout: NodeJS.Timeout | undefined
    await Promise.race([allClosed, new Promise<void>((resolve) => (timeout = setTimeout(resolve, 1_000)))])
    clearTimeout(timeout)
    for (const conn of open) conn.terminate()
    this.wss.close()
  }
}

/** The protocol a connection asks for with its URL: `?sync=ot` for @codemirror/collab ([OT1]), else Yjs sync. */
function syncKindOf(url: string): SyncKind {
  const query = url.indexOf('?')
  if (query < 0) return 'yjs'
  return new URLSearchParams(url.slice(query + 1)).get('sync') === 'ot' ? 'ot' : 'yjs'
}
