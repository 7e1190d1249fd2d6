import { type AwarenessEntry, decodeAwarenessEntries, encodeAwareness, encodeAwarenessEntries } from '@collab/protocol'
import type { Logger } from 'pino'
import * as Y from 'yjs'
import { type ExceptionSink, guarded } from './exception-sink.js'
import type { DocRelay, RelayMembership, RelayPeer } from './relay.js'
import type { AwarenessChange, AwarenessOwner, RoomAwareness } from './room-awareness.js'

/**
 * The origin of updates that are already stored: those another instance published (it publishes only what it
 * stored) and those reloaded from the shared store. A room relays them to its connections but neither appends nor
 * publishes them again.
 */
export const storedElsewhere = Symbol('stored elsewhere')

/** Another server instance, as the owner of its clients' presence in one room. */
class RemoteInstance implements AwarenessOwner {
  readonly clientIds = new Set<number>()
  closed = false

  constructor(readonly id: string) {}
}

/** What the relay link needs from its room. */
export interface RelayedRoom {
  readonly name: string
  readonly doc: Y.Doc
  readonly awareness: RoomAwareness
  isReady(): boolean
  isLive(): boolean
  readonly logger: Logger
  /** Sends a message to every connection of the room. */
  broadcast(message: Uint8Array): void
  /** The document's stored updates (the shared store's `load`). */
  loadStored(): Promise<Uint8Array[]>
  /** Another instance deleted the document. */
  deleted(): void
  /** Where a relay implementation that throws is reported (it is user-supplied code, like every hook). */
  readonly sink: ExceptionSink
}

/** A membership that does nothing: what a room has when its relay failed to join. */
const noMembership: RelayMembership = {
  ready: Promise.resolve(),
  publishUpdate: () => undefined,
  publishAwareness: () => undefined,
  leave: () => undefined,
}

/**
 * A room's link to the other instances that have its document loaded: publishes what happens here, applies what
 * happens there, keeps the presence of their clients (owned per instance), and reloads from the shared store
 * whenever the relay says something may have been missed (anti-entropy).
 */
export class RoomRelay implements RelayPeer {
  private readonly membership: RelayMembership
  private readonly remotes = new Map<string, RemoteInstance>()
  /** Updates that arrived before the document was loaded; applied once it is. */
  private early: Uint8Array[] = []
  private resyncing: Promise<void> | null = null
  private resyncAgain: string | null = null
  private left = false

  constructor(
    private readonly room: RelayedRoom,
    relay: DocRelay,
  ) {
    this.membership = guarded(room.sink, 'relay.join', () => relay.join(room.name, this), noMembership)
  }

  /** Resolves once the room may load from the store without missing another instance's update. */
  get ready(): Promise<void> {
    return this.membership.ready
  }

  publishUpdate(update: Uint8Array): void {
    guarded(this.room.sink, 'relay.publishUpdate', () => this.membership.publishUpdate(update), undefined)
  }

  publishAwareness(update: Uint8Array): void {
    guarded(this.room.sink, 'relay.publishAwareness', () => this.membership.publishAwareness(update), undefined)
  }

  /** Applies the updates that arrived while the document was loading; the room is ready and subscribed. */
  applyEarly(): void {
    const early = this.early
    this.early = []
    for (const update of early) this.update(update)
  }

  leave(): void {
    if (this.left) return
    this.left = true
    this.early = []
    guarded(this.room.sink, 'relay.leave', () => this.membership.leave(), undefined)
  }

  update(update: Uint8Array): void {
    if (this.left || !this.room.isLive()) return
    if (!this.room.isReady()) {
      this.early.push(update)
      return
    }
    try {
      Y.applyUpdate(this.room.doc, update, storedElsewhere)
    } catch (err) {
      this.room.logger.warn(
        { doc: this.room.name, err: err instanceof Error ? err.message : String(err) },
        'an update relayed from another instance does not decode; ignored',
      )
    }
  }

  awareness(instanceId: string, update: Uint8Array): void {
    if (this.left) return
    let entries: AwarenessEntry[]
    try {
      entries = decodeAwarenessEntries(update)
    } catch (err) {
      this.room.logger.warn(
        { doc: this.room.name, instance: instanceId, err: err instanceof Error ? err.message : String(err) },
        'awareness relayed from another instance does not decode; ignored',
      )
      return
    }
    let owner = this.remotes.get(instanceId)
    if (!owner) {
      owner = new RemoteInstance(instanceId)
      this.remotes.set(instanceId, owner)
    }
    this.announce(this.room.awareness.applyFromInstance(owner, entries))
  }

  localAwareness(): Uint8Array | null {
    return this.room.awareness.encodePresent((owner) => !(owner instanceof RemoteInstance))
  }

  instanceGone(instanceId: string): void {
    const owner = this.remotes.get(instanceId)
    if (!owner) return
    this.remotes.delete(instanceId)
    owner.closed = true
    this.announce(this.room.awareness.release(owner))
  }

  /** Relays an awareness change to this room's connections; client IDs now owned here are news for the others. */
  private announce(change: AwarenessChange): void {
    // Before the room is loaded nobody has been greeted; the greeting will carry the present states.
    if (change.relay && this.room.isReady()) this.room.broadcast(encodeAwareness(change.relay))
    if (change.handedOver.length > 0) this.publishAwareness(encodeAwarenessEntries(change.handedOver))
  }

  resync(reason: string): void {
    if (this.left || !this.room.isReady()) return
    if (this.resyncing) {
      this.resyncAgain = reason
      return
    }
    this.resyncing = this.reloadFromStore(reason).finally(() => {
      this.resyncing = null
      const again = this.resyncAgain
      this.resyncAgain = null
      if (again !== null) this.resync(again)
    })
  }

  /** Applies the stored document: whatever the relay failed to deliver is in it (Yjs ignores what is known). */
  private async reloadFromStore(reason: string): Promise<void> {
    const started = performance.now()
    let updates: Uint8Array[]
    try {
      updates = await this.room.loadStored()
    } catch (err) {
      // Not fatal: the room keeps working, and the next resync (periodic at the latest) tries again.
      this.room.logger.warn(
        { doc: this.room.name, reason, err: err instanceof Error ? err.message : String(err) },
        'resync from the store failed',
      )
      return
    }
    if (this.left || !this.room.isReady()) return
    const before = Y.encodeStateVector(this.room.doc)
    try {
      this.room.doc.transact(() => {
        for (const update of updates) Y.applyUpdate(this.room.doc, update, storedElsewhere)
      }, storedElsewhere)
    } catch (err) {
      this.room.logger.error(
        { doc: this.room.name, reason, err: err instanceof Error ? err.message : String(err) },
        'resync from the store failed: a stored update does not decode',
      )
      return
    }
    const gained = !equalBytes(before, Y.encodeStateVector(this.room.doc))
    this.room.logger[gained ? 'info' : 'debug'](
      { doc: this.room.name, reason, gained, ms: Math.round(performance.now() - started) },
      'resynced from the store',
    )
  }

  deleted(): void {
    if (!this.left) this.room.deleted()
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index])
}
