import { Capability, encodeHello, encodeSyncStep2, encodeSyncUpdate, MessageType } from '@collab/protocol'
import { MemoryDocStore } from '@collab/storage'
import { afterEach, describe, expect, it } from 'vitest'
import { type RawData, WebSocket } from 'ws'
import * as Y from 'yjs'
import {
  openLevelStore,
  RawClient,
  roomText,
  roundTrip,
  startTestServer,
  stockClient,
  synced,
  Teardown,
  tempDir,
  textOfUpdates,
  UpdateSource,
  waitFor,
} from './helpers.js'

const teardown = new Teardown()
afterEach(() => teardown.run())

/** A memory store whose writes take a while and count when they complete. */
class SlowStore extends MemoryDocStore {
  /** Every update whose append completed, in order. */
  readonly durable: Uint8Array[] = []

  override async append(name: string, update: Uint8Array): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 15))
    await super.append(name, update)
    this.durable.push(update)
  }
}

describe('extensions', () => {
  it('[EX1] [HB1] hello is answered with the server capabilities, ping with pong', async () => {
    const server = await startTestServer({ store: new MemoryDocStore() }, teardown)
    const client = await RawClient.connect(`${server.url}/hello`, teardown)
    client.send(encodeHello([Capability.Heartbeat, 'some-future-capability']))
    await waitFor('hello', () => client.messagesOf('hello').length === 1)
    expect(client.messagesOf('hello')[0]!.capabilities.sort()).toEqual([
      Capability.Heartbeat,
      Capability.Incarnation,
      Capability.SaveAck,
    ])
    for (let i = 0; i < 3; i++) await roundTrip(client)
    expect(client.messagesOf('pong')).toHaveLength(3)
  })

  it('[SA1] save acknowledgements grow, follow durable writes, and reach the number of updates sent', async () => {
    const store = new SlowStore()
    const server = await startTestServer({ store }, teardown)
    const client = await RawClient.connect(`${server.url}/acks`, teardown)
    const ackedBeyondStored: string[] = []
    /** The text once the first N messages are applied, at index N - 1 (each message appends to the text). */
    const textAfter: string[] = []
    client.ws.on('message', (data: RawData) => {
      const bytes = data instanceof Uint8Array ? data : new Uint8Array(0)
      if (bytes[0] !== MessageType.Saved) return
      // "Saved N" promises that the first N messages are durable: what the store holds starts with their text.
      const count = client.messagesOf('saved').at(-1)!.count
      const stored = textOfUpdates(...store.durable)
      if (!stored.startsWith(textAfter[count - 1]!)) ackedBeyondStored.push(`saved ${count} with ${stored} stored`)
    })
    client.send(encodeHello([Capability.SaveAck]))
    const source = new UpdateSource(teardown)
    client.send(encodeSyncStep2(source.type('step 2 ')))
    textAfter.push(source.text.toString())
    const sent = 1 + 30
    for (let i = 1; i < sent; i++) {
      client.send(encodeSyncUpdate(source.type(`${i} `)))
      textAfter.push(source.text.toString())
      if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 20))
    }
    await waitFor(
      () => `saved ${sent}`,
      () => client.messagesOf('saved').at(-1)?.count === sent,
    )

    const counts = client.messagesOf('saved').map((message) => message.count)
    expect(counts).toEqual([...counts].sort((a, b) => a - b))
    expect(new Set(counts).size).toBe(counts.length)
    expect(ackedBeyondStored).toEqual([])
    expect(textOfUpdates(...(await store.load('acks')))).toBe(source.text.toString())

    // A duplicate changes nothing and is acknowledged once what it duplicated is stored.
    client.send(encodeSyncUpdate(source.type('!')))
    client.send(encodeSyncUpdate(Y.encodeStateAsUpdate(source.doc)))
    await waitFor('the duplicate ack', () => client.messagesOf('saved').at(-1)?.count === sent + 2)
  })

  it('[SA1] acknowledgements are coalesced: one per storage write', async () => {
    const store = await openLevelStore(tempDir(teardown), teardown)
    const server = await startTestServer({ store }, teardown)
    const client = await RawClient.connect(`${server.url}/coalesced`, teardown)
    client.send(encodeHello([Capability.SaveAck]))
    const source = new UpdateSource(teardown)
    // Sent in one go, these arrive together and are stored in one LevelDB batch (group commit).
    const sent = 40
    for (let i = 0; i < sent; i++) client.send(encodeSyncUpdate(source.type(`${i} `)))
    await waitFor(
      () => `saved ${sent}`,
      () => client.messagesOf('saved').at(-1)?.count === sent,
    )
    expect(client.messagesOf('saved').length).toBeLessThan(sent / 2)
    expect(textOfUpdates(...(await store.load('coalesced')))).toBe(source.text.toString())
  })

  it('[EX1] stock clients (no hello) never receive message types 100 and up', async () => {
    const server = await startTestServer({ store: new MemoryDocStore(), pingIntervalMs: 50 }, teardown)
    const receivedTypes: number[] = []
    class RecordingWebSocket extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols)
        this.on('message', (data: RawData) => {
          const first = data instanceof ArrayBuffer ? new Uint8Array(data)[0] : Buffer.concat([data].flat())[0]
          if (first !== undefined) receivedTypes.push(first)
        })
      }
    }
    const stock = stockClient(server.url, 'mixed', teardown, { WebSocketPolyfill: RecordingWebSocket })
    await synced(stock)
    // An extension client on the same document, so the server is busy sending extension messages to someone.
    const extended = await RawClient.connect(`${server.url}/mixed`, teardown)
    extended.send(encodeHello([Capability.Heartbeat, Capability.SaveAck]))
    const source = new UpdateSource(teardown)
    for (let i = 0; i < 5; i++) extended.send(encodeSyncUpdate(source.type(`${i}`)))
    await roundTrip(extended)
    stock.text.insert(0, 'stock ')
    stock.provider.awareness.setLocalStateField('user', { name: 'stock' })
    await waitFor('acks for the extension client', () => extended.messagesOf('saved').at(-1)?.count === 5)
    await waitFor('the stock edit', () => roomText(server, 'mixed')?.startsWith('stock ') === true)
    await waitFor('the stock client to catch up', () => stock.text.toString() === roomText(server, 'mixed'))
    // Several server ping intervals passed: WebSocket ping frames are not messages and are fine.
    await new Promise((resolve) => setTimeout(resolve, 150))

    expect(receivedTypes.length).toBeGreaterThan(3)
    expect(receivedTypes.filter((type) => type >= 100)).toEqual([])
  })
})
