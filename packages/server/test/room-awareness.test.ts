import { type AwarenessEntry, decodeAwarenessEntries, encodeAwarenessEntries } from '@collab/protocol'
import { describe, expect, it } from 'vitest'
import type { Channel } from '../src/channel.js'
import { Connection } from '../src/connection.js'
import { RoomAwareness } from '../src/room-awareness.js'

// RoomAwareness only reads the connection's identity and bookkeeping, never its channel.
const connection = () =>
  new Connection({
    channel: {} as Channel,
    docName: 'doc',
    remoteAddress: '127.0.0.1',
    sink: { deliver: () => undefined, overBudgetTooLong: () => undefined },
  })

function apply(awareness: RoomAwareness, conn: Connection, entries: AwarenessEntry[]): AwarenessEntry[] {
  const relayed = awareness.apply(conn, entries, encodeAwarenessEntries(entries))
  return relayed ? decodeAwarenessEntries(relayed) : []
}

describe('RoomAwareness', () => {
  it('[AW1] follows the clock rules: newer wins, an equal clock may only remove', () => {
    const awareness = new RoomAwareness()
    const a = connection()
    expect(apply(awareness, a, [{ clientID: 1, clock: 1, state: { x: 1 } }])).toHaveLength(1)
    expect(apply(awareness, a, [{ clientID: 1, clock: 1, state: { x: 2 } }])).toHaveLength(0)
    expect(apply(awareness, a, [{ clientID: 1, clock: 2, state: { x: 2 } }])).toHaveLength(1)
    expect(apply(awareness, a, [{ clientID: 1, clock: 2, state: null }])).toHaveLength(1)
    expect(awareness.size).toBe(0)
  })

  it('[AW2] only the owning connection may change or remove a client ID', () => {
    const awareness = new RoomAwareness()
    const owner = connection()
    const intruder = connection()
    apply(awareness, owner, [{ clientID: 7, clock: 1, state: { name: 'Ada' } }])
    expect(apply(awareness, intruder, [{ clientID: 7, clock: 5, state: { name: 'Mallory' } }])).toEqual([])
    expect(apply(awareness, intruder, [{ clientID: 7, clock: 5, state: null }])).toEqual([])
    const [present] = decodeAwarenessEntries(awareness.encodePresent() ?? new Uint8Array([0]))
    expect(present?.state).toEqual({ name: 'Ada' })
  })

  it('[AW2] relays only the accepted entries of a mixed update', () => {
    const awareness = new RoomAwareness()
    const owner = connection()
    const other = connection()
    apply(awareness, owner, [{ clientID: 1, clock: 1, state: { a: 1 } }])
    const relayed = apply(awareness, other, [
      { clientID: 1, clock: 9, state: { forged: true } },
      { clientID: 2, clock: 1, state: { b: 1 } },
    ])
    expect(relayed.map((e) => e.clientID)).toEqual([2])
  })

  it('[AW3] removes what a closed connection owned, at the same clock', () => {
    const awareness = new RoomAwareness()
    const a = connection()
    apply(awareness, a, [{ clientID: 3, clock: 4, state: { x: 1 } }])
    const removal = decodeAwarenessEntries(awareness.removeOwnedBy(a) ?? new Uint8Array([0]))
    expect(removal).toEqual([{ clientID: 3, clock: 4, state: null }])
    expect(awareness.size).toBe(0)
  })

  it('[AW5] hands a client ID over to the connection of the same client that reconnected meanwhile', () => {
    const awareness = new RoomAwareness()
    const old = connection()
    const fresh = connection()
    apply(awareness, old, [{ clientID: 3, clock: 4, state: { cursor: 1 } }])
    expect(apply(awareness, fresh, [{ clientID: 3, clock: 5, state: { cursor: 2 } }])).toEqual([])
    const handover = decodeAwarenessEntries(awareness.removeOwnedBy(old) ?? new Uint8Array([0]))
    expect(handover).toEqual([{ clientID: 3, clock: 5, state: { cursor: 2 } }])
    // The new connection now owns it: it can update it, and its own close removes it.
    expect(apply(awareness, fresh, [{ clientID: 3, clock: 6, state: { cursor: 3 } }])).toHaveLength(1)
    expect(decodeAwarenessEntries(awareness.removeOwnedBy(fresh) ?? new Uint8Array([0]))[0]?.state).toBeNull()
  })

  it('[AW5] does not hand over to a claimer that closed first', () => {
    const awareness = new RoomAwareness()
    const old = connection()
    const fresh = connection()
    apply(awareness, old, [{ clientID: 3, clock: 4, state: { cursor: 1 } }])
    apply(awareness, fresh, [{ clientID: 3, clock: 5, state: { cursor: 2 } }])
    awareness.removeOwnedBy(fresh)
    const removal = decodeAwarenessEntries(awareness.removeOwnedBy(old) ?? new Uint8Array([0]))
    expect(removal).toEqual([{ clientID: 3, clock: 4, state: null }])
  })

  it('[AW6] forgets a departed client after the grace period, and only then', () => {
    const awareness = new RoomAwareness()
    const visitors = Array.from({ length: 50 }, () => connection())
    visitors.forEach((visitor, index) => {
      apply(awareness, visitor, [{ clientID: 100 + index, clock: 1, state: { index } }])
      awareness.removeOwnedBy(visitor)
    })
    const present = connection()
    apply(awareness, present, [{ clientID: 1, clock: 1, state: { here: true } }])
    expect(awareness.remembered).toBe(51)
    // Within the grace period an old message cannot bring a departed client back.
    awareness.forgetDeparted(Date.now() + 1_000, 60_000)
    expect(awareness.remembered).toBe(51)
    expect(apply(awareness, connection(), [{ clientID: 100, clock: 1, state: { back: true } }])).toEqual([])
    // After it, the table holds only who is present.
    awareness.forgetDeparted(Date.now() + 61_000, 60_000)
    expect(awareness.remembered).toBe(1)
    expect(awareness.size).toBe(1)
  })
})
