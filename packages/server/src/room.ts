import {
  type AwarenessEntry,
  CloseCode,
  encodeAwareness,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
  type Message,
  MessageType,
} from '@collab/protocol'
import { type DocStore, DocumentUnreadableError } from '@collab/storage'
import type { Logger } from 'pino'
import * as Y from 'yjs'
import type { Connection } from './connection.js'
import type { Limits } from './limits.js'
import { kindOfEncoded, type SyncObserver } from './observer.js'
import type { DocRelay } from './relay.js'
import { RoomAwareness } from './room-awareness.js'
import { RoomRelay, storedElsewhere } from './room-relay.js'

/** What a room needs from the server that owns it. */
export interface RoomContext {
  store: DocStore
  logger: Logger
  limits: Limits
  observer: SyncObserver
  /** Other instances sharing the store, if any (see relay.ts). */
  relay: DocRelay | null
  /** Called when the room has no connections left and its grace period ended, or when it failed. */
  onIdle(room: Room): void
  /** Called when another instance deleted the document. */
  onDeletedElsewhere(room: Room): void
}

type RoomState = 'loading' | 'ready' | 'failed' | 'unloaded'

/**
 * One document being edited: its Y.Doc, who is connected, their presence, and the path of every update from a
 * connection to the other connections and to the store.
 */
export class Room {
  readonly doc = new Y.Doc({ gc: true })
  readonly awareness: RoomAwareness
  readonly connections = new Set<Connection>()
  private state: RoomState = 'loading'
  /** Messages that arrived before the document was loaded, answered in order once it is ([SV1]). */
  private queued: Array<{ conn: Connection; message: Message }> = []
  /** Settles when every update appended so far is durable (or failed); drives save acknowledgements. */
  private lastAppend: Promise<void> = Promise.resolve()
  private compacting: Promise<void> | null = null
  /** Updates appended since the room last compacted; an unload compacts when there are any. */
  private appendedSinceCompaction = 0
  /** The link to the other instances, from the start of the load until the unload. */
  private relay: RoomRelay | null = null
  /**
   * Document updates from one connection not applied yet: every update that arrives in one socket read is applied
   * in one Yjs transaction at its end ([SU4]), so a burst costs one update event, one relayed message, one stored
   * record and one acknowledgement instead of one each per update.
   */
  private batch: {
    conn: Connection
    updates: Array<{ update: Uint8Array; decoded: ReturnType<typeof Y.decodeUpdate>; seq: number }>
  } | null = null
  readonly loaded: Promise<void>

  constructor(
    readonly name: string,
    private readonly ctx: RoomContext,
    /** An unload of the same document still flushing; loading waits for it so nothing is read half-written. */
    previousUnload: Promise<void> | undefined,
  ) {
    this.awareness = new RoomAwareness(ctx.limits.clientIdsPerConnection)
    this.loaded = this.load(previousUnload)
  }

  get isReady(): boolean {
    return this.state === 'ready'
  }

  get isLive(): boolean {
    return this.state === 'loading' || this.state === 'ready'
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
      const updates = await this.ctx.store.load(this.name)
      if (updates.length === 1 && updates[0]) this.answerEmptyClients(updates[0])
      this.applyStored(updates)
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
    for (const conn of this.connections) this.greet(conn)
    const queued = this.queued
    this.queued = []
    for (const { conn, message } of queued) if (!conn.closed) this.handle(conn, message)
    // After the greeting, so that connections answered early from the snapshot ([SV2]) get them as updates.
    this.relay?.applyEarly()
    this.compactIfNeeded()
  }

  /** The parts of this room its relay link uses. */
  private relayedRoom(): ConstructorParameters<typeof RoomRelay>[0] {
    return {
      name: this.name,
      doc: this.doc,
      awareness: this.awareness,
      logger: this.ctx.logger,
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
            `stored update ${index + 1} of ${updates.length} does not decode: ${err instanceof Error ? err.message : err}`,
          )
        }
      })
    })
    if (this.doc.store.pendingStructs || this.doc.store.pendingDs) {
      this.ctx.logger.warn({ doc: this.name }, 'stored updates reference missing ones; the document has gaps')
    }
  }

  /** Adds a connection; it is greeted once the document is loaded. */
  add(conn: Connection): void {
    this.connections.add(conn)
    if (this.state === 'ready') this.greet(conn)
  }

  /** Removes a connection (closed, died or dropped) and announces that its people left. */
  remove(conn: Connection): void {
    if (!this.connections.delete(conn)) return
    const removal = this.awareness.removeOwnedBy(conn)
    if (removal) {
      this.broadcast(encodeAwareness(removal), null)
      this.relay?.publishAwareness(removal)
    }
    if (this.connections.size === 0) this.ctx.onIdle(this)
  }

  /** Handles a decoded message, or queues it while the document loads. */
  receive(conn: Connection, message: Message): void {
    if (this.state === 'loading') this.queued.push({ conn, message })
    else if (this.state === 'ready') this.handle(conn, message)
  }

  private greet(conn: Connection): void {
    conn.send(encodeSyncStep1(Y.encodeStateVector(this.doc)))
    const present = this.awareness.encodePresent()
    if (present) {
      conn.send(encodeAwareness(present))
      conn.grantEcho(this.ctx.limits.messageBurst)
    }
  }

  private handle(conn: Connection, message: Message): void {
    if (message.type === 'sync-step-2' || message.type === 'sync-update') {
      this.receiveUpdate(conn, message.update)
      return
    }
    // Anything else is answered after the updates that came before it, as if each had been applied on arrival.
    this.applyPendingUpdates()
    switch (message.type) {
      case 'sync-step-1':
        conn.send(encodeSyncStep2(Y.encodeStateAsUpdate(this.doc, message.stateVector)))
        return
      case 'awareness': {
        if (message.update.length > this.ctx.limits.maxAwarenessBytes) {
          this.ctx.logger.warn({ doc: this.name, conn: conn.id, bytes: message.update.length }, 'awareness too large')
          this.drop(conn, CloseCode.BadMessage, 'awareness update too large')
          return
        }
        const relayed = this.awareness.apply(conn, message.entries, message.update)
        if (relayed) {
          this.broadcast(encodeAwareness(relayed), null)
          this.relay?.publishAwareness(relayed)
        }
        return
      }
      case 'query-awareness': {
        const present = this.awareness.encodePresent()
        if (present) conn.send(encodeAwareness(present))
        return
      }
      default:
        // Messages only a server sends (auth, saved) mean nothing coming from a client; ignoring them keeps
        // clients that echo them working.
        return
    }
  }

  /** Counts a document update from a connection and adds it to the batch applied at the end of this read. */
  private receiveUpdate(conn: Connection, update: Uint8Array): void {
    const seq = ++conn.docMessages
    if (conn.access === 'read') {
      // Dropped, never acknowledged (it is not stored), and logged without flooding the log ([AU3]).
      conn.droppedUpdates++
      this.ctx.observer.updateDropped?.()
      if (conn.droppedUpdates === 1 || conn.droppedUpdates % 100 === 0) {
        this.ctx.logger.warn(
          { doc: this.name, conn: conn.id, user: conn.user, dropped: conn.droppedUpdates },
          'update from a read-only connection dropped',
        )
      }
      return
    }
    let decoded: ReturnType<typeof Y.decodeUpdate>
    try {
      // Refused on arrival, in order with the connection's other messages; applied with the rest of its read.
      decoded = decodeAdmissible(update)
    } catch (err) {
      this.applyPendingUpdates()
      this.refuseUpdate(conn, err)
      return
    }
    if (this.batch && this.batch.conn !== conn) this.applyPendingUpdates()
    if (this.batch) {
      this.batch.updates.push({ update, decoded, seq })
      return
    }
    this.batch = { conn, updates: [{ update, decoded, seq }] }
    // Messages of one socket read are handled one after another in one task; this runs once they all were.
    queueMicrotask(() => this.applyPendingUpdates())
  }

  /**
   * Applies the waiting updates of one connection in one transaction, then acknowledges them once stored. The
   * server calls it before answering a connection-level message (ping, hello), so that answers keep their order.
   */
  applyPendingUpdates(): void {
    const batch = this.batch
    if (!batch) return
    this.batch = null
    if (this.state !== 'ready') return
    const { conn, updates } = batch
    let applied = 0
    let failure: unknown = null
    this.doc.transact(() => {
      for (const { update, decoded } of updates) {
        try {
          const admitted = admissibleUpdate(this.doc, update, decoded)
          const { pendingStructs, pendingDs } = this.doc.store
          Y.applyUpdate(this.doc, admitted, conn)
          // An update that depends on content this server lacks (lost in a crash before the client resynced) is
          // held pending by Yjs and emits no update event, so nothing would store it. Store it as received: loading
          // integrates it once the missing content arrives, and acknowledging it is then honest.
          const after = this.doc.store
          const heldBack =
            (after.pendingStructs !== null && after.pendingStructs.update !== pendingStructs?.update) ||
            (after.pendingDs !== null && after.pendingDs !== pendingDs)
          if (heldBack) this.persist(admitted)
          applied++
        } catch (err) {
          // The updates before it are applied (and stored when the transaction ends); it and those after are not.
          failure = err
          return
        }
      }
    }, conn)
    if (failure !== null) {
      this.refuseUpdate(conn, failure)
      return
    }
    if (!conn.wantsSaveAck || applied === 0) return
    const seq = updates[applied - 1]!.seq
    // lastAppend now covers these updates if they changed the document; if they did not, whatever they duplicated
    // is stored once earlier appends are.
    this.lastAppend.then(
      () => {
        if (this.state === 'ready' && !conn.closed) conn.acknowledgeSaved(seq)
      },
      () => undefined,
    )
  }

  private readonly onDocUpdate = (update: Uint8Array, origin: unknown): void => {
    this.broadcast(encodeSyncUpdate(update), origin)
    // Another instance stored it (it publishes only what it stored), or it was read from the store.
    if (origin === storedElsewhere) return
    this.persist(update)
  }

  /** Appends an update to the store; the room's latest write, which acknowledgements wait for. */
  private persist(update: Uint8Array): void {
    const appended = this.ctx.store.append(this.name, update)
    this.lastAppend = appended
    this.appendedSinceCompaction++
    appended.then(
      () => {
        // Published once stored, so that what other instances hold from the relay is always durable: they never
        // store it again, and may acknowledge a client that sends it to them again.
        this.relay?.publishUpdate(update)
        this.compactIfNeeded()
      },
      (err: unknown) => this.fail('append', err),
    )
  }

  /**
   * Applies an update that did not come from a connection (the HTTP API, another instance): relayed to every
   * connection and stored like any other. Resolves once it is durable; rejects if the update does not decode
   * (the document is then unchanged) or storage fails.
   */
  async applyUpdate(update: Uint8Array, origin: unknown = 'api'): Promise<void> {
    if (this.state !== 'ready') throw new Error(`document ${JSON.stringify(this.name)} is not available`)
    Y.applyUpdate(this.doc, admissibleUpdate(this.doc, update), origin)
    await this.lastAppend
  }

  private broadcast(message: Uint8Array, except: unknown): void {
    const awareness = message[0] === MessageType.Awareness
    let sent = 0
    for (const conn of this.connections) {
      if (conn === except || !conn.sendUncounted(message)) continue
      sent++
      if (awareness) conn.grantEcho(this.ctx.limits.messageBurst)
    }
    if (sent > 0) this.ctx.observer.messagesSent?.(kindOfEncoded(message), message.length, sent)
  }

  /**
   * Whether an awareness message from `conn` is the echo of one the server sent it: it changes nothing and the
   * connection has echoes left. y-websocket clients send back every awareness change they apply, so without this
   * a busy room would push innocent clients over their message budget ([LM2]).
   */
  takeEcho(conn: Connection, entries: readonly AwarenessEntry[]): boolean {
    return (
      this.state === 'ready' && conn.echoCredit > 0 && this.awareness.changesNothing(conn, entries) && conn.takeEcho()
    )
  }

  private refuseUpdate(conn: Connection, err: unknown): void {
    this.ctx.logger.warn(
      { doc: this.name, conn: conn.id, err: err instanceof Error ? err.message : String(err) },
      'update does not decode; closing the connection',
    )
    this.drop(conn, CloseCode.BadMessage, 'update does not decode')
  }

  /** Closes one connection and forgets it at once. */
  drop(conn: Connection, code: number, reason: string): void {
    conn.close(code, reason)
    this.remove(conn)
  }

  private compactIfNeeded(): void {
    if (this.state !== 'ready' || this.compacting || !this.ctx.store.needsCompaction(this.name)) return
    this.compactNow()
  }

  private compactNow(): void {
    if (this.compacting) return
    const started = performance.now()
    // The live document holds every update this room appended, so its state is a valid snapshot (and far cheaper
    // than re-reading and merging the stored records).
    const snapshot = Y.encodeStateAsUpdate(this.doc)
    this.appendedSinceCompaction = 0
    this.compacting = this.ctx.store
      .compact(this.name, snapshot)
      .then(
        () => {
          const ms = performance.now() - started
          this.ctx.observer.compacted?.(ms, snapshot.length)
          this.ctx.logger.info({ doc: this.name, bytes: snapshot.length, ms: Math.round(ms) }, 'compacted')
        },
        (err: unknown) =>
          this.ctx.logger.error({ doc: this.name, err: errorMessage(err) }, 'compaction failed; records kept'),
      )
      .finally(() => {
        this.compacting = null
      })
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
    this.ctx.onIdle(this)
  }

  /**
   * Ends the room: waits for its writes, compacts what it wrote, releases the document. Connections must be gone.
   */
  async unload(options: { compact?: boolean } = {}): Promise<void> {
    if (this.state === 'unloaded') return
    const wasReady = this.state === 'ready'
    this.state = 'unloaded'
    this.doc.off('update', this.onDocUpdate)
    this.relay?.leave()
    try {
      await this.lastAppend
      await this.compacting
      // Leaving one snapshot behind makes the next load a single read and a single apply.
      if (wasReady && this.appendedSinceCompaction > 0 && options.compact !== false) {
        const started = performance.now()
        const snapshot = Y.encodeStateAsUpdate(this.doc)
        await this.ctx.store.compact(this.name, snapshot)
        this.ctx.observer.compacted?.(performance.now() - started, snapshot.length)
      }
    } catch (err) {
      this.ctx.logger.error({ doc: this.name, err: errorMessage(err) }, 'final flush failed')
    } finally {
      this.doc.destroy()
    }
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/**
 * What to apply of an update from outside (a client, the HTTP API), or a thrown error when it must be refused
 * ([PR2]). Yjs integrates an update's structs before it reads its delete set, so a delete set it fails on would
 * throw after part of the update was applied, relayed and stored: decoding it fully first keeps out a truncated
 * one, and empty delete ranges are refused because Yjs reads them, then fails on them only when they point past
 * what the document has. A struct that starts inside content the document already has (its client ID reused by
 * someone else) would be integrated from its first new clock under the parent it declares, while the document's
 * own encoding of it (what is stored and sent to new clients) names the parent of the struct before it: cutting
 * the known part off first gives every copy the same reading.
 */
function admissibleUpdate(doc: Y.Doc, update: Uint8Array, decoded = decodeAdmissible(update)): Uint8Array {
  const overlaps = decoded.structs.some((struct) => {
    const known = Y.getState(doc.store, struct.id.client)
    return struct.id.clock < known && struct.id.clock + struct.length > known
  })
  return overlaps ? Y.diffUpdate(update, Y.encodeStateVector(doc)) : update
}

/** The checks of {@link admissibleUpdate} that do not depend on the document: throws when the update is refused. */
function decodeAdmissible(update: Uint8Array): ReturnType<typeof Y.decodeUpdate> {
  const decoded = Y.decodeUpdate(update)
  for (const ranges of decoded.ds.clients.values()) {
    if (ranges.some((range) => range.len === 0)) throw new RangeError('the delete set has an empty range')
  }
  return decoded
}
