import { type AwarenessEntry, encodeAwarenessEntries } from '@collab/protocol'

/**
 * Who may change a client ID's presence: a connection of this server, or another server instance (for the clients
 * connected to it, see relay.ts). `clientIds` is the owner's own record of the client IDs it introduced.
 */
export interface AwarenessOwner {
  readonly clientIds: Set<number>
  /** A closed owner can no longer take over client IDs it claimed. */
  readonly closed: boolean
  /** The authenticated user, if any: a client ID stays with the user who introduced it ([AW2]). */
  readonly user?: string | undefined
}

interface ClientPresence {
  clock: number
  /** `null` once the client left; the clock is kept so that older messages cannot bring it back. */
  state: unknown
  owner: AwarenessOwner | null
  /** The user who introduced the client ID, if authenticated; kept after its owner left ([AW2]). */
  user: string | undefined
  /** When the client left (ms since the epoch); departed clients are forgotten after a grace period ([AW6]). */
  leftAt?: number
}

/**
 * How long a departed client's clock (and user) is remembered ([AW6]): long enough that a late message cannot bring
 * it back (y-protocols clients drop states not renewed for 30 s), short enough that a long-lived room's table does not
 * grow with every visitor it ever had.
 */
export const departedClientGraceMs = 60_000

/** What an owner's entries or departure changed: everything to relay, and which entries changed hands. */
export interface AwarenessChange {
  /** The entries to relay to the room's connections (`null` when nothing changed). */
  relay: Uint8Array | null
  /**
   * Entries that now belong to another owner that had claimed them ([AW5]): when the change came from another
   * instance, these are news that this instance must announce itself.
   */
  handedOver: AwarenessEntry[]
}

/**
 * The presence states of one room, with who owns each client ID. Follows y-protocols' awareness rules for clocks
 * (a newer clock wins; an equal clock may only remove) and adds ownership: the connection that introduced a
 * client ID is the only one that may change or remove it while it is connected ([AW2]). With several instances,
 * the clients of another instance are owned by that instance.
 */
export class RoomAwareness {
  private readonly clients = new Map<number, ClientPresence>()
  /**
   * The latest entry another connection sent for a client ID it does not own. A client that reconnects while
   * the server has not yet noticed its old connection died lands here; when the old connection goes, its
   * presence is handed over instead of removed, so the person never blinks out for the others.
   */
  private readonly claims = new Map<number, { conn: AwarenessOwner; entry: AwarenessEntry }>()

  /** @param clientIdsPerConnection how many client IDs one connection may introduce ([LM3]). */
  constructor(private readonly clientIdsPerConnection = Number.POSITIVE_INFINITY) {}

  /**
   * Applies what `conn` sent and returns the awareness update to relay to everyone (the received bytes when
   * every entry was accepted as it was), or `null` when nothing changed.
   */
  apply(conn: AwarenessOwner, entries: readonly AwarenessEntry[], received: Uint8Array): Uint8Array | null {
    const { accepted, handedOver } = this.accept(conn, entries, this.clientIdsPerConnection)
    if (accepted.length === 0) return null
    const unchanged = handedOver.length === 0 && accepted.length === entries.length
    return unchanged ? received : encodeAwarenessEntries(accepted)
  }

  /** Applies entries another instance sent about its own clients (no per-connection limit applies). */
  applyFromInstance(instance: AwarenessOwner, entries: readonly AwarenessEntry[]): AwarenessChange {
    const { accepted, handedOver } = this.accept(instance, entries, Number.POSITIVE_INFINITY)
    return { relay: accepted.length === 0 ? null : encodeAwarenessEntries(accepted), handedOver }
  }

  private accept(
    owner: AwarenessOwner,
    entries: readonly AwarenessEntry[],
    maxClientIds: number,
  ): { accepted: AwarenessEntry[]; handedOver: AwarenessEntry[] } {
    const accepted: AwarenessEntry[] = []
    const handedOver: AwarenessEntry[] = []
    for (const entry of entries) {
      const known = this.clients.get(entry.clientID)
      // Another user's client ID, even while its connection is gone and its client is about to come back.
      if (known?.user !== undefined && known.user !== owner.user) continue
      if (known?.owner && known.owner !== owner) {
        this.claims.set(entry.clientID, { conn: owner, entry })
        continue
      }
      if (!owner.clientIds.has(entry.clientID) && owner.clientIds.size >= maxClientIds) continue
      const knownClock = known?.clock ?? 0
      const present = known !== undefined && known.state !== null
      const newer = entry.clock > knownClock
      const removesPresent = entry.clock === knownClock && entry.state === null && present
      if (!newer && !removesPresent) continue
      if (entry.state === null) {
        owner.clientIds.delete(entry.clientID)
        // The owner let go of a client that reconnected elsewhere meanwhile: the newer claim takes over ([AW5]).
        const claimed = this.takeClaim(entry.clientID, entry.clock)
        if (claimed) {
          accepted.push(claimed)
          handedOver.push(claimed)
          continue
        }
        this.clients.set(entry.clientID, {
          clock: entry.clock,
          state: null,
          owner: null,
          user: known?.user,
          leftAt: Date.now(),
        })
      } else {
        this.clients.set(entry.clientID, { clock: entry.clock, state: entry.state, owner, user: owner.user })
        owner.clientIds.add(entry.clientID)
      }
      accepted.push(entry)
    }
    return { accepted, handedOver }
  }

  /**
   * Hands `clientID` to the live owner that claimed it with a clock newer than `clock` and a state, if any, and
   * returns the entry it claimed with.
   */
  private takeClaim(clientID: number, clock: number): AwarenessEntry | null {
    const claim = this.claims.get(clientID)
    this.claims.delete(clientID)
    if (!claim || claim.conn.closed || claim.entry.clock <= clock || claim.entry.state === null) return null
    this.clients.set(clientID, {
      clock: claim.entry.clock,
      state: claim.entry.state,
      owner: claim.conn,
      user: claim.conn.user,
    })
    claim.conn.clientIds.add(clientID)
    return claim.entry
  }

  /**
   * Removes the states `owner` owns (it closed or died), or hands them to the owner that claimed them, and
   * returns the update announcing it, or `null`.
   * The removal keeps each client's clock: y-protocols clients accept a removal at an equal clock, and a client
   * that comes back can then reappear by raising its clock by one.
   */
  removeOwnedBy(owner: AwarenessOwner): Uint8Array | null {
    return this.release(owner).relay
  }

  /** {@link RoomAwareness.removeOwnedBy}, telling apart the entries that changed hands. */
  release(owner: AwarenessOwner): AwarenessChange {
    const changes: AwarenessEntry[] = []
    const handedOver: AwarenessEntry[] = []
    for (const [clientID, claim] of this.claims) if (claim.conn === owner) this.claims.delete(clientID)
    for (const clientID of owner.clientIds) {
      const known = this.clients.get(clientID)
      if (!known || known.owner !== owner) continue
      // A live owner claimed this client ID with a newer clock: it is the same client, reconnected.
      const claimed = this.takeClaim(clientID, known.clock)
      if (claimed) {
        changes.push(claimed)
        handedOver.push(claimed)
        continue
      }
      this.clients.set(clientID, { clock: known.clock, state: null, owner: null, user: known.user, leftAt: Date.now() })
      changes.push({ clientID, clock: known.clock, state: null })
    }
    owner.clientIds.clear()
    return { relay: changes.length === 0 ? null : encodeAwarenessEntries(changes), handedOver }
  }

  /**
   * Whether `entries` from `owner` would change nothing: each is no newer than what is known, or a claim that could
   * never take over ([AW5]). y-websocket clients send back every awareness change they apply; that is what their
   * echoes look like.
   */
  changesNothing(owner: AwarenessOwner, entries: readonly AwarenessEntry[]): boolean {
    return entries.every((entry) => {
      const known = this.clients.get(entry.clientID)
      if (!known) return false
      if (known.owner && known.owner !== owner) return entry.clock <= known.clock || entry.state === null
      const removesPresent = entry.clock === known.clock && entry.state === null && known.state !== null
      return entry.clock <= known.clock && !removesPresent
    })
  }

  /**
   * Every present state (or those whose owner passes `filter`), as one update for a newly connected client, or
   * `null` when nobody is present.
   */
  encodePresent(filter?: (owner: AwarenessOwner) => boolean): Uint8Array | null {
    const present: AwarenessEntry[] = []
    for (const [clientID, known] of this.clients) {
      if (known.state === null || (filter && (!known.owner || !filter(known.owner)))) continue
      present.push({ clientID, clock: known.clock, state: known.state })
    }
    return present.length === 0 ? null : encodeAwarenessEntries(present)
  }

  /** Every present client ID with its state. */
  *presentStates(): Generator<{ clientID: number; state: unknown }> {
    for (const [clientID, known] of this.clients) if (known.state !== null) yield { clientID, state: known.state }
  }

  /**
   * The removals a client missed: for each of `entries` that states a client the room knows as departed at that
   * clock or a later one, the removal at the departed clock. An HTTP session that an instance ended while its client
   * was away never carried the removal; told now, a y-protocols client announces itself with a higher clock ([HT10]).
   */
  missedRemovals(entries: readonly AwarenessEntry[]): AwarenessEntry[] {
    const missed: AwarenessEntry[] = []
    for (const entry of entries) {
      const known = this.clients.get(entry.clientID)
      if (entry.state === null || known === undefined || known.state !== null || known.clock < entry.clock) continue
      missed.push({ clientID: entry.clientID, clock: known.clock, state: null })
    }
    return missed
  }

  /** Whether `clientID` is known (present, or departed within the grace period). */
  has(clientID: number): boolean {
    return this.clients.has(clientID)
  }

  /** Forgets clients that left more than `graceMs` before `now` ([AW6]). */
  forgetDeparted(now: number, graceMs = departedClientGraceMs): void {
    for (const [clientID, known] of this.clients) {
      if (known.state === null && known.leftAt !== undefined && now - known.leftAt > graceMs) {
        this.clients.delete(clientID)
      }
    }
  }

  /** Clients remembered, present or departed within the grace period. */
  get remembered(): number {
    return this.clients.size
  }

  /** Number of clients currently present. */
  get size(): number {
    let count = 0
    for (const known of this.clients.values()) if (known.state !== null) count++
    return count
  }
}
