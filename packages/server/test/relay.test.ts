import { CloseCode, encodeSyncUpdate } from '@collab/protocol'
import { MemoryDocStore } from '@collab/storage'
import { afterEach, describe, expect, it } from 'vitest'
import {
  awarenessMessage,
  entriesFor,
  RawClient,
  roomText,
  roundTrip,
  startTestServer,
  stockClient,
  synced,
  Teardown,
  type TestServer,
  UpdateSource,
  waitFor,
} from './helpers.js'
import { MemoryRelayHub } from './memory-relay.js'

const teardown = new Teardown()
afterEach(() => teardown.run())

/** Two engines sharing one store and one relay hub, as two instances share PostgreSQL and Redis. */
async function twoInstances(): Promise<{ a: TestServer; b: TestServer; store: MemoryDocStore; hub: MemoryRelayHub }> {
  const store = new MemoryDocStore()
  const hub = new MemoryRelayHub()
  const a = await startTestServer({ store, relay: hub.relay('a') }, teardown)
  const b = await startTestServer({ store, relay: hub.relay('b') }, teardown)
  return { a, b, store, hub }
}

async function storedRecords(store: MemoryDocStore, name: string): Promise<number> {
  return (await store.list()).find((info) => info.name === name)?.records ?? 0
}

describe('several instances on one relay', () => {
  it('relays updates to the clients of the other instance, and each update is stored once', async () => {
    const { a, b, store } = await twoInstances()
    const onA = stockClient(a.url, 'shared', teardown)
    const onB = stockClient(b.url, 'shared', teardown)
    await Promise.all([synced(onA), synced(onB)])
    onA.text.insert(0, 'hello')
    await waitFor('the update to cross instances', () => onB.text.toString() === 'hello')
    onB.text.insert(5, ' world')
    await waitFor('the answer to cross back', () => onA.text.toString() === 'hello world')
    await waitFor('both updates to be stored', async () => (await storedRecords(store, 'shared')) >= 2)
    // Each instance stores what its own clients sent; the relayed copy is not stored again.
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(await storedRecords(store, 'shared')).toBe(2)
    expect(roomText(a, 'shared')).toBe('hello world')
    expect(roomText(b, 'shared')).toBe('hello world')
  })

  it('publishes an update only once it is stored, so that no instance holds an unstored update of another', async () => {
    const store = new HeldStore()
    const hub = new MemoryRelayHub()
    const a = await startTestServer({ store, relay: hub.relay('a') }, teardown)
    const writer = await RawClient.connect(`${a.url}/held`, teardown)
    await roundTrip(writer)
    store.hold = true
    writer.send(encodeSyncUpdate(new UpdateSource(teardown).type('not yet stored')))
    await waitFor('the append to start', () => store.held.length === 1)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(hub.published.update).toBe(0)
    store.release()
    await waitFor('the publish after the append', () => hub.published.update === 1)
  })

  it('publishes updates applied through the document API', async () => {
    const { a, b } = await twoInstances()
    const onB = stockClient(b.url, 'api', teardown)
    await synced(onB)
    const source = new UpdateSource(teardown)
    await a.sync.applyUpdate('api', source.type('from the API'))
    await waitFor('the API update on the other instance', () => onB.text.toString() === 'from the API')
  })

  it('relays presence across instances and removes it when the client leaves', async () => {
    const { a, b } = await twoInstances()
    const person = await RawClient.connect(`${a.url}/presence`, teardown)
    const observer = await RawClient.connect(`${b.url}/presence`, teardown)
    await roundTripAll(person, observer)
    person.send(awarenessMessage({ clientID: 77, clock: 1, state: { name: 'Ada' } }))
    await waitFor('the presence on the other instance', () => entriesFor(observer, 77).length === 1)
    expect(entriesFor(observer, 77)).toEqual([{ clientID: 77, clock: 1, state: { name: 'Ada' } }])
    person.ws.terminate()
    await waitFor('the removal on the other instance', () => entriesFor(observer, 77).length === 2)
    expect(entriesFor(observer, 77)[1]).toEqual({ clientID: 77, clock: 1, state: null })
  })

  it('greets clients with the presence of clients connected to other instances', async () => {
    const { a, b } = await twoInstances()
    const person = await RawClient.connect(`${a.url}/greeting`, teardown)
    person.send(awarenessMessage({ clientID: 78, clock: 3, state: { name: 'Grace' } }))
    await roundTrip(await RawClient.connect(`${a.url}/greeting`, teardown))
    // The document is not loaded on b yet: the room joins the relay and learns who is present elsewhere.
    const newcomer = await RawClient.connect(`${b.url}/greeting`, teardown)
    await waitFor('the presence of the earlier client', () => entriesFor(newcomer, 78).length === 1)
  })

  it('removes the presence of the clients of an instance that died', async () => {
    const { a, b, hub } = await twoInstances()
    const person = await RawClient.connect(`${a.url}/dead`, teardown)
    const observer = await RawClient.connect(`${b.url}/dead`, teardown)
    await roundTripAll(person, observer)
    person.send(awarenessMessage({ clientID: 79, clock: 1, state: { name: 'Linus' } }))
    await waitFor('the presence on the other instance', () => entriesFor(observer, 79).length === 1)
    hub.kill('a')
    await waitFor('the removal by the surviving instance', () => entriesFor(observer, 79).length === 2)
    expect(entriesFor(observer, 79)[1]).toEqual({ clientID: 79, clock: 1, state: null })
  })

  it('hands presence over when a client moves to another instance before its old connection is dropped', async () => {
    const { a, b } = await twoInstances()
    const old = await RawClient.connect(`${a.url}/moving`, teardown)
    const observer = await RawClient.connect(`${b.url}/moving`, teardown)
    await roundTripAll(old, observer)
    old.send(awarenessMessage({ clientID: 80, clock: 1, state: { at: 'a' } }))
    await waitFor('the first presence', () => entriesFor(observer, 80).length === 1)
    // The client reconnects to b with a raised clock while a still holds its old connection.
    const moved = await RawClient.connect(`${b.url}/moving`, teardown)
    moved.send(awarenessMessage({ clientID: 80, clock: 2, state: { at: 'b' } }))
    await roundTrip(moved)
    old.ws.terminate()
    await waitFor('the moved client to keep its presence on b', () => entriesFor(observer, 80).at(-1)?.clock === 2)
    expect(entriesFor(observer, 80).at(-1)).toEqual({ clientID: 80, clock: 2, state: { at: 'b' } })
    const onA = await RawClient.connect(`${a.url}/moving`, teardown)
    await waitFor('a to learn where the client went', () => entriesFor(onA, 80).at(-1)?.clock === 2)
  })

  it('reloads from the shared store what the relay lost (anti-entropy), without storing it twice', async () => {
    const { a, b, store, hub } = await twoInstances()
    const writer = await RawClient.connect(`${a.url}/lossy`, teardown)
    const reader = stockClient(b.url, 'lossy', teardown)
    await synced(reader)
    await roundTrip(writer)
    hub.dropping = true
    const source = new UpdateSource(teardown)
    writer.send(encodeSyncUpdate(source.type('lost on the way')))
    await waitFor('the update to be stored', async () => (await storedRecords(store, 'lossy')) === 1)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(reader.text.toString()).toBe('')
    hub.dropping = false
    hub.resyncAll('lossy')
    await waitFor('the resync to deliver it', () => reader.text.toString() === 'lost on the way')
    expect(await storedRecords(store, 'lossy')).toBe(1)
  })

  it('closes the connections of a document deleted on another instance with 4404', async () => {
    const { a, b } = await twoInstances()
    const onA = await RawClient.connect(`${a.url}/doomed`, teardown)
    const onB = await RawClient.connect(`${b.url}/doomed`, teardown)
    await roundTripAll(onA, onB)
    expect(await a.sync.deleteDocument('doomed')).toBe(true)
    expect(await onB.waitForClose()).toBe(CloseCode.UnknownDocument)
    await waitFor('the room to unload', () => b.sync.getRoom('doomed') === undefined)
  })

  it('leaves the relay when the room unloads', async () => {
    const { a, b, hub } = await twoInstances()
    const onA = stockClient(a.url, 'leaving', teardown)
    const onB = await RawClient.connect(`${b.url}/leaving`, teardown)
    await synced(onA)
    await roundTrip(onB)
    onB.ws.close()
    await waitFor('the room on b to unload', () => b.sync.getRoom('leaving') === undefined)
    const before = hub.published.update
    onA.text.insert(0, 'nobody on b hears this')
    await waitFor('the update to be published', () => hub.published.update > before)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(b.sync.getRoom('leaving')).toBeUndefined()
  })
})

/** A memory store whose appends can be held back, to see what happens before an update is stored. */
class HeldStore extends MemoryDocStore {
  hold = false
  readonly held: Array<() => void> = []

  override async append(name: string, update: Uint8Array): Promise<void> {
    if (this.hold) await new Promise<void>((resolve) => this.held.push(resolve))
    return super.append(name, update)
  }

  release(): void {
    this.hold = false
    for (const resolve of this.held.splice(0)) resolve()
  }
}

async function roundTripAll(...clients: RawClient[]): Promise<void> {
  await Promise.all(clients.map((client) => roundTrip(client)))
}
