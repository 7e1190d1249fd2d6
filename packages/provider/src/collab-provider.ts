import {
  Capability,
  CloseCode,
  encodeAwareness,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
  type Message,
} from '@collab/protocol'
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate, removeAwarenessStates } from 'y-protocols/awareness'
import * as Y from 'yjs'
import { Connection, type ConnectionOptions, type TokenSource } from './connection.js'
import { onLaterYjsCopy, yjsSetupProblem } from './duplicate-yjs.js'
import { LocalStore, type LocalStoreOptions } from './local-store.js'
import { type ConnectionStatus, type ProviderStatus, sameStatus } from './status.js'
import { TabSync } from './tab-sync.js'
import { presenceHandOver, yjsPollState } from './transport-presence.js'

/** Options of {@link CollabProvider}. */
export interface CollabProviderOptions extends ConnectionOptions {
  doc: Y.Doc
  /** Presence to share; created (and destroyed with the provider) when omitted. */
  awareness?: Awareness
  /**
   * Keeps a copy of the document in this browser's IndexedDB ({@link LocalStore}): loaded before the first sync,
   * every change written, so edits survive a reload, a closed tab or a crash while offline. `true` for the
   * defaults, or options (another IndexedDB factory, such as fake-indexeddb in Node). Default off.
   */
  localStore?: boolean | LocalStoreOptions
  /**
   * Shares changes with the other tabs of this browser that have the document open, also while the server is
   * unreachable (BroadcastChannel). Default: on when `localStore` is.
   */
  tabSync?: boolean
  /**
   * How long the first connection waits for the local copy to load before it goes ahead without it (a browser
   * whose IndexedDB hangs must not keep the document offline). Default 3,000 ms.
   */
  localLoadTimeoutMs?: number
}

type StatusListener = (status: ProviderStatus) => void

/**
 * The close reason (with code 4404) of a local copy that belongs to another incarnation of the document than the
 * one the server serves ([IN1]): the document was deleted (and perhaps created again), or the server's storage was
 * wiped or restored, since this browser kept its copy. The copy is kept as a recovered copy.
 */
export const replacedReason = 'replaced'

/**
 * Where the current connection stands with the server's incarnation ([IN1]): `open` (syncing as usual), `hello`
 * (the local copy names an incarnation; waiting for the server's hello to know whether it names its own),
 * `incarnation` (waiting for the server's incarnation before sending anything of the copy) or `refused` (the copy
 * belongs to another incarnation: it was set aside, and this provider never syncs again).
 */
type IncarnationGate = 'open' | 'hello' | 'incarnation' | 'refused'

/**
 * How long a copy that names an incarnation waits for the server's hello after the server's first message, before
 * it takes the server for one that answers none (a stock y-websocket server) and syncs as before. Ours answers
 * hello as soon as it reads it (the first message of a connection); only its sync step 1 may come first ([IN1]).
 */
const helloGraceMs = 5_000

/** The close reasons of a document deleted on the server ([DL1] while open, [DL2] for a copy of deleted content). */
const deletedReasons = new Set(['document deleted', 'deleted'])

/**
 * Keeps a Y.Doc and its awareness in sync with the collab server (or any y-websocket server) over one WebSocket,
 * and keeps that WebSocket alive: heartbeat pings, reconnects with backoff and jitter, and save acknowledgements
 * that say when local changes are really stored.
 */
export class CollabProvider {
  readonly doc: Y.Doc
  readonly awareness: Awareness
  private readonly ownsAwareness: boolean
  private readonly docName: string
  private readonly connection: Connection
  private readonly stopWatchingYjsCopies: () => void
  private destroyed = false
  /** This browser's copy of the document, when the `localStore` option asked for one. */
  readonly localStore: LocalStore | null
  private readonly tabSync: TabSync | null
  /** Resolves once the local copy is in the Y.Doc (at once without a local store); never rejects. */
  readonly loaded: Promise<void>
  private isLoaded: boolean
  /** Whether a connect was asked for before the local copy loaded; it happens once it has. */
  private connectWhenLoaded = false
  private readonly statusListeners = new Set<StatusListener>()
  private currentStatus: ProviderStatus
  private incarnationGate: IncarnationGate = 'open'
  /** Document messages the server sent while the gate was closed, handled in order once it opens. */
  private held: Message[] = []
  private helloTimer: ReturnType<typeof setTimeout> | null = null

  constructor(options: CollabProviderOptions) {
    this.doc = options.doc
    this.docName = options.docName
    this.ownsAwareness = options.awareness === undefined
    this.awareness = options.awareness ?? new Awareness(options.doc)
    this.connection = new Connection(options, {
      opened: () => this.opened(),
      received: (message) => this.handle(message),
      closed: () => {
        this.releaseHeld()
        this.forgetOthers()
      },
      // While the copy waits for the server's incarnation, a poll restates presence only, not the state vector.
      pollState: () => yjsPollState(this.doc, this.awareness).slice(this.incarnationGate === 'open' ? 0 : 1),
      handOver: () => presenceHandOver(this.awareness),
      // Only a client that keeps a copy needs to know whether the copy belongs to the document the server serves.
      capabilities: options.localStore ? [Capability.Incarnation] : [],
      helloAnswered: (capabilities) => this.helloAnswered(capabilities),
    })
    this.localStore = options.localStore
      ? new LocalStore(this.doc, options.docName, options.localStore === true ? {} : options.localStore)
      : null
    // Before the connection's handler: when a change makes it unsaved, the store already has it in hand, so the
    // status never says "on this device" for a change the store has not written.
    if (this.localStore) this.doc.on('update', this.onDocUpdateForLocalStore)
    this.doc.on('update', this.onDocUpdate)
    this.awareness.on('update', this.onAwarenessUpdate)
    this.tabSync = (options.tabSync ?? Boolean(options.localStore)) ? new TabSync(this.doc, options.docName) : null
    this.currentStatus = this.combinedStatus()
    this.connection.onStatus(() => this.refreshStatus())
    this.localStore?.onStatus(() => this.refreshStatus())
    this.isLoaded = this.localStore === null
    this.loaded = this.localStore
      ? this.waitForLocalCopy(options.docName, options.localLoadTimeoutMs ?? 3_000)
      : Promise.resolve()
    // Two copies of Yjs merge documents wrongly without a sound: refuse, visibly, rather than corrupt them.
    this.stopWatchingYjsCopies = onLaterYjsCopy(() => this.refuseSetup(yjsSetupProblem(this.doc)))
    const problem = yjsSetupProblem(this.doc)
    if (problem !== null) this.refuseSetup(problem)
    else if (options.connect !== false) this.connect()
  }

  /** The current status; {@link CollabProvider.onStatus} tells when it changes. */
  get status(): ProviderStatus {
    return this.currentStatus
  }

  /** Calls `listener` with every status change; returns a function that unsubscribes it. */
  onStatus(listener: StatusListener): () => void {
    this.statusListeners.add(listener)
    return () => this.statusListeners.delete(listener)
  }

  /**
   * Connects, and keeps reconnecting until {@link CollabProvider.disconnect}. Clears a terminal error. With a
   * local store, the first connection waits for the local copy to load, so the first sync carries it.
   */
  connect(): void {
    if (this.incarnationGate === 'refused') {
      // The Y.Doc still holds the other incarnation's content: syncing it now would bring it back.
      this.connection.fail(replacedReason, CloseCode.UnknownDocument)
      return
    }
    if (!this.isLoaded) {
      this.connectWhenLoaded = true
      return
    }
    this.connection.connect()
  }

  /** Closes the connection and stops reconnecting. Local edits keep working and are sent after `connect()`. */
  disconnect(): void {
    this.connectWhenLoaded = false
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
    this.releaseHeld()
    this.stopWatchingYjsCopies()
    this.destroyed = true
    this.doc.off('update', this.onDocUpdate)
    this.doc.off('update', this.onDocUpdateForLocalStore)
    this.tabSync?.destroy()
    this.localStore?.destroy()
    this.statusListeners.clear()
    this.awareness.off('update', this.onAwarenessUpdate)
    if (this.ownsAwareness) this.awareness.destroy()
  }

  private async waitForLocalCopy(docName: string, timeoutMs: number): Promise<void> {
    const store = this.localStore!
    let timer: ReturnType<typeof setTimeout> | undefined
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        console.warn(`[collab] the local copy of "${docName}" did not load in ${timeoutMs} ms; syncing without it`)
        resolve()
      }, timeoutMs)
    })
    await Promise.race([store.loaded, timedOut])
    clearTimeout(timer)
    this.isLoaded = true
    if (this.connectWhenLoaded && !this.destroyed) this.connection.connect()
  }

  /** The connection's status, with where local changes are kept when there is a local store. */
  private combinedStatus(): ProviderStatus {
    const base = this.connection.status
    const store = this.localStore
    if (!store) return base
    const local = store.status
    // A copy set aside after a deletion holds every change too (and nothing can be added: the document is gone).
    const onDevice = (local.state === 'ready' && local.written) || local.state === 'set-aside'
    return { ...base, localStore: local, saved: !base.unsaved ? 'server' : onDevice ? 'device' : 'none' }
  }

  private refreshStatus(): void {
    const error = this.connection.status.error
    // [DL2]: the server deleted the document this copy belongs to. Sending it again would bring it back (and is
    // refused); keeping it as it is would be refused on every load. It becomes a recovered copy instead, unless the
    // server had acknowledged all of it (a deletion while this tab was online and saved): then it only goes.
    if (error?.code === CloseCode.UnknownDocument && deletedReasons.has(error.reason)) {
      void this.localStore?.setAside({ keep: this.connection.status.unsaved })
    }
    const next = this.combinedStatus()
    if (sameStatus(next, this.currentStatus)) return
    this.currentStatus = next
    for (const listener of [...this.statusListeners]) {
      try {
        listener(next)
      } catch (err) {
        console.error('[collab] a status listener threw', err)
      }
    }
  }

  /**
   * Every change, local or received, goes to the local store; except what the store or another tab wrote. What the
   * server sent is written in the background: it is not at risk.
   */
  private readonly onDocUpdateForLocalStore = (update: Uint8Array, origin: unknown): void => {
    const store = this.localStore
    if (!store || origin === store || (this.tabSync !== null && origin === this.tabSync)) return
    store.write(update, origin === this)
  }

  private refuseSetup(problem: string | null): void {
    if (problem === null || this.destroyed) return
    console.error(`[collab] @collab/provider cannot sync: ${problem}`)
    this.connection.fail(problem)
  }

  /**
   * A connection opened. When the local copy names the server incarnation it belongs to ([IN1]), nothing of it is
   * sent (not even sync step 1) until the server named its own: see {@link CollabProvider.incarnationReceived}.
   */
  private opened(): void {
    this.releaseHeld()
    if (this.incarnationGate === 'refused') return
    const stored = this.localStore?.incarnation ?? null
    this.incarnationGate = stored === null ? 'open' : 'hello'
    if (this.incarnationGate === 'open') this.startSync()
  }

  private helloAnswered(capabilities: ReadonlySet<string>): void {
    if (this.incarnationGate !== 'hello') return
    // A server older than incarnations: nothing to compare, so it syncs as it always did.
    if (capabilities.has(Capability.Incarnation)) this.incarnationGate = 'incarnation'
    else this.openGate()
  }

  /**
   * The server named the incarnation it serves ([IN1]). The same as the copy's (or the copy names none yet, and
   * now it does): the sync goes on. Another: the copy belongs to a document the server no longer has, and sending
   * it would bring that back; it becomes a recovered copy (kept whatever the server had acknowledged, since this
   * incarnation has none of it), and the provider stops with error 4404 {@link replacedReason}.
   */
  private incarnationReceived(id: string): void {
    const store = this.localStore
    if (!store || this.incarnationGate === 'refused') return
    const stored = store.incarnation
    if (stored !== null && stored !== id) {
      this.incarnationGate = 'refused'
      this.releaseHeld()
      // Other tabs open on the new incarnation must not be handed the old content either.
      this.tabSync?.destroy()
      console.warn(
        `[collab] the local copy of "${this.docName}" belongs to a deleted or replaced incarnation of the document; ` +
          'it is kept as a recovered copy',
      )
      void store.setAside({ keep: true })
      this.connection.fail(replacedReason, CloseCode.UnknownDocument)
      return
    }
    if (stored === null) void store.recordIncarnation(id)
    if (this.incarnationGate !== 'open') this.openGate()
  }

  private openGate(): void {
    this.incarnationGate = 'open'
    const held = this.held
    this.releaseHeld()
    this.startSync()
    for (const message of held) this.handle(message)
  }

  /** Forgets the messages held back for the gate, and the wait for a hello. */
  private releaseHeld(): void {
    this.held = []
    if (this.helloTimer) clearTimeout(this.helloTimer)
    this.helloTimer = null
  }

  private startSync(): void {
    this.connection.send(encodeSyncStep1(Y.encodeStateVector(this.doc)))
    const local = this.awareness.getLocalState()
    // Setting the state again raises its clock, which is what lets a returning client's presence replace the
    // removal the server announced when the previous socket died ([AW3]).
    if (local !== null) this.awareness.setLocalState(local)
  }

  private handle(message: Message): void {
    if (message.type === 'incarnation') {
      this.incarnationReceived(message.id)
      return
    }
    if (this.incarnationGate === 'refused') return
    const holding = this.incarnationGate === 'hello' || this.incarnationGate === 'incarnation'
    if (holding && message.type !== 'awareness' && message.type !== 'query-awareness') {
      this.held.push(message)
      // Our server may send its sync step 1 before its hello; a server that sends one and no hello answers none.
      if (this.incarnationGate === 'hello' && !this.helloTimer) {
        this.helloTimer = setTimeout(() => {
          this.helloTimer = null
          if (this.incarnationGate === 'hello') this.openGate()
        }, helloGraceMs)
      }
      return
    }
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
    if (this.incarnationGate !== 'open') {
      // Not sent before the server named its incarnation (or ever, once refused): the sync step 2 carries it.
      this.connection.changeNotSent()
      return
    }
    if (this.connection.send(encodeSyncUpdate(update))) this.connection.updateSent()
    else this.connection.changeNotSent()
  }

  private readonly onAwarenessUpdate = (
    { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown,
  ): void => {
    if (origin === this) {
      // The server removed this client's own state and y-protocols kept it, at a higher clock: the server must hear
      // that clock, or others would not see this client again ([HT10]).
      const own = this.awareness.clientID
      if (updated.includes(own) && this.awareness.getLocalState() !== null) {
        this.connection.send(encodeAwareness(encodeAwarenessUpdate(this.awareness, [own])))
      }
      return
    }
    const changed = [...added, ...updated, ...removed]
    this.connection.send(encodeAwareness(encodeAwarenessUpdate(this.awareness, changed)))
  }
}

export type { ConnectionStatus, TokenSource }
