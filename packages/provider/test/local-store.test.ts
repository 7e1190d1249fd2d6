import { TcpProxy } from '@collab/test-support'
import { IDBFactory } from 'fake-indexeddb'
// @ts-expect-error fake-indexeddb declares its classes for the main entry point only; this is the same class.
import FDBObjectStore from 'fake-indexeddb/lib/FDBObjectStore'
import { afterEach, describe, expect, it, vi } from 'vitest'
import * as Y from 'yjs'
import {
  clearLocalData,
  listLocalDocuments,
  listRecoveredCopies,
  localDocumentBytes,
  type ProviderStatus,
  saveStateOf,
} from '../src/index.js'
import { createClient, startTestServer, Teardown, type TestServer, waitFor } from './harness.js'

const teardown = new Teardown()
afterEach(() => teardown.run())

/** The document's text as the server stored it. */
async function serverText(server: TestServer, name: string): Promise<string> {
  const doc = new Y.Doc()
  for (const update of await server.store.load(name)) Y.applyUpdate(doc, update)
  const text = doc.getText('codemirror').toString()
  doc.destroy()
  return text
}

/** A browser profile: one IndexedDB shared by its tabs, none by anyone else. */
function profile() {
  return { indexedDB: new IDBFactory() }
}

/** A tab of `browser` with the document open, through `url`; its local store written to at once. */
function openTab(url: string, name: string, browser: { indexedDB: IDBFactory }, extra: Record<string, unknown> = {}) {
  return createClient(url, name, teardown, {
    localStore: { ...browser, compactDelayMs: 20, compactMaxDelayMs: 100, retryMs: 50, maxRetryMs: 200 },
    backoff: { baseMs: 50, maxMs: 300 },
    ...extra,
  })
}

async function proxied(server: TestServer): Promise<TcpProxy> {
  const proxy = await new TcpProxy(server.port).listen()
  teardown.defer(() => proxy.close())
  return proxy
}

describe('LocalStore with CollabProvider', () => {
  it('keeps offline edits across a crash and sends them once the server is back, exactly once', async () => {
    const server = await startTestServer(teardown)
    const proxy = await proxied(server)
    const url = `ws://127.0.0.1:${proxy.port}`
    const browser = profile()
    // No tab channel: the second tab must find the edits in the local store, not hear them from the first.
    const first = openTab(url, 'doc', browser, { tabSync: false })
    await waitFor('synced', () => first.provider.status.connection === 'synced')
    first.text.insert(0, 'online ')
    await waitFor('saved on the server', () => saveStateOf(first.provider.status) === 'server')

    proxy.blackhole()
    first.provider.disconnect()
    first.text.insert(first.text.length, 'offline')
    await waitFor('saved on this device', () => first.provider.status.saved === 'device')
    // A crash: nothing of this tab runs again (no destroy, no flush); only what IndexedDB committed is left.
    first.provider.disconnect()

    const second = openTab(url, 'doc', browser)
    await second.provider.loaded
    expect(second.text.toString()).toBe('online offline')
    expect(second.provider.status.connection).not.toBe('synced')
    // What the local copy holds beyond the server is not on the server yet: it says so.
    second.text.insert(second.text.length, '!')
    await waitFor('device', () => second.provider.status.saved === 'device')
    expect(await serverText(server, 'doc')).toBe('online ')

    proxy.restore()
    await waitFor('saved on the server', () => second.provider.status.saved === 'server', 15_000)
    expect(await serverText(server, 'doc')).toBe('online offline!')
  })

  it('reports none -> device -> server for a change made while offline', async () => {
    const server = await startTestServer(teardown)
    const browser = profile()
    const tab = openTab(server.url, 'doc', browser, { connect: false })
    await tab.provider.loaded
    await waitFor('store ready', () => tab.provider.status.localStore?.state === 'ready')
    const seen: string[] = [tab.provider.status.saved ?? 'absent']
    tab.provider.onStatus((status) => {
      if (seen.at(-1) !== status.saved) seen.push(status.saved ?? 'absent')
    })
    tab.text.insert(0, 'x')
    // The change is in memory only until the store's transaction commits.
    expect(tab.provider.status.saved).toBe('none')
    await waitFor('device', () => tab.provider.status.saved === 'device')
    tab.provider.connect()
    await waitFor('server', () => tab.provider.status.saved === 'server')
    expect(seen).toEqual(['server', 'none', 'device', 'server'])
    expect(await serverText(server, 'doc')).toBe('x')
  })

  it('writes what the server sends in the background: no status change per remote keystroke, one record for many', async () => {
    const server = await startTestServer(teardown)
    const browser = profile()
    const reader = openTab(server.url, 'doc', browser, {
      localStore: { ...browser, receivedDelayMs: 300, compactDelayMs: 60_000, compactMaxDelayMs: 60_000 },
    })
    const writer = createClient(server.url, 'doc', teardown)
    await waitFor('synced', () =>
      [reader, writer].every((tab) => tab.provider.status.connection === 'synced' && !tab.provider.status.unsaved),
    )
    await waitFor('store ready', () => reader.provider.status.localStore?.state === 'ready')
    const changes: ProviderStatus[] = []
    reader.provider.onStatus((status) => changes.push(status))
    for (let i = 0; i < 20; i++) {
      writer.text.insert(i, 'k')
      await waitFor('relayed', () => reader.text.length === i + 1)
    }
    // Received, not typed here: nothing of it is at risk, so nothing about it is news to the status display.
    expect(changes.filter((status) => status.localStore?.written === false)).toEqual([])
    await waitFor('written', async () => {
      const [info] = await listLocalDocuments(browser)
      return info !== undefined && info.tailRecords > 0
    })
    const [info] = await listLocalDocuments(browser)
    // 20 keystrokes received within a few hundred ms: a handful of transactions, not one each.
    expect(info!.tailRecords).toBeLessThanOrEqual(5)
    reader.provider.destroy()
    const offline = openTab('ws://127.0.0.1:9', 'doc', browser, { connect: false })
    await offline.provider.loaded
    expect(offline.text.toString()).toBe('k'.repeat(20))
  })

  it('loads the local copy before the first sync, so the first sync step 1 carries it', async () => {
    const server = await startTestServer(teardown)
    const browser = profile()
    const writer = openTab(server.url, 'doc', browser)
    await waitFor('synced', () => writer.provider.status.connection === 'synced')
    writer.text.insert(0, 'a'.repeat(2_000))
    await waitFor('server', () => writer.provider.status.saved === 'server')
    writer.provider.destroy()

    const reader = openTab(server.url, 'doc', browser, { connect: false })
    let lengthWhenConnecting: number | null = null
    reader.provider.onStatus((status) => {
      if (status.connection === 'connecting' && lengthWhenConnecting === null) lengthWhenConnecting = reader.text.length
    })
    reader.provider.connect()
    await reader.provider.loaded
    expect(reader.text.length).toBe(2_000)
    await waitFor('synced', () => reader.provider.status.connection === 'synced')
    expect(lengthWhenConnecting).toBe(2_000)
  })

  it('stays small: 100 reloads without edits grow it by at most 1%, and it stays within 2x the encoded state', async () => {
    const server = await startTestServer(teardown)
    const browser = profile()
    const tab = openTab(server.url, 'doc', browser)
    await waitFor('synced', () => tab.provider.status.connection === 'synced')
    // A keystroke log: many small records, which compaction folds into one snapshot.
    for (let i = 0; i < 600; i++) tab.text.insert(tab.text.length, i % 10 === 9 ? '\n' : 'k')
    for (let i = 0; i < 100; i++) tab.text.delete(i * 3, 1)
    await waitFor('server', () => tab.provider.status.saved === 'server')
    await tab.provider.localStore!.compact()
    const encoded = Y.encodeStateAsUpdate(tab.doc).byteLength
    const before = await localDocumentBytes('doc', browser)
    expect(before).toBeLessThanOrEqual(2 * encoded)
    tab.provider.destroy()

    for (let i = 0; i < 100; i++) {
      const reload = openTab(server.url, 'doc', browser)
      await waitFor(
        'synced',
        () => reload.provider.status.connection === 'synced' && reload.provider.status.saved === 'server',
      )
      expect(reload.text.length).toBe(500)
      reload.provider.destroy()
    }
    const after = await localDocumentBytes('doc', browser)
    expect(after).toBeLessThanOrEqual(before * 1.01)
  }, 120_000)

  it('compacts while typing, and stays within 2x the encoded state', async () => {
    const browser = profile()
    const tab = openTab('ws://127.0.0.1:9', 'doc', browser, { connect: false })
    await tab.provider.loaded
    for (let i = 0; i < 3_000; i++) {
      tab.text.insert(tab.text.length, 'w')
      // Each keystroke its own tick, as typing is.
      if (i % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 0))
    }
    await waitFor('written', () => tab.provider.status.localStore?.written === true)
    await waitFor(
      'compacted',
      async () => (await localDocumentBytes('doc', browser)) <= 2 * Y.encodeStateAsUpdate(tab.doc).byteLength,
      10_000,
    )
  })

  it('two tabs share offline edits, and compaction by one keeps the other’s unsynced edits', async () => {
    const browser = profile()
    const offline = 'ws://127.0.0.1:9'
    const a = openTab(offline, 'doc', browser, { connect: false })
    const b = openTab(offline, 'doc', browser, { connect: false })
    await Promise.all([a.provider.loaded, b.provider.loaded])
    a.text.insert(0, 'from a. ')
    await waitFor('b has a’s edit', () => b.text.toString() === 'from a. ')
    b.text.insert(b.text.length, 'from b.')
    await waitFor('a has b’s edit', () => a.text.toString() === 'from a. from b.')
    await waitFor('both on device', () => a.provider.status.saved === 'device' && b.provider.status.saved === 'device')

    // Without the channel: b's edits reach the store only. a's compaction must fold them in, not drop them.
    const c = openTab(offline, 'doc', browser, { connect: false, tabSync: false })
    const d = openTab(offline, 'doc', browser, { connect: false, tabSync: false })
    await Promise.all([c.provider.loaded, d.provider.loaded])
    d.text.insert(d.text.length, ' from d')
    await waitFor('d written', () => d.provider.status.saved === 'device')
    await c.provider.localStore!.compact()
    expect(c.text.toString()).toContain('from d')
    for (const tab of [a, b, c, d]) tab.provider.destroy()

    const reopened = openTab(offline, 'doc', browser, { connect: false })
    await reopened.provider.loaded
    expect(reopened.text.toString()).toBe('from a. from b. from d')
  })

  it('a closed database is reported, editing and syncing go on, and the store reopens and writes what it missed', async () => {
    const server = await startTestServer(teardown)
    const browser = profile()
    const tab = openTab(server.url, 'doc', browser)
    await waitFor('synced', () => tab.provider.status.connection === 'synced')
    tab.text.insert(0, 'before ')
    await waitFor('server', () => tab.provider.status.saved === 'server')
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    teardown.defer(() => errors.mockRestore())

    tab.provider.localStore!.closeDatabase()
    tab.text.insert(tab.text.length, 'after')
    await waitFor('failure reported', () => tab.provider.status.localStore?.state === 'failed')
    expect(String(errors.mock.calls[0]?.[0])).toMatch(/local store of "doc"/)
    // Syncing goes on: the server acknowledges the edit made while the store was down.
    await waitFor('server has it', async () => (await serverText(server, 'doc')) === 'before after')
    await waitFor('reopened', () => tab.provider.status.localStore?.state === 'ready', 5_000)
    tab.provider.disconnect()
    tab.provider.destroy()

    const reload = openTab(server.url, 'doc', browser, { connect: false })
    await reload.provider.loaded
    expect(reload.text.toString()).toBe('before after')
  })

  it('a quota error is reported, says the edit is nowhere but memory, and is recovered from', async () => {
    const browser = profile()
    const tab = openTab('ws://127.0.0.1:9', 'doc', browser, { connect: false })
    await tab.provider.loaded
    await waitFor('ready', () => tab.provider.status.localStore?.state === 'ready')
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    teardown.defer(() => errors.mockRestore())
    const add = FDBObjectStore.prototype.add
    let failures = 1
    const patched = vi.spyOn(FDBObjectStore.prototype, 'add').mockImplementation(function (
      this: IDBObjectStore,
      ...args: Parameters<IDBObjectStore['add']>
    ) {
      if (failures-- > 0) throw new DOMException('quota', 'QuotaExceededError')
      return add.apply(this, args)
    })
    teardown.defer(() => patched.mockRestore())

    tab.text.insert(0, 'kept')
    await waitFor('failed', () => tab.provider.status.localStore?.state === 'failed')
    expect(tab.provider.status.localStore?.problem).toMatch(/quota/)
    expect(tab.provider.status.saved).toBe('none')
    await waitFor('device', () => tab.provider.status.saved === 'device', 5_000)
    tab.provider.destroy()
    const reload = openTab('ws://127.0.0.1:9', 'doc', browser, { connect: false })
    await reload.provider.loaded
    expect(reload.text.toString()).toBe('kept')
  })

  it('without IndexedDB the store is unavailable, and edits and sync work as without one', async () => {
    const server = await startTestServer(teardown)
    const tab = createClient(server.url, 'doc', teardown, { localStore: true })
    await tab.provider.loaded
    expect(tab.provider.status.localStore?.state).toBe('unavailable')
    await waitFor('synced', () => tab.provider.status.connection === 'synced')
    tab.text.insert(0, 'x')
    expect(tab.provider.status.saved).toBe('none')
    await waitFor('server', () => tab.provider.status.saved === 'server')
  })

  it('[DL2] a document deleted on the server while offline is not brought back: the local copy is kept aside', async () => {
    const server = await startTestServer(teardown)
    const proxy = await proxied(server)
    const url = `ws://127.0.0.1:${proxy.port}`
    const browser = profile()
    const tab = openTab(url, 'doc', browser)
    await waitFor('synced', () => tab.provider.status.connection === 'synced')
    tab.text.insert(0, 'shared. ')
    await waitFor('server', () => tab.provider.status.saved === 'server')
    proxy.blackhole()
    tab.provider.disconnect()
    tab.text.insert(tab.text.length, 'written offline.')
    await waitFor('device', () => tab.provider.status.saved === 'device')
    tab.provider.destroy()

    // Meanwhile the document is deleted, and someone starts a new one of the same name.
    expect(await server.sync.deleteDocument('doc')).toBe(true)
    const other = createClient(server.url, 'doc', teardown)
    await waitFor('other synced', () => other.provider.status.connection === 'synced')
    other.text.insert(0, 'new document.')
    await waitFor('other saved', () => !other.provider.status.unsaved)

    proxy.restore()
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    teardown.defer(() => errors.mockRestore())
    const back = openTab(url, 'doc', browser)
    await waitFor('refused', () => back.provider.status.error?.code === 4404, 10_000)
    await waitFor('set aside', () => back.provider.status.localStore?.state === 'set-aside')
    // The copy is safe on this device: nothing to warn about when the page closes.
    expect(back.provider.status.saved).toBe('device')
    expect(await serverText(server, 'doc')).toBe('new document.')
    await waitFor('recovered copy', async () => (await listRecoveredCopies(browser)).length === 1)
    const [copy] = await listRecoveredCopies(browser)
    const recovered = new Y.Doc()
    Y.applyUpdate(recovered, copy!.update)
    expect(copy!.name).toBe('doc')
    expect(recovered.getText('codemirror').toString()).toBe('shared. written offline.')
    back.provider.destroy()

    // The next visit starts from the server's new document, and is not refused.
    const fresh = openTab(url, 'doc', browser)
    await waitFor('synced', () => fresh.provider.status.connection === 'synced')
    expect(fresh.text.toString()).toBe('new document.')
    // What the server sent is written in the background (receivedDelayMs).
    await waitFor('the new document kept on the device', async () => (await listLocalDocuments(browser)).length === 1)
  })

  it('[DL1] a document deleted while open and saved leaves no copy behind', async () => {
    const server = await startTestServer(teardown)
    const browser = profile()
    const tab = openTab(server.url, 'doc', browser)
    await waitFor('synced', () => tab.provider.status.connection === 'synced')
    tab.text.insert(0, 'all saved')
    await waitFor('server', () => tab.provider.status.saved === 'server')
    expect(await listLocalDocuments(browser)).toHaveLength(1)
    expect(await server.sync.deleteDocument('doc')).toBe(true)
    await waitFor('removed', () => tab.provider.status.localStore?.state === 'removed')
    expect(await listLocalDocuments(browser)).toEqual([])
    expect(await listRecoveredCopies(browser)).toEqual([])
  })

  it('lists the documents held on this device and clears them', async () => {
    const browser = profile()
    for (const name of ['one', 'two']) {
      const tab = openTab('ws://127.0.0.1:9', name, browser, { connect: false })
      await tab.provider.loaded
      tab.text.insert(0, name)
      await waitFor('device', () => tab.provider.status.saved === 'device')
      tab.provider.destroy()
    }
    expect((await listLocalDocuments(browser)).map((info) => info.name).sort()).toEqual(['one', 'two'])
    await clearLocalData(['one'], browser)
    expect((await listLocalDocuments(browser)).map((info) => info.name)).toEqual(['two'])
    await clearLocalData(undefined, browser)
    expect(await listLocalDocuments(browser)).toEqual([])
  })
})
