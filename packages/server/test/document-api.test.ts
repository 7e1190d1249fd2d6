import { CloseCode } from '@collab/protocol'
import { MemoryDocStore } from '@collab/storage'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { SyncObserver } from '../src/index.js'
import {
  openLevelStore,
  RawClient,
  roomText,
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

describe('document API of the engine', () => {
  it('getDocument reads the live room, or storage when the document is not loaded, or null', async () => {
    const store = new MemoryDocStore()
    const server = await startTestServer({ store, roomGraceMs: 20 }, teardown)
    expect(await server.sync.getDocument('missing')).toBeNull()
    const client = stockClient(server.url, 'doc', teardown)
    await synced(client)
    client.text.insert(0, 'live text')
    await waitFor('the live text in the room', () => roomText(server, 'doc') === 'live text')
    expect(textOfUpdates((await server.sync.getDocument('doc'))!)).toBe('live text')
    client.destroy()
    await waitFor('the room to unload', () => server.sync.roomCount === 0)
    expect(textOfUpdates((await server.sync.getDocument('doc'))!)).toBe('live text')
    await expect(server.sync.getDocument('../x')).rejects.toThrow(RangeError)
  })

  it('applyUpdate reaches connected clients at once and is stored before it resolves', async () => {
    const dir = tempDir(teardown)
    const store = await openLevelStore(dir, teardown)
    const server = await startTestServer({ store }, teardown)
    const client = stockClient(server.url, 'api', teardown)
    await synced(client)
    await server.sync.applyUpdate('api', new UpdateSource(teardown).type('from the API'))
    expect((await store.load('api')).length).toBeGreaterThan(0)
    await waitFor('the client to receive the API write', () => client.text.toString() === 'from the API')
  })

  it('applyUpdate loads a document nobody has open, then unloads it after the grace period', async () => {
    const store = new MemoryDocStore()
    const server = await startTestServer({ store, roomGraceMs: 20 }, teardown)
    await server.sync.applyUpdate('cold', new UpdateSource(teardown).type('written while nobody watched'))
    await waitFor('the room to unload', () => server.sync.roomCount === 0)
    expect(textOfUpdates(...(await store.load('cold')))).toBe('written while nobody watched')
  })

  it('[PR2] applyUpdate refuses an update that does not decode and changes nothing', async () => {
    const store = new MemoryDocStore()
    const server = await startTestServer({ store }, teardown)
    await server.sync.applyUpdate('doc', new UpdateSource(teardown).type('kept'))
    const source = new UpdateSource(teardown)
    source.doc.transact(() => {
      source.text.insert(0, 'never')
      source.text.delete(0, 2)
    })
    const broken = source.type('')
    await expect(server.sync.applyUpdate('doc', broken.slice(0, broken.length - 1))).rejects.toThrow()
    expect(roomText(server, 'doc')).toBe('kept')
    await expect(server.sync.applyUpdate('never-created', new Uint8Array([1, 2, 3]))).rejects.toThrow()
    expect(await server.sync.getDocument('never-created')).toBeNull()
  })

  it('deleteDocument closes its connections with 4404 and removes it from storage', async () => {
    const store = new MemoryDocStore()
    const server = await startTestServer({ store }, teardown)
    const raw = await RawClient.connect(`${server.url}/gone`, teardown)
    await server.sync.applyUpdate('gone', new UpdateSource(teardown).type('soon deleted'))
    expect(await server.sync.deleteDocument('gone')).toBe(true)
    expect(await raw.waitForClose()).toBe(CloseCode.UnknownDocument)
    expect(raw.closeEvent?.reason).toBe('document deleted')
    expect(await store.load('gone')).toEqual([])
    expect(await server.sync.getDocument('gone')).toBeNull()
    expect(await server.sync.deleteDocument('gone')).toBe(false)
  })

  it('[PR2] an update refused by admission is an UpdateRefusedError and leaves no document behind', async () => {
    const server = await startTestServer({ store: new MemoryDocStore() }, teardown)
    const source = new UpdateSource(teardown)
    source.type('first')
    const dependent = source.type(' second')
    // Depends on content the server never had: refused, and nothing is created for it ([SY4]).
    await expect(server.sync.applyUpdate('orphan', dependent)).rejects.toMatchObject({
      name: 'UpdateRefusedError',
      refusal: { kind: 'missing' },
    })
    expect(await server.sync.getDocument('orphan')).toBeNull()
    await expect(server.sync.applyUpdate('junk', new Uint8Array([1, 2, 3]))).rejects.toMatchObject({
      name: 'UpdateRefusedError',
      refusal: { kind: 'invalid' },
    })
    // The room loaded to find the dependency missing goes after its grace period, and nothing was stored.
    await waitFor('the room to unload', () => server.sync.roomCount === 0)
    expect(await server.sync.getDocument('orphan')).toBeNull()
  })

  it('[DL1] [DL2] a deleted document stays deleted: a client holding it gets 4404 "deleted", a new one starts empty', async () => {
    const dir = tempDir(teardown)
    const store = await openLevelStore(dir, teardown)
    const server = await startTestServer({ store }, teardown)
    const holder = stockClient(server.url, 'doomed', teardown)
    await synced(holder)
    holder.text.insert(0, 'content that was deleted')
    await waitFor('the text', () => roomText(server, 'doomed') === 'content that was deleted')
    const closes: Array<{ code: number; reason: string }> = []
    holder.provider.on('connection-close', (event) =>
      closes.push({ code: event?.code ?? -1, reason: event?.reason ?? '' }),
    )
    // Offline while the document is deleted, then back with its copy: its sync step 1 shows it holds deleted content.
    holder.provider.disconnect()
    expect(await server.sync.deleteDocument('doomed')).toBe(true)
    holder.provider.connect()
    await waitFor('the reconnect to be refused', () => closes.some((close) => close.reason === 'deleted'))
    expect(closes.find((close) => close.reason === 'deleted')?.code).toBe(CloseCode.UnknownDocument)
    holder.destroy()
    expect(await server.sync.getDocument('doomed')).toBeNull()
    // Its content sent as an update (through the HTTP API, say) is refused too.
    await expect(server.sync.applyUpdate('doomed', Y.encodeStateAsUpdate(holder.doc))).rejects.toMatchObject({
      refusal: { kind: 'deleted' },
    })
    const fresh = stockClient(server.url, 'doomed', teardown)
    await synced(fresh)
    expect(fresh.text.toString()).toBe('')
    fresh.text.insert(0, 'a new beginning')
    await waitFor('the new text', () => roomText(server, 'doomed') === 'a new beginning')
  })

  it('[DL1] a join racing a delete never brings the content back', async () => {
    const store = new MemoryDocStore()
    const server = await startTestServer({ store }, teardown)
    for (let trial = 0; trial < 10; trial++) {
      const name = `race-${trial}`
      const writer = stockClient(server.url, name, teardown)
      await synced(writer)
      writer.text.insert(0, `trial ${trial}`)
      await waitFor('the text', () => roomText(server, name) === `trial ${trial}`)
      // A second copy of the document joins at the moment of the delete.
      const joiner = stockClient(server.url, name, teardown, { connect: false })
      Y.applyUpdate(joiner.doc, Y.encodeStateAsUpdate(writer.doc))
      joiner.provider.connect()
      await server.sync.deleteDocument(name)
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(await server.sync.getDocument(name), `trial ${trial}`).toBeNull()
      writer.destroy()
      joiner.destroy()
    }
  })
})

describe('observer', () => {
  it('sees connections, messages by kind, broadcasts, rooms and closes by code', async () => {
    const counts = new Map<string, number>()
    const add = (key: string, n = 1) => counts.set(key, (counts.get(key) ?? 0) + n)
    const observer: SyncObserver = {
      connectionOpened: (access) => add(`opened:${access}`),
      connectionClosed: (code) => add(`closed:${code}`),
      connectionRefused: (reason, code) => add(`refused:${reason}:${code}`),
      messageReceived: (kind) => add(`in:${kind}`),
      messagesSent: (kind, _bytes, count) => add(`out:${kind}`, count),
      roomLoaded: (_ms, ok) => add(`loaded:${ok}`),
      roomUnloaded: () => add('unloaded'),
      compacted: () => add('compacted'),
    }
    const server = await startTestServer({ store: new MemoryDocStore(), observer, roomGraceMs: 20 }, teardown)
    const a = stockClient(server.url, 'watched', teardown)
    const b = stockClient(server.url, 'watched', teardown)
    await synced(a)
    await synced(b)
    a.text.insert(0, 'x')
    await waitFor('b to receive the edit', () => b.text.toString() === 'x')
    const bad = await RawClient.connect(`${server.url}/..`, teardown)
    await bad.waitForClose()
    a.destroy()
    b.destroy()
    await waitFor('the unload event', () => (counts.get('unloaded') ?? 0) === 1)
    expect(counts.get('opened:write')).toBe(2)
    expect(counts.get('in:sync-update')).toBeGreaterThanOrEqual(1)
    expect(counts.get('out:sync-update')).toBeGreaterThanOrEqual(1)
    expect(counts.get('out:sync-step-1')).toBe(2)
    expect(counts.get('loaded:true')).toBe(1)
    expect(counts.get('refused:name:4404')).toBe(1)
    expect(counts.get('compacted')).toBe(1)
    await waitFor('both close events', () => (counts.get('closed:1000') ?? 0) + (counts.get('closed:1005') ?? 0) >= 2)
  })
})
