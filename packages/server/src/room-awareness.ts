import { type AwarenessEntry, encodeAwarenessEntries } from '@collab/protocol'
import type { Connection } from './connection.js'

interface ClientPresence {
  clock: number
  /** `null` once the client left; the clock is kept so that older messages cannot bring it back. */
  state: unknown
  owner: Connection | null
}

/**
 * The presence states of one room, with who owns each client ID. Follows y-protocols' awareness rules for clocks
 * (a newer clock wins; an equal clock may only remove) and adds ownership: the connection that introduced a
 * client ID is the only one that may change or remove it while it is connected ([AW2]).
 */
export class RoomAwareness {
  private readonly clients = new Map<number, ClientPresence>()
  /**
   * The latest entry another connection sent for a client ID it does not own. A client that reconnects while
   * the server has not yet noticed its old connection died lands here; when the old connection goes, its
   * presence is handed over instead of removed, so the person never blinks out for the others.
   */
  private readonly claims = new Map<number, { conn: Connection; entry: AwarenessEntry }>()

  /** @param clientIdsPerConnection how many client IDs one connection may introduce ([LM3]). */
  constructor(private readonly clientIdsPerConnection = Number.POSITIVE_INFINITY) {}

  /**
   * Applies what `conn` sent and returns the awareness update to relay to everyone (the received bytes when
   * every entry was accepted), or `null` when nothing changed.
   */
  apply(conn: Connection, entries: readonly AwarenessEntry[], received: Uint8Array): Uint8Array | null {
    const accepted: AwarenessEntry[] = []
    for (const entry of entries) {
      const known = this.clients.get(entry.clientID)
      if (known?.owner && known.owner !== conn) {
        this.claims.set(entry.clientID, { conn, entry })
        continue
      }
      if (!conn.clientIds.has(entry.clientID) && conn.clientIds.size >= this.clientIdsPerConnection) continue
      const knownClock = known?.clock ?? 0
      const present = known !== undefined && known.state !== null
      const newer = entry.clock > knownClock
      const removesPresent = entry.clock === knownClock && entry.state === null && present
      if (!newer && !removesPresent) continue
      if (entry.state === null) {
        this.clients.set(entry.clientID, { clock: entry.clock, state: null, owner: null })
        conn.clientIds.delete(entry.clientID)
      } else {
        this.clients.set(entry.clientID, { clock: entry.clock, state: entry.state, owner: conn })
        conn.clientIds.add(entry.clientID)
      }
      accepted.push(entry)
    }
    if (accepted.length === 0) return null
    return accepted.length === entries.length ? received : encodeAwarenessEntries(accepted)
  }

  /**
   * Removes the states `conn` owns (it closed or died), or hands them to the connection that claimed them, and
   * returns the update announcing it, or `null`.
   * The removal keeps each client's clock: y-protocols clients accept a removal at an equal clock, and a client
   * that comes back can then reappear by raising its clock by one.
   */
  removeOwnedBy(conn: Connection): Uint8Array | null {
    const changes: AwarenessEntry[] = []
    for (const [clientID, claim] of this.claims) if (claim.conn === conn) this.claims.delete(clientID)
    for (const clientID of conn.clientIds) {
      const known = this.clients.get(clientID)
      if (!known || known.owner !== conn) continue
      const claim = this.claims.get(clientID)
      this.claims.delete(clientID)
      // A live connection claimed this client ID with a newer clock: it is the same client, reconnected.
      if (claim && !claim.conn.closed && claim.entry.clock > known.clock && claim.entry.state !== null) {
        this.clients.set(clientID, { clock: claim.entry.clock, state: claim.entry.state, owner: claim.conn })
        claim.conn.clientIds.add(clientID)
        changes.push(claim.entry)
        continue
      }
      this.clients.set(clientID, { clock: known.clock, state: null, owner: null })
      changes.push({ clientID, clock: known.clock, state: null })
    }
    conn.clientIds.clear()
    return changes.length === 0 ? null : encodeAwarenessEntries(changes)
  }

  /** Every present state, as one update for a newly connected client, or `null` when nobody is present. */
  encodePresent(): Uint8Array | null {
    const present: AwarenessEntry[] = []
    for (const [clientID, known] of this.clients) {
      if (known.state !== null) present.push({ clientID, clock: known.clock, state: known.state })
    }
    return present.length === 0 ? null : encodeAwarenessEntries(present)
  }

  /** Number of clients currently present. */
  get size(): number {
    let count = 0
    for (const known of this.clients.values()) if (known.state !== null) count++
    return count
  }
}
