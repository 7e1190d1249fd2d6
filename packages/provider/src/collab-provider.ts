import { encodeAwareness, encodeSyncStep1, encodeSyncStep2, encodeSyncUpdate, type Message } from '@collab/protocol'
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate, removeAwarenessStates } from 'y-protocols/awareness'
import * as Y from 'yjs'
import { Connection, type ConnectionOptions, type TokenSource } from './connection.js'
import { onLaterYjsCopy, yjsSetupProblem } from './duplicate-yjs.js'
import type { ConnectionStatus, ProviderStatus } from './status.js'

/** Options of {@link CollabProvider}. */
export interface CollabProviderOptions extends ConnectionOptions {
  doc: Y.Doc
  /** Presence to share; created (and destroyed with the provider) when omitted. */
  awareness?: Awareness
}

type StatusListener = (status: ProviderStatus) => void

/**
 * Keeps a Y.Doc and its awareness in sync with the collab server (or any y-websocket server) over one WebSocket,
 * and keeps that WebSocket alive: heartbeat pings, reconnects with backoff and jitter, and save acknowledgements
 * that say when local changes are really stored.
 */
export class CollabProvider {
  readonly doc: Y.Doc
  readonly awareness: Awareness
  private readonly ownsAwareness: boolean
  private readonly connection: Connection
  private readonly stopWatchingYjsCopies: () => void
  private destroyed = false

  constructor(options: CollabProviderOptions) {
    this.doc = options.doc
    this.ownsAwareness = options.awareness === undefined
    this.awareness = options.awareness ?? new Awareness(options.doc)
    this.connection = new Connection(options, {
      opened: () => this.startSync(),
      received: (message) => this.handle(message),
      closed: () => this.forgetOthers(),
    })
    this.doc.on('update', this.onDocUpdate)
    this.awareness.on('update', this.onAwarenessUpdate)
    // Two copies of Yjs merge documents wrongly without a sound: refuse, visibly, rather than corrupt them.
    this.stopWatchingYjsCopies = onLaterYjsCopy(() => this.refuseSetup(yjsSetupProblem(this.doc)))
    const problem = yjsSetupProblem(this.doc)
    if (problem !== null) this.refuseSetup(problem)
    else if (options.connect !== false) this.connection.connect()
  }

  /** The current status; {@link CollabProvider.onStatus} tells when it changes. */
  get status(): ProviderStatus {
    return this.connection.status
  }

  /** Calls `listener` with every status change; returns a function that unsubscribes it. */
  onStatus(listener: StatusListener): () => void {
    return this.connection.onStatus(listener)
  }

  /** Connects, and keeps reconnecting until {@link CollabProvider.disconnect}. Clears a terminal error. */
  connect(): void {
    this.connection.connect()
  }

  /** Closes the connection and stops reconnecting. Local edits keep working and are sent after `connect()`. */
  disconnect(): void {
    this.connection.disconnect()
  }

  /**
   * Refuses to connect because of a problem on this side (a duplicate Yjs, say): status `offline` with
   * `error: { code: 0, reason }`, until {@link CollabProvider.connect}.
   */
  fail(reason: string): void {
    this.connection.fail(reason)
  }

  /** Announces that this user left, closes the connection and releases every timer and listener. */
  destroy(): void {
    if (this.destroyed) return
    if (this.connection.hasSocket && this.awareness.getLocalState() !== null) {
      // The awareness's own ID: Yjs gives the document a new one when it sees its ID in someone else's update.
      removeAwarenessStates(this.awareness, [this.awareness.clientID], 'destroy')
    }
    this.connection.destroy()
    this.stopWatchingYjsCopies()
    this.destroyed = true
    this.doc.off('update', this.onDocUpdate)
    this.awareness.off('update', this.onAwarenessUpdate)
    if (this.ownsAwareness) this.awareness.destroy()
  }

  private refuseSetup(problem: string | null): void {
    if (problem === null || this.destroyed) return
    console.error(`[collab] @collab/provider cannot sync: ${problem}`)
    this.connection.fail(problem)
  }

  private startSync(): void {
    this.connection.send(encodeSyncStep1(Y.encodeStateVector(this.doc)))
    const local = this.awareness.getLocalState()
    // Setting the state again raises its clock, which is what lets a returning client's presence replace the
    // removal the server announced when the previous socket died ([AW3]).
    if (local !== null) this.awareness.setLocalState(local)
  }

  private handle(message: Message): void {
    switch (message.type) {
      case 'sync-step-1':
        if (this.connection.send(encodeSyncStep2(Y.encodeStateAsUpdate(this.doc, message.stateVector)))) {
          this.connection.carrierSent()
        }
        return
      case 'sync-step-2':
        Y.applyUpdate(this.doc, message.update, this)
        this.connection.markSynced()
        return
      case 'sync-update':
        Y.applyUpdate(this.doc, message.update, this)
        return
      case 'awareness':
        applyAwarenessUpdate(this.awareness, message.update, this)
        return
      case 'query-awareness':
        this.connection.send(
          encodeAwareness(encodeAwarenessUpdate(this.awareness, [...this.awareness.getStates().keys()])),
        )
        return
      default:
        // A collab (104) message is only ever sent to connections that asked for @codemirror/collab ([OT1]).
        return
    }
  }

  /** The socket is gone: everyone else's presence with it. */
  private forgetOthers(): void {
    // Not `doc.clientID`: Yjs changes it when another client writes with it, and the local presence would go.
    const others = [...this.awareness.getStates().keys()].filter((id) => id !== this.awareness.clientID)
    if (others.length > 0) removeAwarenessStates(this.awareness, others, this)
  }

  private readonly onDocUpdate = (update: Uint8Array, origin: unknown): void => {
    if (origin === this) return
    if (this.connection.send(encodeSyncUpdate(update))) this.connection.updateSent()
    else this.connection.changeNotSent()
  }

  private readonly onAwarenessUpdate = (
    { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown,
  ): void => {
    if (origin === this) return
    const changed = [...added, ...updated, ...removed]
    this.connection.send(encodeAwareness(encodeAwarenessUpdate(this.awareness, changed)))
  }
}

export type { ConnectionStatus, TokenSource }
