import { mkdtempSync, rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  Capability,
  decodeMessage,
  encodeHello,
  encodeSyncStep1,
  encodeSyncStep2,
  type Message,
} from '@collab/protocol'
import { type DocStore, LevelDocStore } from '@collab/storage'
import { IDBFactory } from 'fake-indexeddb'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { WebSocket, WebSocketServer } from 'ws'
import * as Y from 'yjs'
import { listLocalDocuments, listRecoveredCopies, replacedReason, saveStateOf } from '../src/index.js'
import { createClient, startTestServer, Teardown, type TestServer, waitFor } from './harness.js'

const teardown = new Teardown()
afterEach(() => teardown.run())

/** A browser profile: one IndexedDB, shared by its tabs. */
function profile() {
  return { indexedDB: new IDBFactory() }
}

/** A LevelDB data directory of its own, removed when the test ends. */
async function levelStore(path = mkdtempSync(join(tmpdir(), 'collab-provider-incarnation-'))) {
  teardown.defer(() => rmSync(path, { recursive: true, force: true }))
  const store = await LevelDocStore.open({ path })
  teardown.defer(() => store.close())
  return { store, path }
}

/** The document's text as `store` holds it. */
async function storedText(store: DocStore, name: string): Promise<string> {
  const doc = new Y.Doc()
  for (const update of await store.load(name)) Y.applyUpdate(doc, update)
  const text = doc.getText('codemirror').toString()
  doc.destroy()
  return text
}

/**
 * A WebSocket (from `ws`) that notes, in order, the type of every message it sends and receives: what a tab sent
 * before it heard the server's incarnation.
 */
function recordingWebSocket(log: string[]) {
  const note = (direction: string, data: unknown) => {
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data as Uint8Array)
    const decoded = decodeMessage(bytes)
    log.push(`${direction} ${decoded.ok ? decoded.message.type : 'undecodable'}`)
  }
  return class RecordingWebSocket extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args)
      this.addEventListener('message', (event) => note('received', event.data))
    }
    override send(data: Parameters<WebSocket['send']>[0], ...rest: unknown[]): void {
      note('sent', data)
      ;(super.send as (...all: unknown[]) => void)(data, ...rest)
    }
  } as unknown as typeof globalThis.WebSocket
}

/** A tab of `browser` with the document open and its local store on; `log` records its messages. */
function openTab(url: string, browser: { indexedDB: IDBFactory }, log: string[] = []) {
  return createClient(url, 'doc', teardown, {
    localStore: { ...browser, compactDelayMs: 20, compactMaxDelayMs: 100 },
    backoff: { baseMs: 50, maxMs: 300 },
    WebSocketImpl: recordingWebSocket(log),
  })
}

/**
 * A tab that typed `online` (saved on the server), then `offline` while disconnected (on this device only), and
 * closed. Resolves with the incarnation its copy recorded.
 */
async function leaveCopy(server: TestServer, browser: { indexedDB: IDBFactory }, online: string, offline: string) {
  const tab = openTab(server.url, browser)
  await waitFor('synced', () => tab.provider.status.connection === 'synced')
  tab.text.insert(0, online)
  await waitFor('saved on the server', () => saveStateOf(tab.provider.status) === 'server')
  tab.provider.disconnect()
  tab.text.insert(tab.text.length, offline)
  await waitFor('saved on this device', () => tab.provider.status.saved === 'device')
  tab.provider.destroy()
  const [info] = await listLocalDocuments(browser)
  expect(info?.incarnation).toBe(await server.store.incarnation('doc'))
  return info!.incarnation!
}

/**
 * A sync server older than incarnations: it answers hello without `incarnation` (or, with `answersHello: false`,
 * not at all, as a stock y-websocket server), and syncs one document in memory.
 */
async function olderServer({ answersHello }: { answersHello: boolean }) {
  const doc = new Y.Doc()
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()))
  teardown.defer(() => new Promise<void>((resolve) => wss.close(() => resolve())))
  teardown.defer(() => {
    for (const client of wss.clients) client.terminate()
  })
  const received: Message['type'][] = []
  wss.on('connection', (socket) => {
    if (!answersHello) socket.send(encodeSyncStep1(Y.encodeStateVector(doc)))
    socket.on('message', (data: Buffer) => {
      const decoded = decodeMessage(new Uint8Array(data))
      if (!decoded.ok) return
      const message = decoded.message
      received.push(message.type)
      if (message.type === 'hello' && answersHello) {
        socket.send(encodeHello([Capability.Heartbeat, Capability.SaveAck]))
        socket.send(encodeSyncStep1(Y.encodeStateVector(doc)))
      } else if (message.type === 'sync-step-1') {
        socket.send(encodeSyncStep2(Y.encodeStateAsUpdate(doc, message.stateVector)))
      } else if (message.type === 'sync-step-2' || message.type === 'sync-update') {
        Y.applyUpdate(doc, message.update)
      }
    })
  })
  const { port } = wss.address() as AddressInfo
  return { url: `ws://127.0.0.1:${port}`, text: () => doc.getText('codemirror').toString(), received }
}

describe('incarnations of a document, seen from a local copy ([IN1])', () => {
  it('a copy of a wiped server’s document becomes a recovered copy and sends nothing of it', async () => {
    const browser = profile()
    const first = await levelStore()
    const before = await startTestServer(teardown, { store: first.store })
    const oldIncarnation = await leaveCopy(before, browser, 'old text.', ' written offline.')
    await before.close()
    await first.store.close()

    // The server comes back on a fresh data directory (a wipe, or a restore of a backup that never saw the
    // document), and someone starts a new document of that name.
    const second = await levelStore()
    const after = await startTestServer(teardown, { store: second.store, port: before.port })
    const other = createClient(after.url, 'doc', teardown)
    await waitFor('other synced', () => other.provider.status.connection === 'synced')
    other.text.insert(0, 'new life.')
    await waitFor('other saved', () => !other.provider.status.unsaved)

    const warnings = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    teardown.defer(() => warnings.mockRestore())
    const log: string[] = []
    const back = openTab(after.url, browser, log)
    await waitFor('refused', () => back.provider.status.error !== null, 10_000)
    expect(back.provider.status.error).toEqual({ code: 4404, reason: replacedReason })
    expect(back.provider.status.connection).toBe('offline')
    await waitFor('set aside', () => back.provider.status.localStore?.state === 'set-aside')
    // Kept on this device, so closing the page loses nothing.
    expect(back.provider.status.saved).toBe('device')
    // Nothing of the copy went out: only hello (and presence) before the incarnation, and nothing after it.
    const sent = log.filter((entry) => entry.startsWith('sent'))
    expect(sent[0]).toBe('sent hello')
    expect(sent.filter((entry) => entry !== 'sent hello' && entry !== 'sent awareness')).toEqual([])
    expect(log).toContain('received incarnation')

    await waitFor('recovered copy', async () => (await listRecoveredCopies(browser)).length === 1)
    const [copy] = await listRecoveredCopies(browser)
    const recovered = new Y.Doc()
    Y.applyUpdate(recovered, copy!.update)
    expect(recovered.getText('codemirror').toString()).toBe('old text. written offline.')
    expect(copy!.incarnation).toBe(oldIncarnation)
    expect(await listLocalDocuments(browser)).toEqual([])

    // Connecting this tab again would bring the old content back with its Y.Doc: it stays refused.
    back.provider.connect()
    expect(back.provider.status.error).toEqual({ code: 4404, reason: replacedReason })
    back.text.insert(0, 'typed after. ')
    back.provider.destroy()

    // The server's document holds none of the old copy; the next visit opens it, and its copy is of this incarnation.
    const fresh = openTab(after.url, browser)
    await waitFor('synced', () => fresh.provider.status.connection === 'synced')
    expect(fresh.text.toString()).toBe('new life.')
    expect(fresh.provider.status.error).toBeNull()
    expect(await storedText(second.store, 'doc')).toBe('new life.')
    await waitFor('recorded', async () => (await listLocalDocuments(browser))[0]?.incarnation !== undefined)
    const [info] = await listLocalDocuments(browser)
    expect(info!.incarnation).toBe(await second.store.incarnation('doc'))
    expect(info!.incarnation).not.toBe(oldIncarnation)
  })

  it('a copy of a document deleted and created again on the same server is set aside, not merged', async () => {
    const browser = profile()
    const server = await startTestServer(teardown)
    await leaveCopy(server, browser, 'first life.', ' offline.')
    expect(await server.sync.deleteDocument('doc')).toBe(true)
    const other = createClient(server.url, 'doc', teardown)
    await waitFor('other synced', () => other.provider.status.connection === 'synced')
    other.text.insert(0, 'second life.')
    await waitFor('other saved', () => !other.provider.status.unsaved)

    const warnings = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    teardown.defer(() => warnings.mockRestore())
    const back = openTab(server.url, browser)
    await waitFor('refused', () => back.provider.status.error?.reason === replacedReason, 10_000)
    await waitFor('recovered copy', async () => (await listRecoveredCopies(browser)).length === 1)
    expect(await storedText(server.store, 'doc')).toBe('second life.')
    expect(other.text.toString()).toBe('second life.')
  })

  it('the same incarnation after a restart on the same data: syncs as before, offline edits sent after it was told', async () => {
    const browser = profile()
    const data = await levelStore()
    const before = await startTestServer(teardown, { store: data.store })
    const incarnation = await leaveCopy(before, browser, 'kept.', ' offline.')
    await before.close()
    await data.store.close()

    const reopened = await levelStore(data.path)
    const after = await startTestServer(teardown, { store: reopened.store, port: before.port })
    const log: string[] = []
    const back = openTab(after.url, browser, log)
    await waitFor('synced', () => back.provider.status.connection === 'synced', 10_000)
    await waitFor('saved on the server', () => back.provider.status.saved === 'server', 10_000)
    expect(back.provider.status.error).toBeNull()
    expect(back.text.toString()).toBe('kept. offline.')
    expect(await storedText(reopened.store, 'doc')).toBe('kept. offline.')
    expect(await listRecoveredCopies(browser)).toEqual([])
    // The copy's state vector and content went out only once the server had named the same incarnation.
    const told = log.indexOf('received incarnation')
    expect(told).toBeGreaterThan(-1)
    expect(log.indexOf('sent sync-step-1')).toBeGreaterThan(told)
    expect(log.indexOf('sent sync-step-2')).toBeGreaterThan(told)
    expect((await listLocalDocuments(browser))[0]!.incarnation).toBe(incarnation)
  })

  for (const answersHello of [true, false]) {
    it(`a server older than incarnations (${answersHello ? 'answers hello without it' : 'no hello at all'}) syncs the copy as before`, async () => {
      const browser = profile()
      const server = await startTestServer(teardown)
      await leaveCopy(server, browser, 'copied.', ' offline.')

      const older = await olderServer({ answersHello })
      const back = openTab(older.url, browser)
      // Without a hello, only after the grace the provider gives a server to answer one (5 s).
      await waitFor('synced', () => back.provider.status.connection === 'synced', 20_000)
      await waitFor('the copy reached the older server', () => older.text() === 'copied. offline.')
      expect(back.provider.status.error).toBeNull()
      expect(older.received[0]).toBe('hello')
      expect(await listRecoveredCopies(browser)).toEqual([])
    }, 30_000)
  }
})
