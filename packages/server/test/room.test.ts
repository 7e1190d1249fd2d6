import {
  Capability,
  CloseCode,
  encodeHello,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
} from '@collab/protocol'
import { MemoryDocStore } from '@collab/storage'
import { ClassicLevel } from 'classic-level'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import {
  awarenessEntries,
  awarenessMessage,
  connectWithHeartbeat,
  entriesFor,
  openLevelStore,
  RawClient,
  receivedTypes,
  roomText,
  roundTrip,
  startTestServer,
  stockClient,
  synced,
  Teardown,
  type TestServer,
  tempDir,
  textOfUpdates,
  UpdateSource,
  waitFor,
  writeFramesAtOnce,
} from './helpers.js'

const teardown = new Teardown()
afterEach(() => teardown.run())

/** A memory store whose loads wait until the test opens the gate. */
class GatedStore extends MemoryDocStore {
  private openGate!: () => void
  private readonly gate = new Promise<void>((resolve) => {
    this.openGate = resolve
  })

  release(): void {
    this.openGate()
  }

  override async load(name: string): Promise<Uint8Array[]> {
    await this.gate
    return super.load(name)
  }
}

/** A memory store whose disk is full. */
class FailingStore extends MemoryDocStore {
  appendAttempts = 0

  override async append(): Promise<void> {
    this.appendAttempts++
    throw new Error('disk full')
  }
}

describe('loading', () => {
  it('[SV1] [HB1] messages sent before the document is loaded are answered after it, in order; pings at once', async () => {
    const store = new GatedStore()
    await store.append('slow', new UpdateSource(teardown).type('stored'))
    const server = await startTestServer({ store }, teardown)
    const client = await connectWithHeartbeat(`${server.url}/slow`, teardown)
    const source = new UpdateSource(teardown)
    const queuedUpdate = source.type('queued')
    // A non-empty state vector: an empty one may be answered early from the stored snapshot ([SV2]).
    client.send(encodeSyncStep1(Y.encodeStateVector(source.doc)))
    client.send(encodeSyncUpdate(queuedUpdate))
    client.send(awarenessMessage({ clientID: 501, clock: 1, state: { name: 'early' } }))
    await roundTrip(client)

    expect(receivedTypes(client)).toEqual(['hello', 'pong'])
    expect(server.sync.getRoom('slow')?.isReady).toBe(false)

    store.release()
    await waitFor(
      () => `five messages, got ${receivedTypes(client).join(', ')}`,
      () => receivedTypes(client).length === 5,
    )
    expect(receivedTypes(client)).toEqual(['hello', 'pong', 'sync-step-1', 'sync-step-2', 'awareness'])
    const [step2] = client.messagesOf('sync-step-2')
    expect(textOfUpdates(step2!.update)).toBe('stored')
    expect(entriesFor(client, 501)).toEqual([{ clientID: 501, clock: 1, state: { name: 'early' } }])
    const text = roomText(server, 'slow')
    expect(text).toContain('stored')
    expect(text).toContain('queued')
  })

  it('[SV2] a queued sync step 1 with an empty state vector is answered from the stored snapshot first', async () => {
    const store = new GatedStore()
    const source = new UpdateSource(teardown)
    for (const part of ['snap', 'shot']) await store.append('cold', source.type(part))
    await store.compact('cold')
    const server = await startTestServer({ store }, teardown)
    const client = await connectWithHeartbeat(`${server.url}/cold`, teardown)
    client.send(encodeSyncStep1(new Uint8Array([0])))
    await roundTrip(client)
    store.release()
    await waitFor('the answer and the greeting', () => client.received.length === 4)
    expect(receivedTypes(client)).toEqual(['hello', 'pong', 'sync-step-2', 'sync-step-1'])
    expect(Uint8Array.from(client.messagesOf('sync-step-2')[0]!.update)).toEqual(
      Uint8Array.from((await store.load('cold'))[0]!),
    )
    expect(textOfUpdates(client.messagesOf('sync-step-2')[0]!.update)).toBe('snapshot')
  })

  it('[SV1] [SV2] with several stored records, an empty sync step 1 waits for the load like any message', async () => {
    const store = new GatedStore()
    const source = new UpdateSource(teardown)
    for (const part of ['not ', 'compacted']) await store.append('warm', source.type(part))
    const server = await startTestServer({ store }, teardown)
    const client = await connectWithHeartbeat(`${server.url}/warm`, teardown)
    client.send(encodeSyncStep1(new Uint8Array([0])))
    await roundTrip(client)
    store.release()
    await waitFor('the greeting and the answer', () => client.received.length === 4)
    expect(receivedTypes(client)).toEqual(['hello', 'pong', 'sync-step-1', 'sync-step-2'])
    expect(textOfUpdates(client.messagesOf('sync-step-2')[0]!.update)).toBe('not compacted')
  })

  it('[SV1] a document that cannot be loaded closes its connections with 4503', async () => {
    const dataDir = tempDir(teardown)
    const store = await openLevelStore(dataDir, teardown)
    await store.append('unreadable', new UpdateSource(teardown).type('fine'))
    await store.close()
    const db = new ClassicLevel<string, Uint8Array>(dataDir, { keyEncoding: 'utf8', valueEncoding: 'view' })
    // A record with an unknown kind byte, at the next key of the layout in level-doc-store.ts: the store refuses the
    // document rather than serving it empty.
    await db.put('d\u0000unreadable\u0000000000000002', new Uint8Array([9, 9, 9, 9, 9, 9]))
    await db.close()

    const reopened = await openLevelStore(dataDir, teardown)
    const server = await startTestServer({ store: reopened }, teardown)
    const client = await RawClient.connect(`${server.url}/unreadable`, teardown)
    expect(await client.waitForClose()).toBe(CloseCode.RetryLater)
    expect(client.messagesOf('sync-step-1')).toEqual([])
  })
})

describe('sync', () => {
  async function serverWithText(
    docName: string,
    parts: string[],
  ): Promise<{ server: TestServer; updates: Uint8Array[] }> {
    const server = await startTestServer({ store: new MemoryDocStore() }, teardown)
    const writer = await RawClient.connect(`${server.url}/${docName}`, teardown)
    const source = new UpdateSource(teardown)
    const updates = parts.map((part) => source.type(part))
    for (const update of updates) writer.send(encodeSyncUpdate(update))
    await waitFor('the text to arrive', () => roomText(server, docName) === parts.join(''))
    return { server, updates }
  }

  it('[SY1] greets with sync step 1 holding its state vector, then the present awareness states', async () => {
    const { server } = await serverWithText('greet', ['some ', 'text'])
    const present = await RawClient.connect(`${server.url}/greet`, teardown)
    present.send(awarenessMessage({ clientID: 801, clock: 1, state: { name: 'present' } }))
    await waitFor('the awareness echo', () => entriesFor(present, 801).length === 1)

    const newcomer = await RawClient.connect(`${server.url}/greet`, teardown)
    await waitFor('the greeting', () => newcomer.received.length >= 2)
    const [first, second] = newcomer.received
    expect(first).toEqual({
      type: 'sync-step-1',
      stateVector: Y.encodeStateVector(server.sync.getRoom('greet')!.doc),
    })
    expect(second?.type).toBe('awareness')
    expect(awarenessEntries(newcomer)).toEqual([{ clientID: 801, clock: 1, state: { name: 'present' } }])
  })

  it('[SY1] greets with sync step 1 alone when nobody is present', async () => {
    const { server } = await serverWithText('alone', ['x'])
    const client = await connectWithHeartbeat(`${server.url}/alone`, teardown)
    await roundTrip(client)
    expect(receivedTypes(client)).toEqual(['sync-step-1', 'hello', 'pong'])
  })

  it('[SY2] answers sync step 1 with sync step 2 holding exactly what the sender lacks', async () => {
    const { server, updates } = await serverWithText('diff', ['one ', 'two ', 'three'])
    const partial = new Y.Doc()
    teardown.defer(() => partial.destroy())
    Y.applyUpdate(partial, updates[0]!)
    const stateVector = Y.encodeStateVector(partial)

    const client = await RawClient.connect(`${server.url}/diff`, teardown)
    client.send(encodeSyncStep1(stateVector))
    await waitFor('sync step 2', () => client.messagesOf('sync-step-2').length === 1)
    const [step2] = client.messagesOf('sync-step-2')
    expect(Uint8Array.from(step2!.update)).toEqual(Y.encodeStateAsUpdate(server.sync.getRoom('diff')!.doc, stateVector))
    Y.applyUpdate(partial, step2!.update)
    expect(partial.getText('codemirror').toString()).toBe('one two three')

    // A sender that has everything gets an update that adds nothing.
    client.send(encodeSyncStep1(Y.encodeStateVector(partial)))
    await waitFor('the second sync step 2', () => client.messagesOf('sync-step-2').length === 2)
    const before = Y.encodeStateVector(partial)
    Y.applyUpdate(partial, client.messagesOf('sync-step-2')[1]!.update)
    expect(Y.encodeStateVector(partial)).toEqual(before)
  })

  it('[SY3] step 2 and updates are applied, relayed to every other connection and appended to storage', async () => {
    const store = await openLevelStore(tempDir(teardown), teardown)
    const server = await startTestServer({ store }, teardown)
    const sender = await connectWithHeartbeat(`${server.url}/relay`, teardown)
    const receivers = [
      await RawClient.connect(`${server.url}/relay`, teardown),
      await RawClient.connect(`${server.url}/relay`, teardown),
    ]
    const source = new UpdateSource(teardown)
    sender.send(encodeSyncStep2(source.type('via step 2, ')))
    sender.send(encodeSyncUpdate(source.type('via update')))
    // Both may arrive in one socket read and be relayed as one update ([SU4]).
    for (const receiver of receivers) {
      const relayedText = () => textOfUpdates(...receiver.messagesOf('sync-update').map((message) => message.update))
      await waitFor('both updates relayed', () => relayedText() === 'via step 2, via update')
    }
    await roundTrip(sender)
    expect(sender.messagesOf('sync-update')).toEqual([])
    expect(roomText(server, 'relay')).toBe('via step 2, via update')
    await store.flush()
    expect(textOfUpdates(...(await store.load('relay')))).toBe('via step 2, via update')
  })
})

describe('[SU4] one transaction per read', () => {
  it('[SU4] updates that arrive in one read are applied together: a relay and a stored record per turn, not per update', async () => {
    const store = new MemoryDocStore()
    const server = await startTestServer({ store }, teardown)
    const watcher = await RawClient.connect(`${server.url}/burst`, teardown)
    await roundTrip(watcher)
    const source = new UpdateSource(teardown)
    let typed = ''
    const updates: Uint8Array[] = []
    for (let i = 0; i < 50; i++) {
      const char = String.fromCharCode(97 + (i % 26))
      typed += char
      updates.push(encodeSyncUpdate(source.type(char)))
    }
    await writeFramesAtOnce(`${server.url}/burst`, updates, teardown)
    await waitFor('every update', () => roomText(server, 'burst') === typed)
    await roundTrip(watcher)
    // Applied one by one, these would be 50 relays and 50 records. A read is applied in turns of at most 64
    // messages or 2 ms ([LM2]), so a slow start (code not yet optimized) may split it once or twice.
    expect(watcher.messagesOf('sync-update').length).toBeLessThanOrEqual(3)
    expect(textOfUpdates(...watcher.messagesOf('sync-update').map((message) => message.update))).toBe(typed)
    await store.flush()
    expect((await store.load('burst')).length).toBeLessThanOrEqual(3)
  })
})

describe('storage failure', () => {
  it('[DU3] a failing append closes every connection of the document with 4503 and is never acknowledged', async () => {
    const store = new FailingStore()
    const server = await startTestServer({ store }, teardown)
    const writer = await RawClient.connect(`${server.url}/failing`, teardown)
    writer.send(encodeHello([Capability.SaveAck]))
    const reader = await RawClient.connect(`${server.url}/failing`, teardown)
    const bystander = await RawClient.connect(`${server.url}/elsewhere`, teardown)
    writer.send(encodeSyncUpdate(new UpdateSource(teardown).type('never stored')))

    expect(await writer.waitForClose()).toBe(CloseCode.RetryLater)
    expect(await reader.waitForClose()).toBe(CloseCode.RetryLater)
    expect(writer.messagesOf('saved')).toEqual([])
    expect(store.appendAttempts).toBe(1)
    await waitFor('the room to be dropped', () => server.sync.getRoom('failing') === undefined)
    expect(bystander.isOpen).toBe(true)

    // A client reconnecting gets a freshly loaded document: nothing unstored survives in memory.
    const again = await RawClient.connect(`${server.url}/failing`, teardown)
    again.send(encodeSyncStep1(new Uint8Array([0])))
    await waitFor('sync step 2', () => again.messagesOf('sync-step-2').length === 1)
    expect(textOfUpdates(again.messagesOf('sync-step-2')[0]!.update)).toBe('')
  })
})

describe('room lifecycle and shutdown', () => {
  it('unloads an idle room after roomGraceMs and compacts what it wrote', async () => {
    const store = await openLevelStore(tempDir(teardown), teardown)
    const server = await startTestServer({ store, roomGraceMs: 150 }, teardown)
    const writer = stockClient(server.url, 'idle', teardown)
    await synced(writer)
    for (let i = 0; i < 10; i++) writer.text.insert(writer.text.length, `${i}`)
    await waitFor('the edits', () => roomText(server, 'idle') === '0123456789')
    writer.destroy()
    await waitFor('the connection to close', () => server.sync.connectionCount === 0)
    const closedAt = Date.now()
    // Still loaded during the grace period.
    expect(server.sync.getRoom('idle')).toBeDefined()

    await waitFor('the room to unload', () => server.sync.roomCount === 0)
    expect(Date.now() - closedAt).toBeGreaterThanOrEqual(100)
    await waitFor(
      'the unload compaction',
      async () => (await store.list()).find((info) => info.name === 'idle')?.records === 1,
    )

    const reader = stockClient(server.url, 'idle', teardown)
    await synced(reader)
    expect(reader.text.toString()).toBe('0123456789')
  })

  it('keeps a room loaded when a client comes back within the grace period', async () => {
    const server = await startTestServer({ store: new MemoryDocStore(), roomGraceMs: 300 }, teardown)
    const first = await RawClient.connect(`${server.url}/return`, teardown)
    await waitFor('the room', () => server.sync.getRoom('return')?.isReady === true)
    const room = server.sync.getRoom('return')
    first.ws.close()
    await waitFor('the close', () => server.sync.connectionCount === 0)
    await RawClient.connect(`${server.url}/return`, teardown)
    await new Promise((resolve) => setTimeout(resolve, 400))
    expect(server.sync.getRoom('return')).toBe(room)
  })

  it('close() closes every connection with 1001, flushes, and refuses new connections', async () => {
    const store = await openLevelStore(tempDir(teardown), teardown)
    const server = await startTestServer({ store }, teardown)
    const clients = [
      await RawClient.connect(`${server.url}/a`, teardown),
      await RawClient.connect(`${server.url}/a`, teardown),
      await RawClient.connect(`${server.url}/b`, teardown),
    ]
    clients[0]!.send(encodeSyncUpdate(new UpdateSource(teardown).type('flushed on close')))
    await waitFor('the edit', () => roomText(server, 'a') === 'flushed on close')
    const { url } = server
    await server.sync.close()
    for (const client of clients) expect(await client.waitForClose()).toBe(CloseCode.GoingAway)
    expect(server.sync.roomCount).toBe(0)
    expect(await store.load('a')).toHaveLength(1)
    expect(textOfUpdates(...(await store.load('a')))).toBe('flushed on close')
    await expect(RawClient.connect(`${url}/a`, teardown)).rejects.toThrow(/503/)
  })
})
