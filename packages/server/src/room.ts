import type { OtLog, OtLogOptions } from '@collab/ot'
import {
  Capability,
  CloseCode,
  encodeAwareness,
  encodeHello,
  encodeIncarnation,
  encodePong,
  encodeSyncStep2,
  encodeSyncUpdate,
  type Message,
  MessageType,
} from '@collab/protocol'
import { type DocStore, DocumentUnreadableError, type SideWrite } from '@collab/storage'
import type { Logger } from 'pino'
import * as Y from 'yjs'
import type { Connection } from './connection.js'
import type { ExceptionSink } from './exception-sink.js'
import type { Limits } from './limits.js'
import { kindOfEncoded, type SyncObserver } from './observer.js'
import { OtProtocol, type OtRoom } from './ot-protocol.js'
import type { DocRelay } from './relay.js'
import { RoomAwareness } from './room-awareness.js'
import { RoomRelay, storedElsewhere } from './room-relay.js'
import { errorMessage, RoomStore } from './room-store.js'
import { serverCapabilities } from './server-capabilities.js'
import { YjsSyncProtocol } from './sync-protocol.js'
import { admitUpdate, decodeTombstone, decodeUpdate, UpdateRefusedError } from './update-admission.js'
import type { StructShape } from './update-census.js'
import { RoomVersions, type VersionKeeper } from './versions/room-versions.js'

/** What a room needs from the server that owns it. */
export interface RoomContext {
  store: DocStore
  logger: Logger
  limits: Limits
  observer: SyncObserver
  sink: ExceptionSink
  /** Other instances sharing the store, if any (see relay.ts). */
  relay: DocRelay | null
  /** The OT log's floor ([OT6]). */
  otLog?: OtLogOptions
  /** Version history ([VH1]); absent or `null` when the store keeps no side records (cluster mode). */
  versions?: VersionKeeper | null
  /** Called when the room has no connections left and its grace period ended, or when it failed. */
  onIdle(room: Room): void
  /** Called when another instance deleted the document. */
  onDeletedElsewhere(room: Room): void
}

type RoomState = 'loading' | 'ready' | 'failed' | 'unloaded'

/**
 * One document being edited: its Y.Doc, who is connected and the order in which their messages are answered. What
 * the messages mean belongs to the room's protocol handlers (today the Yjs sync protocol, sync-protocol.ts); where
 * updates go belongs to its store (room-store.ts) and relay (room-relay.ts).
 */
export class Room implements OtRoom {
  // A guid of our own: Yjs makes a random one with 31 calls to crypto.getRandomValues, 145-158 us of every room
  // load (13 us with one given). Only subdocuments use it, and a room's document is never one.
  readonly doc = new Y.Doc({ gc: true, guid: 'room' })
  readonly awareness: RoomAwareness
  readonly connections = new Set<Connection>()
  private state: RoomState = 'loading'
  /** Messages that arrived before the document was loaded, answered in order once it is ([SV1]). */
  private queued: Array<{ conn: Connection; message: Message }> = []
  private readonly storage: RoomStore
  private readonly sync: YjsSyncProtocol
  /** The @codemirror/collab authority; keeps an OT log only once an OT client joined ([OT1]). */
  private readonly ot: OtProtocol
  /** The link to the other instances, from the start of the load until the unload. */
  private relay: RoomRelay | null = null
  private tombstoneClocks: ReadonlyMap<number, number> | null = null
  /** The stored document's incarnation id ([IN1]), once loaded. */
  private incarnation: string | null = null
  /** Who owns each Yjs client ID, and when the next version is made ([VH1], [VH2]). */
  readonly versions: RoomVersions
  readonly loaded: Promise<void>

  constructor(
    readonly name: string,
    private readonly ctx: RoomContext,
    /** An unload or delete of the same document still running; loading waits for it so nothing is read half-written. */
    previousUnload: Promise<void> | undefined,
  ) {
    this.awareness = new RoomAwareness(ctx.limits.clientIdsPerConnection)
    this.storage = new RoomStore(name, this.doc, ctx.store, ctx.logger, ctx.observer, {
      // Published once stored, so that what other instances hold from the relay is always durable: they never
      // store it again, and may acknowledge a client that sends it to them again.
      stored: (update) => this.relay?.publishUpdate(update),
      failed: (err) => this.fail('append', err),
    })
    this.sync = new YjsSyncProtocol(this)
    this.ot = new OtProtocol(this, ctx.otLog)
    this.versions = new RoomVersions(this, ctx.versions ?? null)
    this.loaded = this.load(previousUnload)
  }

  get isReady(): boolean {
    return this.state === 'ready'
  }

  get isLive(): boolean {
    return this.state === 'loading' || this.state === 'ready'
  }

  /** Whether the document has no content at all (a document nobody wrote to does not exist, [DL1]). */
  get isEmpty(): boolean {
    return this.doc.store.clients.size === 0
  }

  get limits(): Limits {
    return this.ctx.limits
  }

  get logger(): Logger {
    return this.ctx.logger
  }

  get observer(): SyncObserver {
    return this.ctx.observer
  }

  get sink(): ExceptionSink {
    return this.ctx.sink
  }

  /** The document's OT log, once an OT client joined it ([OT3]); for tests and metrics. */
  get otLog(): OtLog | null {
    return this.ot.currentLog
  }

  get tombstone(): ReadonlyMap<number, number> | null {
    return this.tombstoneClocks
  }

  private async load(previousUnload: Promise<void> | undefined): Promise<void> {
    const started = performance.now()
    try {
      await previousUnload
      if (this.ctx.relay && this.state === 'loading') {
        this.relay = new RoomRelay(this.relayedRoom(), this.ctx.relay)
        // Joined before reading the store, so every update another instance makes is either read or relayed.
        await this.relay.ready
      }
      const [updates, tombstone, incarnation, otRecords, versions] = await Promise.all([
        this.ctx.store.load(this.name),
        this.ctx.store.tombstone(this.name),
        this.ctx.store.incarnation(this.name),
        this.ctx.store.readSide ? this.ctx.store.readSide(this.name, 'ot/') : [],
        this.versions.read(),
      ])
      this.tombstoneClocks = decodeTombstone(tombstone)
      this.incarnation = incarnation
      // Before anything of the document reaches them, early answers ([SV2]) included.
      for (const conn of this.connections) this.tellIncarnation(conn)
      if (updates.length === 1 && updates[0]) this.answerEmptyClients(updates[0])
      this.applyStored(updates)
      this.versions.loaded(versions)
      this.storage.loadedFrom(updates.length)
      // Not awaited: nothing may come between applying the stored updates and subscribing below (STACK.md trap 9).
      // Batches are written in order, so this lands before any entry the log makes.
      const otWrites = this.ot.loaded(otRecords)
      if (otWrites.length > 0) this.writeSide(otWrites).catch((err: unknown) => this.fail('append', err))
    } catch (err) {
      this.ctx.observer.roomLoaded?.(performance.now() - started, false)
      this.fail('load', err)
      return
    }
    // Subscribing right after the synchronous apply, with no await in between, is what keeps updates from being
    // lost on load (STACK.md trap 9).
    this.doc.on('update', this.onDocUpdate)
    this.state = 'ready'
    this.ctx.observer.roomLoaded?.(performance.now() - started, true)
    this.ctx.logger.info(
      { doc: this.name, ms: Math.round(performance.now() - started), connections: this.connections.size },
      'room loaded',
    )
    for (const conn of this.connections) if (conn.sync === 'yjs') this.sync.greet(conn)
    const queued = this.queued
    this.queued = []
    for (const { conn, message } of queued) {
      if (conn.closed) continue
      try {
        this.receive(conn, message)
      } catch (err) {
        // The message's own call stack has long returned; a failure still costs only its connection.
        this.ctx.sink.report('queued message', err, { doc: this.name, conn: conn.id })
        this.drop(conn, CloseCode.BadMessage, 'the server failed to handle a message')
      }
    }
    // After the greeting, so that connections answered early from the snapshot ([SV2]) get them as updates.
    this.relay?.applyEarly()
    this.storage.compactIfNeeded()
  }

  /** The parts of this room its relay link uses. */
  private relayedRoom(): ConstructorParameters<typeof RoomRelay>[0] {
    return {
      name: this.name,
      doc: this.doc,
      awareness: this.awareness,
      logger: this.ctx.logger,
      sink: this.ctx.sink,
      isReady: () => this.isReady,
      isLive: () => this.isLive,
      broadcast: (message) => this.broadcast(message, null),
      loadStored: () => this.ctx.store.load(this.name),
      deleted: () => this.ctx.onDeletedElsewhere(this),
    }
  }

  /**
   * A client with an empty state vector needs the whole document, which is exactly the stored snapshot. Sending it
   * before parsing it lets the client's parse overlap ours: a cold load of a 100k-character document takes one
   * parse of time instead of two ([SV2]).
   */
  private answerEmptyClients(snapshot: Uint8Array): void {
    const answer = encodeSyncStep2(snapshot)
    this.queued = this.queued.filter(({ conn, message }) => {
      if (message.type !== 'sync-step-1' || Y.decodeStateVector(message.stateVector).size > 0) return true
      conn.send(answer)
      return false
    })
  }

  private applyStored(updates: Uint8Array[]): void {
    this.doc.transact(() => {
      updates.forEach((update, index) => {
        try {
          Y.applyUpdate(this.doc, update, 'store')
        } catch (err) {
          throw new DocumentUnreadableError(
            this.name,
            `stored update ${index + 1} of ${updates.length} does not decode: ${errorMessage(err)}`,
          )
        }
      })
    })
    if (this.doc.store.pendingStructs || this.doc.store.pendingDs) {
      this.ctx.logger.warn({ doc: this.name }, 'stored updates reference missing ones; the document has gaps')
    }
  }

  /** Sends the incarnation id to a connection that asked for it in its hello ([IN1]). */
  private tellIncarnation(conn: Connection): void {
    if (this.incarnation !== null && conn.capabilities.has(Capability.Incarnation)) {
      conn.send(encodeIncarnation(this.incarnation))
    }
  }

  /** Adds a connection; it is greeted once the document is loaded. */
  add(conn: Connection): void {
    this.connections.add(conn)
    // An OT client is greeted when it sends `join` ([OT1]).
    if (this.state === 'ready' && conn.sync === 'yjs') this.sync.greet(conn)
  }

  /** Removes a connection (closed, died or dropped) and announces that its people left. */
  remove(conn: Connection): void {
    if (!this.connections.has(conn)) return
    // What it sent before it left is applied like anyone's (a batch may be waiting for the rest of its read).
    this.sync.applyPendingUpdates()
    this.connections.delete(conn)
    const removal = this.awareness.removeOwnedBy(conn)
    if (removal) {
      this.broadcast(encodeAwareness(removal), null)
      this.relay?.publishAwareness(removal)
    }
    if (conn.sync === 'ot') this.ot.remove(conn)
    this.awareness.forgetDeparted(Date.now())
    if (this.connections.size === 0) {
      this.versions.lastLeft()
      this.ctx.onIdle(this)
    }
  }

  /**
   * Handles a decoded message from one of the room's connections, or queues it while the document loads. The one
   * place of the ordering rule [SU4]: whatever is not a document update is answered only after the updates that
   * came before it were applied, so a pong still means "everything before the ping was handled".
   */
  receive(conn: Connection, message: Message): void {
    if (message.type !== 'sync-step-2' && message.type !== 'sync-update') this.sync.applyPendingUpdates()
    // Connection-level messages are answered at once, even while the document loads: a slow load must not look
    // like a dead server to the client's heartbeat ([HB1]).
    switch (message.type) {
      case 'hello':
        conn.announce(message.capabilities)
        conn.send(encodeHello(serverCapabilities(conn.access)))
        // While loading, the load tells it once it knows it.
        if (this.state === 'ready') this.tellIncarnation(conn)
        return
      case 'ping':
        conn.send(encodePong())
        return
      case 'pong':
        return
    }
    const ot = message.type === 'collab'
    if (!ot && !this.sync.handles(message)) {
      // Messages only a server sends (auth, saved) mean nothing coming from a client; ignoring them keeps clients
      // that echo them working.
      return
    }
    if (ot !== (conn.sync === 'ot')) {
      // Each connection speaks one protocol, chosen by its URL ([OT1]).
      this.drop(
        conn,
        CloseCode.BadMessage,
        ot ? 'collab message on a Yjs connection' : `${message.type} on an OT connection`,
      )
      return
    }
    if (this.state === 'loading') this.queued.push({ conn, message })
    else if (this.state === 'ready') {
      if (message.type === 'collab') this.ot.handle(conn, message.json)
      else this.sync.handle(conn, message)
    }
  }

  /** Whether an awareness message is an echo that costs no message budget ([LM2]); see YjsSyncProtocol.takeEcho. */
  takeEcho(conn: Connection, message: Message): boolean {
    return message.type === 'awareness' && this.sync.takeEcho(conn, message.entries)
  }

  private readonly onDocUpdate = (update: Uint8Array, origin: unknown, _doc: Y.Doc, tr: Y.Transaction): void => {
    this.sync.documentChanged()
    this.broadcast(encodeSyncUpdate(update), origin)
    // Another instance stored it (it publishes only what it stored), or it was read from the store.
    if (origin === storedElsewhere) return
    // The OT log entries this transaction made go in the same batch ([OT3]), and to OT clients once it is written.
    const side = this.ot.takeSideWrites()
    // So do the owners of the client IDs it brought and the note of an edit since the latest version ([VH2]).
    const versionWrites = this.versions.edited(origin, tr)
    this.storage.append(update, versionWrites ? [...(side ?? []), ...versionWrites] : side)
    if (side) this.ot.stored(this.storage.written)
  }

  /**
   * Why `conn` may not bring this new content: a client ID of it belongs to another user ([VH2]); `null` when it
   * may.
   */
  claimRefusal(conn: Connection, structs: readonly StructShape[]): string | null {
    return this.versions.claimRefusal(conn.user, structs)
  }

  /** Writes side records of the document on their own, after every append so far. */
  writeSide(writes: readonly SideWrite[]): Promise<void> {
    const store = this.ctx.store
    if (!store.writeSide) return Promise.reject(new Error('the store keeps no side records'))
    return store.writeSide(this.name, writes)
  }

  /** Resolves once every update appended so far is durable. */
  written(): Promise<void> {
    return this.storage.written
  }

  publishAwareness(update: Uint8Array): void {
    this.relay?.publishAwareness(update)
  }

  /**
   * Applies an update that did not come from a connection (the HTTP API): relayed to every connection and stored
   * like any other. Resolves once it is durable; throws {@link UpdateRefusedError} (and changes nothing) when the
   * update is refused by the same admission as a connection's ([PR2], [SY4], [DL2]).
   */
  async applyUpdate(update: Uint8Array, origin: unknown = 'api'): Promise<void> {
    if (this.state !== 'ready') throw new Error(`document ${JSON.stringify(this.name)} is not available`)
    const decoded = decodeUpdate(update, this.ctx.limits)
    if (!decoded.ok) throw new UpdateRefusedError(decoded.refusal)
    const admitted = admitUpdate(this.doc, update, decoded.decoded, this.tombstoneClocks)
    if (!admitted.ok) throw new UpdateRefusedError(admitted.refusal)
    Y.applyUpdate(this.doc, admitted.update, origin)
    await this.storage.written
  }

  broadcast(message: Uint8Array, except: unknown): void {
    const awareness = message[0] === MessageType.Awareness
    let sent = 0
    for (const conn of this.connections) {
      // Yjs sync and awareness messages; OT clients get theirs from the OT handler ([OT1]).
      if (conn === except || conn.sync === 'ot' || !conn.sendUncounted(message)) continue
      sent++
      if (awareness) conn.grantEcho(this.ctx.limits.messageBurst)
    }
    if (sent > 0) this.ctx.observer.messagesSent?.(kindOfEncoded(message), message.length, sent)
    if (awareness) this.ot.presenceChanged()
  }

  /** Closes one connection and forgets it at once. */
  drop(conn: Connection, code: number, reason: string): void {
    conn.close(code, reason)
    this.remove(conn)
  }

  /**
   * Storage failed: close every connection with "retry later" and drop the in-memory document. Clients keep their
   * unacknowledged updates and send them again after reconnecting to a freshly loaded room, so nothing is lost
   * and nothing unstored is ever acknowledged ([DU3]).
   */
  private fail(during: 'load' | 'append', err: unknown): void {
    if (this.state === 'failed' || this.state === 'unloaded') return
    this.state = 'failed'
    this.ctx.logger.error(
      { doc: this.name, during, err: errorMessage(err) },
      `storage ${during} failed; document refused`,
    )
    for (const conn of [...this.connections]) {
      conn.close(CloseCode.RetryLater, during === 'load' ? 'document unavailable' : 'storage unavailable')
      this.connections.delete(conn)
      // The other instances still show these people; they will be back once their clients reconnect.
      const removal = this.awareness.removeOwnedBy(conn)
      if (removal) this.relay?.publishAwareness(removal)
    }
    this.queued = []
    this.versions.stop()
    void this.ot.finish(false)
    this.ctx.onIdle(this)
  }

  /** The document's state vector, while it is loaded (what a deletion remembers as its tombstone, [DL2]). */
  stateVector(): Uint8Array | null {
    return this.state === 'ready' ? Y.encodeStateVector(this.doc) : null
  }

  /**
   * Ends the room: waits for its writes, compacts what it wrote (unless `compact: false`), releases the document.
   * Connections must be gone.
   */
  async unload(options: { compact?: boolean } = {}): Promise<void> {
    if (this.state === 'unloaded') return
    const wasReady = this.state === 'ready'
    this.state = 'unloaded'
    this.doc.off('update', this.onDocUpdate)
    this.relay?.leave()
    try {
      // A version of what changed since the latest one, unless the document is being deleted.
      if (wasReady && options.compact !== false) await this.versions.finish()
      else await this.versions.abandon()
      // Before the compaction, after the last append: marks the OT log as continuing in the next run ([OT3]).
      await this.ot.finish(wasReady && options.compact !== false)
      await this.storage.finish(wasReady && options.compact !== false)
    } finally {
      this.doc.destroy()
    }
  }
}
