import { CloseCode } from '@collab/protocol'
import { MemoryDocStore } from '@collab/storage'
import { afterEach, describe, expect, it } from 'vitest'
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
    await waitFor(() => roomText(server, 'doc') === 'live text')
    expect(textOfUpdates((await server.sync.getDocument('doc'))!)).toBe('live text')
    client.destroy()
    await waitFor(() => server.sync.roomCount === 0)
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
    await waitFor(() => client.text.toString() === 'from the API')
  })

  it('applyUpdate loads a document nobody has open, then unloads it after the grace period', async () => {
    const store = new MemoryDocStore()
    const server = await startTestServer({ store, roomGraceMs: 20 }, teardown)
    await server.sync.applyUpdate('cold', new UpdateSource(teardown).type('written while nobody watched'))
    await waitFor(() => server.sync.roomCount === 0)
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
    await waitFor(() => b.text.toString() === 'x')
    const bad = await RawClient.connect(`${server.url}/..`, teardown)
    await bad.waitForClose()
    a.destroy()
    b.destroy()
    await waitFor(() => (counts.get('unloaded') ?? 0) === 1)
    expect(counts.get('opened:write')).toBe(2)
    expect(counts.get('in:sync-update')).toBeGreaterThanOrEqual(1)
    expect(counts.get('out:sync-update')).toBeGreaterThanOrEqual(1)
    expect(counts.get('out:sync-step-1')).toBe(2)
    expect(counts.get('loaded:true')).toBe(1)
    expect(counts.get('refused:name:4404')).toBe(1)
    expect(counts.get('compacted')).toBe(1)
    await waitFor(() => (counts.get('closed:1000') ?? 0) + (counts.get('closed:1005') ?? 0) >= 2)
  })
})
