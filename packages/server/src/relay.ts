/**
 * The port through which several server instances that share one store (PostgreSQL) carry a document's live
 * updates and presence to each other. Each instance passes its own relay to `createSyncServer({ relay })`; a room
 * joins the relay for its document once it starts loading and leaves it when it unloads.
 *
 * What an implementation must guarantee (the Redis relay of `@collab/cluster` does, see ARCHITECTURE.md):
 * - every update published after a membership is {@link RelayMembership.ready} reaches that membership, or the
 *   membership is told to {@link RelayPeer.resync} from the shared store; rooms publish updates only once they are
 *   stored, so what was published before `ready` is in the store the room loads after `ready`;
 * - an instance that stops publishing heartbeats is reported through {@link RelayPeer.instanceGone} to every room
 *   that heard from it, so its clients' presence does not outlive it.
 */
export interface DocRelay {
  /** This instance's identity, as the other instances see it. */
  readonly instanceId: string
  /** Starts relaying `docName` to and from `peer`. One membership per room; rooms of the same name do not overlap. */
  join(docName: string, peer: RelayPeer): RelayMembership
  /** Tells the other instances that `docName` was deleted, whether or not it is loaded here. Never throws. */
  publishDeleted(docName: string): void
}

/** One room's link to the relay. */
export interface RelayMembership {
  /**
   * Resolves once the membership is positioned (see {@link DocRelay}); the room loads its document after this.
   * Never rejects: a relay that cannot reach its broker resolves anyway and resyncs the room once it can.
   */
  readonly ready: Promise<void>
  /**
   * Sends a local update (from a client or the HTTP API) to the other instances, once it is stored: they do not
   * store it again. Never throws.
   */
  publishUpdate(update: Uint8Array): void
  /** Sends an awareness update about clients connected to this instance. Never throws. */
  publishAwareness(update: Uint8Array): void
  /** Stops relaying; nothing reaches the peer afterwards. */
  leave(): void
}

/** What the relay calls on a room. Calls arrive on the event loop, never re-entrantly from a publish. */
export interface RelayPeer {
  /** An update another instance stored and applied: it is not stored again here. */
  update(update: Uint8Array): void
  /** An awareness update about clients connected to instance `instanceId`. */
  awareness(instanceId: string, update: Uint8Array): void
  /**
   * The presence of this instance's own clients, as one awareness update, or `null`; asked when another instance
   * joins the document (or comes back) so it learns who is here.
   */
  localAwareness(): Uint8Array | null
  /** Instance `instanceId` left or stopped answering: its clients' presence must go. */
  instanceGone(instanceId: string): void
  /**
   * Something may not have been delivered (the broker connection was lost, a reader fell behind, a periodic
   * check): reload the document from the shared store and apply it (applying known updates again is harmless).
   */
  resync(reason: string): void
  /** Another instance deleted the document. */
  deleted(): void
}
