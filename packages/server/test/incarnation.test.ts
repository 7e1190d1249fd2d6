import { Capability, encodeHello, encodeSyncStep1, encodeSyncUpdate } from '@collab/protocol'
import { MemoryDocStore } from '@collab/storage'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import {
  openLevelStore,
  RawClient,
  roomText,
  roundTrip,
  startTestServer,
  Teardown,
  tempDir,
  UpdateSource,
  waitFor,
} from './helpers.js'

const teardown = new Teardown()
afterEach(() => teardown.run())

/** A memory store whose loads wait until `release` is called, so a client can arrive while its room loads. */
class GatedStore extends MemoryDocStore {
  private opened: () => void = () => undefined
  private readonly gate = new Promise<void>((resolve) => {
    this.opened = resolve
  })
  loads = 0

  release(): void {
    this.opened()
  }

  override async load(name: string): Promise<Uint8Array[]> {
    this.loads++
    await this.gate
    return super.load(name)
  }
}

/** Connects, announces the `incarnation` capability (with `heartbeat`, so roundTrip works) and asks to sync. */
async function connectAsking(
  url: string,
  beforeSynced: (client: RawClient) => Promise<void> = async () => {},
): Promise<RawClient> {
  const client = await RawClient.connect(url, teardown)
  client.send(encodeHello([Capability.Heartbeat, Capability.Incarnation]))
  client.send(encodeSyncStep1(Y.encodeStateVector(new Y.Doc())))
  await beforeSynced(client)
  await waitFor('the sync step 2', () => client.messagesOf('sync-step-2').length === 1)
  return client
}

/** The one incarnation id a client was told, checked to come before anything of the document. */
function toldIncarnation(client: RawClient): string {
  const told = client.messagesOf('incarnation')
  expect(told).toHaveLength(1)
  const types = client.received.map((message) => message.type)
  expect(types.indexOf('incarnation')).toBeLessThan(types.indexOf('sync-step-2'))
  return told[0]!.id
}

describe('incarnation ids ([IN1])', () => {
  it('[IN1] tells a client that asked which incarnation it serves, once, before the document; others never', async () => {
    const store = new GatedStore()
    const source = new UpdateSource(teardown)
    await store.append('doc', source.type('stored text'))
    const server = await startTestServer({ store }, teardown)

    // The first connection arrives while the room loads, the second once it is loaded.
    const loading = await connectAsking(`${server.url}/doc`, async (client) => {
      // The hello is answered at once, while the room waits for the store: the id comes with the load.
      await waitFor('the hello answer', () => client.messagesOf('hello').length === 1)
      expect(store.loads).toBe(1)
      expect(client.messagesOf('incarnation')).toEqual([])
      store.release()
    })
    const loaded = await connectAsking(`${server.url}/doc`)
    const id = await store.incarnation('doc')
    expect(toldIncarnation(loading)).toBe(id)
    expect(toldIncarnation(loaded)).toBe(id)

    // A stock client (no hello) is never sent one.
    const stock = await RawClient.connect(`${server.url}/doc`, teardown)
    stock.send(encodeSyncStep1(Y.encodeStateVector(new Y.Doc())))
    await waitFor('the stock sync step 2', () => stock.messagesOf('sync-step-2').length === 1)
    stock.send(encodeSyncUpdate(source.type(' and more')))
    await waitFor('the update', () => roomText(server, 'doc') === 'stored text and more')
    await roundTrip(loaded)
    expect(stock.messagesOf('incarnation')).toEqual([])
    expect(stock.undecodable).toEqual([])
  })

  it('[IN1] serves a new incarnation after the document is deleted, and the same one after a restart', async () => {
    const path = tempDir(teardown)
    const firstStore = await openLevelStore(path, teardown)
    const first = await startTestServer({ store: firstStore }, teardown)
    const writer = await connectAsking(`${first.url}/doc`)
    const original = toldIncarnation(writer)
    writer.send(encodeSyncUpdate(new UpdateSource(teardown).type('first life')))
    await roundTrip(writer)

    expect(await first.sync.deleteDocument('doc')).toBe(true)
    expect(await writer.waitForClose()).toBe(4404)
    const recreated = toldIncarnation(await connectAsking(`${first.url}/doc`))
    expect(recreated).not.toBe(original)
    await first.close()
    await firstStore.close()

    // Restarted on the same data: the same incarnation. Started on a wiped (new) directory: another one.
    const restarted = await startTestServer({ store: await openLevelStore(path, teardown) }, teardown)
    expect(toldIncarnation(await connectAsking(`${restarted.url}/doc`))).toBe(recreated)
    const wiped = await startTestServer({ store: await openLevelStore(tempDir(teardown), teardown) }, teardown)
    const fresh = toldIncarnation(await connectAsking(`${wiped.url}/doc`))
    expect(fresh).not.toBe(recreated)
    expect(fresh).not.toBe(original)
  })
})
