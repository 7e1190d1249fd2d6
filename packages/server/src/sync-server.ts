import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { Capability, CloseCode, decodeMessage, docNameError, encodeHello, encodePong } from '@collab/protocol'
import { pino } from 'pino'
import { type RawData, type WebSocket, WebSocketServer } from 'ws'
import { Connection } from './connection.js'
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
  return new SyncServerImpl({
    ...syncServerDefaults,
    logger: pino({ level: 'silent' }),
    ...stripUndefined(options),
    store: options.store,
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
  private readonly connections = new Set<Connection>()
  private readonly sweepTimer: NodeJS.Timeout
  private readonly roomContext: RoomContext
  private closing: Promise<void> | null = null

  constructor(private readonly options: ResolvedSyncServerOptions) {
    // permessage-deflate costs 7-9x throughput on keystroke-sized messages (STACK.md trap 13).
    this.wss = new WebSocketServer({ noServer: true, maxPayload: options.maxMessageBytes, perMessageDeflate: false })
    this.roomContext = { store: options.store, logger: options.logger, onIdle: (room) => this.onRoomIdle(room) }
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
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    const { name, error } = docNameFromUrl(req.url ?? '/')
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      // Browsers cannot read the HTTP status of a refused upgrade, so name errors are close codes ([DN1]).
      if (error !== null) {
        this.options.logger.info({ url: req.url?.split('?')[0], error }, 'connection refused: bad document name')
        ws.close(CloseCode.UnknownDocument, error.slice(0, 120))
        return
      }
      this.accept(ws, name, req.socket.remoteAddress ?? 'unknown')
    })
  }

  private accept(ws: WebSocket, docName: string, remoteAddress: string): void {
    const conn = new Connection(ws, docName, remoteAddress)
    this.connections.add(conn)
    const room = this.roomFor(docName)
    room.add(conn)
    this.options.logger.info({ conn: conn.id, doc: docName, remote: remoteAddress }, 'connection opened')
    ws.on('message', (data, isBinary) => this.onMessage(conn, room, data, isBinary))
    ws.on('pong', () => {
      conn.lastSeen = Date.now()
    })
    ws.on('error', (err) => {
      this.options.logger.warn({ conn: conn.id, doc: docName, err: err.message }, 'connection error')
    })
    ws.on('close', (code) => {
      conn.closed = true
      this.connections.delete(conn)
      room.remove(conn)
      this.options.logger.info(
        { conn: conn.id, doc: docName, code, ms: Date.now() - conn.openedAt },
        'connection closed',
      )
    })
  }

  private onMessage(conn: Connection, room: Room, data: RawData, isBinary: boolean): void {
    conn.lastSeen = Date.now()
    if (conn.closed) return
    if (!isBinary || !(data instanceof Uint8Array)) {
      this.refuse(conn, room, 'text messages are not part of the protocol')
      return
    }
    const decoded = decodeMessage(data)
    if (!decoded.ok) {
      this.refuse(conn, room, decoded.error)
      return
    }
    const message = decoded.message
    // Connection-level messages are answered at once, even while the document loads: a slow load must not
    // look like a dead server to the client's heartbeat.
    switch (message.type) {
      case 'hello':
        conn.capabilities = new Set(message.capabilities)
        conn.send(encodeHello(serverCapabilities))
        return
      case 'ping':
        conn.send(encodePong())
        return
      case 'pong':
        return
      default:
        room.receive(conn, message)
    }
  }

  private refuse(conn: Connection, room: Room, error: string): void {
    this.options.logger.warn({ conn: conn.id, doc: conn.docName, error }, 'bad message; closing the connection')
    room.drop(conn, CloseCode.BadMessage, error)
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

  private unloadRoom(room: Room): Promise<void> {
    const timer = this.idleTimers.get(room)
    if (timer) clearTimeout(timer)
    this.idleTimers.delete(room)
    if (this.rooms.get(room.name) === room) this.rooms.delete(room.name)
    const started = performance.now()
    const previous = this.unloading.get(room.name)
    const unloaded: Promise<void> = Promise.all([previous, room.unload()]).then(() => {
      this.options.logger.info({ doc: room.name, ms: Math.round(performance.now() - started) }, 'room unloaded')
      if (this.unloading.get(room.name) === unloaded) this.unloading.delete(room.name)
    })
    this.unloading.set(room.name, unloaded)
    return unloaded
  }

  /** Pings every connection and terminates those silent for longer than the timeout ([LV1]). */
  private sweepConnections(): void {
    const now = Date.now()
    for (const conn of this.connections) {
      if (now - conn.lastSeen > this.options.connectionTimeoutMs) {
        this.options.logger.info({ conn: conn.id, doc: conn.docName, silentMs: now - conn.lastSeen }, 'connection dead')
        conn.ws.terminate()
      } else if (conn.ws.readyState === conn.ws.OPEN) {
        conn.ws.ping()
      }
    }
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  private async shutdown(): Promise<void> {
    clearInterval(this.sweepTimer)
    const sockets = [...this.connections].map((conn) => conn.ws)
    const allClosed = Promise.all(
      sockets.map((ws) => new Promise<void>((resolve) => ws.once('close', () => resolve()))),
    )
    for (const conn of this.connections) conn.close(CloseCode.GoingAway, 'server shutting down')
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
