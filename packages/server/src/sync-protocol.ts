import {
  type AwarenessEntry,
  CloseCode,
  encodeAwareness,
  encodeSyncStep1,
  encodeSyncStep2,
  type Message,
} from '@collab/protocol'
import type { Logger } from 'pino'
import * as Y from 'yjs'
import type { Connection } from './connection.js'
import type { ExceptionSink } from './exception-sink.js'
import type { Limits } from './limits.js'
import type { SyncObserver } from './observer.js'
import type { RoomAwareness } from './room-awareness.js'
import {
  admitUpdate,
  type DecodedUpdate,
  decodeUpdate,
  holdsDeletedContent,
  type UpdateRefusal,
} from './update-admission.js'

/** What a protocol handler needs from its room. */
export interface ProtocolRoom {
  readonly name: string
  readonly doc: Y.Doc
  readonly awareness: RoomAwareness
  /** Clocks of the deleted incarnations of this document ([DL2]), or `null`. */
  readonly tombstone: ReadonlyMap<number, number> | null
  readonly isReady: boolean
  readonly limits: Limits
  readonly logger: Logger
  readonly observer: SyncObserver
  readonly sink: ExceptionSink
  /** Sends a message to every connection of the room but `except`. */
  broadcast(message: Uint8Array, except: unknown): void
  /** Tells the other instances about a presence change. */
  publishAwareness(update: Uint8Array): void
  /** Resolves once every update appended so far is durable. */
  written(): Promise<void>
  /** Closes one connection and forgets it at once. */
  drop(conn: Connection, code: number, reason: string): void
  /** Why `conn` may not bring new content of these structs' client IDs ([VH2]), or `null`. */
  claimRefusal(conn: Connection, structs: DecodedUpdate['structs']): string | null
}

/**
 * The most updates applied in one transaction when a read spans several turns: 2,048 keystroke-sized updates apply
 * in a few milliseconds, and a socket read of 64 KiB holds about that many.
 */
const maxUpdatesPerBatch = 2_048

/** Sync step 2 answers at least this large are kept for a repeated request while the document is unchanged. */
const cachedAnswerBytes = 64 * 1024

/** The least time between two requests for missing content to one connection ([SY4]). */
const askAgainAfterMs = 1_000

/**
 * The Yjs sync protocol of y-websocket (sync steps, updates, awareness) as one protocol handler of a room: the room
 * keeps the document, its storage and its connections; this answers what Yjs clients send.
 */
export class YjsSyncProtocol {
  /**
   * Document updates from one connection not applied yet: every update that arrives in one socket read is applied
   * in one Yjs transaction at its end ([SU4]), so a burst costs one update event, one relayed message, one stored
   * record and one acknowledgement instead of one each per update.
   */
  private batch: {
    conn: Connection
    updates: Array<{ update: Uint8Array; decoded: DecodedUpdate; seq: number; step2: boolean }>
  } | null = null
  /** The last sync step 2 answer and the state vector it answered, while the document is unchanged ([LM6]). */
  private lastAnswer: { stateVector: string; message: Uint8Array } | null = null
  /** Whether the end of the current task will apply the batch (or see that it may wait for the rest of the read). */
  private applyScheduled = false

  constructor(private readonly room: ProtocolRoom) {}

  /** Whether this handler answers `message`. */
  handles(message: Message): boolean {
    return (
      message.type === 'sync-step-1' ||
      message.type === 'sync-step-2' ||
      message.type === 'sync-update' ||
      message.type === 'awareness' ||
      message.type === 'query-awareness'
    )
  }

  /** The greeting of a connection once the document is loaded ([SY1]). */
  greet(conn: Connection): void {
    conn.send(encodeSyncStep1(Y.encodeStateVector(this.room.doc)))
    const present = this.room.awareness.encodePresent()
    if (present) {
      conn.send(encodeAwareness(present))
      conn.grantEcho(this.room.limits.messageBurst)
    }
  }

  /** The document changed: a cached answer is stale. */
  documentChanged(): void {
    this.lastAnswer = null
  }

  /**
   * Whether an awareness message from `conn` is the echo of one the server sent it: it changes nothing and the
   * connection has echoes left. y-websocket clients send back every awareness change they apply, so without this
   * a busy room would push innocent clients over their message budget ([LM2]).
   */
  takeEcho(conn: Connection, entries: readonly AwarenessEntry[]): boolean {
    return (
      this.room.isReady && conn.echoCredit > 0 && this.room.awareness.changesNothing(conn, entries) && conn.takeEcho()
    )
  }

  /** Handles a message this handler {@link YjsSyncProtocol.handles}, once the document is loaded. */
  handle(conn: Connection, message: Message): void {
    switch (message.type) {
      case 'sync-step-2':
      case 'sync-update':
        this.receiveUpdate(conn, message.update, message.type === 'sync-step-2')
        return
      case 'sync-step-1':
        if (holdsDeletedContent(message.stateVector, this.room.tombstone)) {
          this.refuse(conn, { kind: 'deleted', reason: 'the client holds content of a deleted document' })
          return
        }
        conn.send(this.answerStep1(message.stateVector))
        return
      case 'awareness': {
        const relayed = this.room.awareness.apply(conn, message.entries, message.update)
        if (relayed) {
          this.room.broadcast(encodeAwareness(relayed), null)
          this.room.publishAwareness(relayed)
        }
        return
      }
      case 'query-awareness': {
        const present = this.room.awareness.encodePresent()
        if (present) conn.send(encodeAwareness(present))
        return
      }
      default:
        return
    }
  }

  /**
   * Sync step 2 for a state vector. A repeated request with the same state vector while the document is unchanged
   * gets the same bytes without encoding them again: a client asking for a large document many times costs one
   * encoding, and what it may have queued is bounded by the connection's send queue ([LM6]).
   */
  private answerStep1(stateVector: Uint8Array): Uint8Array {
    const key = Buffer.from(stateVector).toString('latin1')
    if (this.lastAnswer?.stateVector === key) return this.lastAnswer.message
    const message = encodeSyncStep2(Y.encodeStateAsUpdate(this.room.doc, stateVector))
    // Only answers worth encoding once are kept: an idle room would otherwise hold a copy of its document.
    this.lastAnswer = message.length >= cachedAnswerBytes ? { stateVector: key, message } : null
    return message
  }

  /** Counts a document update from a connection and adds it to the batch applied at the end of this read. */
  private receiveUpdate(conn: Connection, update: Uint8Array, step2: boolean): void {
    const seq = conn.nextDocMessage()
    if (conn.access === 'read') {
      // Dropped, never acknowledged (it is not stored), and logged without flooding the log ([AU3]).
      const dropped = conn.countDroppedUpdate()
      this.room.observer.updateDropped?.()
      if (dropped === 1 || dropped % 100 === 0) {
        this.room.logger.warn(
          { doc: this.room.name, conn: conn.id, user: conn.user, dropped },
          'update from a read-only connection dropped',
        )
      }
      return
    }
    // Refused on arrival, in order with the connection's other messages; applied with the rest of its read.
    const decoded = decodeUpdate(update, this.room.limits)
    if (!decoded.ok) {
      this.applyPendingUpdates()
      this.refuse(conn, decoded.refusal)
      return
    }
    if (this.batch && this.batch.conn !== conn) this.applyPendingUpdates()
    if (this.batch) this.batch.updates.push({ update, decoded: decoded.decoded, seq, step2 })
    else this.batch = { conn, updates: [{ update, decoded: decoded.decoded, seq, step2 }] }
    if (this.applyScheduled) return
    this.applyScheduled = true
    // Messages of one socket read are handled one after another in one task; this runs once they all were.
    queueMicrotask(() => {
      this.applyScheduled = false
      const batch = this.batch
      // The read is handled in turns (InboundFlow): its updates wait for the rest of it, up to a bound, so that a
      // fast client's burst is still one transaction, one relay and one stored record per read.
      if (!batch || (batch.conn.midRead && !batch.conn.closed && batch.updates.length < maxUpdatesPerBatch)) return
      try {
        this.applyPendingUpdates()
      } catch (err) {
        // Out of the message's call stack, so the server's own guard cannot see it: the same outcome by hand.
        this.room.sink.report('applying updates', err, { doc: this.room.name, conn: batch.conn.id })
        this.room.drop(batch.conn, CloseCode.BadMessage, 'the server failed to handle a message')
      }
    })
  }

  /**
   * Applies the waiting updates of one connection in one transaction, then acknowledges them once stored. The room
   * calls it before it answers anything else, so that answers keep their order ([SU4]).
   */
  applyPendingUpdates(): void {
    const batch = this.batch
    if (!batch) return
    this.batch = null
    if (!this.room.isReady) return
    const { conn, updates } = batch
    const doc = this.room.doc
    let lastApplied = 0
    let missing = false
    let refusal: UpdateRefusal | null = null
    let forbidden: string | null = null
    doc.transact(() => {
      for (const { update, decoded, seq, step2 } of updates) {
        const admitted = admitUpdate(doc, update, decoded, this.room.tombstone)
        if (!admitted.ok && admitted.refusal.kind === 'missing') {
          // Not applied, not stored, not acknowledged; what depends on it in this batch is missing too ([SY4]).
          missing = true
          conn.holdSaveAcks(seq)
          this.room.observer.updateRefused?.('missing')
          continue
        }
        if (!admitted.ok) {
          refusal = admitted.refusal
          return
        }
        // Content written under another user's client ID would be credited to that user ([VH2]).
        forbidden = this.room.claimRefusal(conn, decoded.structs)
        if (forbidden) return
        try {
          Y.applyUpdate(doc, admitted.update, conn)
        } catch (err) {
          // The updates before it are applied (and stored when the transaction ends); it and those after are not.
          refusal = { kind: 'invalid', reason: `the update does not apply: ${errorText(err)}` }
          return
        }
        if (step2) conn.syncStep2Applied(seq)
        lastApplied = seq
      }
    }, conn)
    if (refusal) {
      this.refuse(conn, refusal)
      return
    }
    if (forbidden) {
      this.room.observer.updateRefused?.('invalid')
      this.room.logger.warn(
        { doc: this.room.name, conn: conn.id, user: conn.user, reason: forbidden },
        'update refused',
      )
      this.room.drop(conn, CloseCode.Forbidden, forbidden)
      return
    }
    if (missing) this.askForMissing(conn)
    if (lastApplied === 0 || !conn.wantsSaveAck) return
    // written() now covers these updates if they changed the document; if they did not, whatever they duplicated
    // is stored once earlier appends are.
    this.room.written().then(
      () => {
        if (this.room.isReady && !conn.closed) conn.acknowledgeSaved(lastApplied)
      },
      () => undefined,
    )
  }

  /** Asks a connection, with sync step 1, for the content its updates depend on ([SY4]); at most once a second. */
  private askForMissing(conn: Connection): void {
    if (!conn.mayAskForMissing(Date.now(), askAgainAfterMs)) return
    this.room.logger.info({ doc: this.room.name, conn: conn.id }, 'update depends on missing content; asked for it')
    conn.send(encodeSyncStep1(Y.encodeStateVector(this.room.doc)))
  }

  /** Closes a connection whose update (or state) cannot be accepted, with the code its reason calls for. */
  private refuse(conn: Connection, refusal: UpdateRefusal): void {
    this.room.observer.updateRefused?.(refusal.kind === 'deleted' ? 'deleted' : 'invalid')
    this.room.logger.warn({ doc: this.room.name, conn: conn.id, reason: refusal.reason }, 'update refused')
    if (refusal.kind === 'deleted') this.room.drop(conn, CloseCode.UnknownDocument, 'deleted')
    else this.room.drop(conn, CloseCode.BadMessage, `update refused: ${refusal.reason}`)
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
