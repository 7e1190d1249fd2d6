import { encodeQueryAwareness } from '@collab/protocol'
import { MemoryDocStore } from '@collab/storage'
import { afterEach, describe, expect, it } from 'vitest'
import {
  awarenessEntries,
  awarenessMessage,
  connectWithHeartbeat,
  entriesFor,
  RawClient,
  roundTrip,
  startTestServer,
  Teardown,
  waitFor,
} from './helpers.js'

const teardown = new Teardown()
afterEach(() => teardown.run())

describe('awareness', () => {
  it('[AW1] accepted entries are relayed to everyone, sender included; stale clocks are dropped', async () => {
    const server = await startTestServer({ store: new MemoryDocStore() }, teardown)
    const sender = await connectWithHeartbeat(`${server.url}/clocks`, teardown)
    const other = await RawClient.connect(`${server.url}/clocks`, teardown)
    sender.send(awarenessMessage({ clientID: 601, clock: 2, state: { n: 2 } }))
    sender.send(awarenessMessage({ clientID: 601, clock: 1, state: { n: 1 } }))
    sender.send(awarenessMessage({ clientID: 601, clock: 2, state: { n: 'same clock, new state' } }))
    sender.send(awarenessMessage({ clientID: 601, clock: 2, state: null }))
    sender.send(awarenessMessage({ clientID: 601, clock: 3, state: { n: 3 } }))
    await roundTrip(sender)
    const expected = [
      { clientID: 601, clock: 2, state: { n: 2 } },
      { clientID: 601, clock: 2, state: null },
      { clientID: 601, clock: 3, state: { n: 3 } },
    ]
    expect(entriesFor(sender, 601)).toEqual(expected)
    await waitFor('the relays to the other connection', () => entriesFor(other, 601).length === 3)
    expect(entriesFor(other, 601)).toEqual(expected)
  })

  it('[AW2] a connection cannot overwrite or remove a client ID another live connection owns', async () => {
    const server = await startTestServer({ store: new MemoryDocStore() }, teardown)
    const owner = await RawClient.connect(`${server.url}/owned`, teardown)
    const intruder = await connectWithHeartbeat(`${server.url}/owned`, teardown)
    const observer = await RawClient.connect(`${server.url}/owned`, teardown)
    owner.send(awarenessMessage({ clientID: 1001, clock: 1, state: { name: 'owner' } }))
    await waitFor('the owner state', () => entriesFor(observer, 1001).length === 1)

    intruder.send(awarenessMessage({ clientID: 1001, clock: 5, state: { name: 'intruder' } }))
    intruder.send(awarenessMessage({ clientID: 1001, clock: 6, state: null }))
    // Entries of one message are judged one by one: the intruder's own ID in the same message still counts.
    intruder.send(
      awarenessMessage(
        { clientID: 1001, clock: 7, state: { name: 'intruder again' } },
        { clientID: 2002, clock: 1, state: { name: 'intruder' } },
      ),
    )
    await roundTrip(intruder)
    await waitFor("the intruder's own state", () => entriesFor(observer, 2002).length === 1)
    expect(entriesFor(observer, 1001)).toEqual([{ clientID: 1001, clock: 1, state: { name: 'owner' } }])
    expect(entriesFor(owner, 1001)).toEqual([{ clientID: 1001, clock: 1, state: { name: 'owner' } }])

    observer.send(encodeQueryAwareness())
    await waitFor('the query answer', () => observer.messagesOf('awareness').length >= 3)
    expect(observer.messagesOf('awareness').at(-1)?.entries).toEqual([
      { clientID: 1001, clock: 1, state: { name: 'owner' } },
      { clientID: 2002, clock: 1, state: { name: 'intruder' } },
    ])
  })

  it('[AW5] a client that reconnected before its old connection died takes its presence over without a gap', async () => {
    const server = await startTestServer({ store: new MemoryDocStore() }, teardown)
    const oldConnection = await RawClient.connect(`${server.url}/handover`, teardown)
    const observer = await RawClient.connect(`${server.url}/handover`, teardown)
    oldConnection.send(awarenessMessage({ clientID: 3, clock: 4, state: { cursor: 1 } }))
    await waitFor('the first state', () => entriesFor(observer, 3).length === 1)

    const reconnected = await connectWithHeartbeat(`${server.url}/handover`, teardown)
    reconnected.send(awarenessMessage({ clientID: 3, clock: 5, state: { cursor: 2 } }))
    await roundTrip(reconnected)
    // Owned by the old connection, so not relayed yet.
    expect(entriesFor(observer, 3)).toHaveLength(1)

    oldConnection.ws.terminate()
    await waitFor('the handover', () => entriesFor(observer, 3).length === 2)
    expect(entriesFor(observer, 3)[1]).toEqual({ clientID: 3, clock: 5, state: { cursor: 2 } })

    // The reconnected connection owns it now: its updates are relayed, and its close removes the state.
    reconnected.send(awarenessMessage({ clientID: 3, clock: 6, state: { cursor: 3 } }))
    await waitFor('the new owner update', () => entriesFor(observer, 3).length === 3)
    reconnected.ws.close()
    await waitFor('the removal', () => entriesFor(observer, 3).length === 4)
    expect(entriesFor(observer, 3)[3]).toEqual({ clientID: 3, clock: 6, state: null })
  })

  it('[AW3] a closed connection’s states are removed at the same clock; a returning client raises it by one', async () => {
    const server = await startTestServer({ store: new MemoryDocStore() }, teardown)
    const leaver = await RawClient.connect(`${server.url}/leave`, teardown)
    const observer = await RawClient.connect(`${server.url}/leave`, teardown)
    leaver.send(
      awarenessMessage({ clientID: 701, clock: 3, state: { tab: 1 } }, { clientID: 702, clock: 9, state: { tab: 2 } }),
    )
    await waitFor('the states', () => awarenessEntries(observer).length === 2)
    leaver.ws.terminate()
    await waitFor('the removals', () => awarenessEntries(observer).length === 4)
    expect(awarenessEntries(observer).slice(2)).toEqual([
      { clientID: 701, clock: 3, state: null },
      { clientID: 702, clock: 9, state: null },
    ])

    const returning = await connectWithHeartbeat(`${server.url}/leave`, teardown)
    returning.send(awarenessMessage({ clientID: 701, clock: 3, state: { tab: 'stale' } }))
    returning.send(awarenessMessage({ clientID: 701, clock: 4, state: { tab: 'back' } }))
    await roundTrip(returning)
    await waitFor('the return', () => awarenessEntries(observer).length === 5)
    expect(awarenessEntries(observer).at(-1)).toEqual({ clientID: 701, clock: 4, state: { tab: 'back' } })
  })

  it('[AW4] query awareness is answered with every present state', async () => {
    const server = await startTestServer({ store: new MemoryDocStore() }, teardown)
    const a = await RawClient.connect(`${server.url}/query`, teardown)
    const b = await RawClient.connect(`${server.url}/query`, teardown)
    a.send(awarenessMessage({ clientID: 11, clock: 1, state: { name: 'a' } }))
    b.send(awarenessMessage({ clientID: 22, clock: 1, state: { name: 'b' } }))
    b.send(awarenessMessage({ clientID: 33, clock: 1, state: { name: 'gone' } }))
    b.send(awarenessMessage({ clientID: 33, clock: 1, state: null }))
    await waitFor('all relays', () => awarenessEntries(a).length === 4)
    const asker = await RawClient.connect(`${server.url}/query`, teardown)
    await waitFor('the greeting', () => asker.messagesOf('awareness').length === 1)
    asker.send(encodeQueryAwareness())
    await waitFor('the query answer', () => asker.messagesOf('awareness').length === 2)
    const answer = asker.messagesOf('awareness')[1]!.entries
    expect(answer).toEqual([
      { clientID: 11, clock: 1, state: { name: 'a' } },
      { clientID: 22, clock: 1, state: { name: 'b' } },
    ])
  })
})

describe('liveness', () => {
  it('[LV1] a client that stops answering pings is terminated and its presence removed for the others', async () => {
    const server = await startTestServer(
      { store: new MemoryDocStore(), pingIntervalMs: 100, connectionTimeoutMs: 400 },
      teardown,
    )
    const dead = await RawClient.connect(`${server.url}/liveness`, teardown, { autoPong: false })
    const alive = await RawClient.connect(`${server.url}/liveness`, teardown)
    dead.send(awarenessMessage({ clientID: 3003, clock: 1, state: { name: 'ghost' } }))
    await waitFor('the ghost to appear', () => entriesFor(alive, 3003).length === 1)
    const started = Date.now()

    // 1006: the server dropped the TCP connection without a close frame.
    expect(await dead.waitForClose(3_000)).toBe(1006)
    await waitFor('the ghost to disappear', () => entriesFor(alive, 3003).length === 2, 3_000)
    expect(entriesFor(alive, 3003)[1]).toEqual({ clientID: 3003, clock: 1, state: null })
    expect(Date.now() - started).toBeLessThan(400 + 2 * 100 + 500)
    // The live client answers pings by itself and stays, well past the timeout.
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(alive.isOpen).toBe(true)
    expect(server.sync.connectionCount).toBe(1)
  })

  it('[LV1] pings silent connections spread over the interval, each about once per interval', async () => {
    // One pass over everyone at once (pings, then a burst of pongs) stalled every other client's keystrokes for
    // 11-25 ms at 800 silent connections; a slice runs every 50 ms instead.
    const server = await startTestServer({ store: new MemoryDocStore(), pingIntervalMs: 1_000 }, teardown)
    const clients = await Promise.all(
      Array.from({ length: 40 }, () => RawClient.connect(`${server.url}/spread`, teardown)),
    )
    const pings: number[][] = clients.map(() => [])
    clients.forEach((client, i) => {
      client.ws.on('ping', () => pings[i]!.push(Date.now()))
    })
    await new Promise((resolve) => setTimeout(resolve, 4_500))
    const all = pings.flat().sort((a, b) => a - b)
    // Each connection is looked at once per interval and probed once silent for an interval (a pong counts as heard
    // from): first within its first 2 s, then every second or second interval: 2 to 4 times in 4.5 s.
    for (const times of pings) expect(times.length).toBeGreaterThanOrEqual(2)
    for (const times of pings) expect(times.length).toBeLessThanOrEqual(4)
    // 40 connections in 20 slices: 2 per slice, never all of them in the same 100 ms.
    let most = 0
    for (const at of all) most = Math.max(most, all.filter((t) => t >= at && t < at + 100).length)
    expect(most).toBeLessThanOrEqual(12)
  })
})
