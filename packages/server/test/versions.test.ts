import { MemoryDocStore } from '@collab/storage'
import { loadTrace, replayTrace } from '@collab/test-support'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import type { Authenticate, AuthResult } from '../src/index.js'
import { VersionError } from '../src/index.js'
import {
  openLevelStore,
  type StockClient,
  startTestServer,
  stockClient,
  synced,
  Teardown,
  tempDir,
  waitFor,
} from './helpers.js'
import { OtTestClient } from './ot-client.js'

// Version history on the engine ([VH1]-[VH3]): versions made by hand and by the rules, read back exactly, restored
// as one live edit, credited to the users who wrote them, kept across restarts, and small.

const teardown = new Teardown()
afterEach(() => teardown.run())

/** A hook that lets `token` in as user `token` (`read-…` tokens read only). */
const tokensAreUsers: Authenticate = ({ token }): AuthResult =>
  token
    ? { ok: true, access: token.startsWith('read-') ? 'read' : 'write', user: token }
    : { ok: false, code: 4401, reason: 'a token is required' }

/** A stock y-websocket client signed in as `token` (the `token` query parameter, as stock clients send it). */
function userClient(url: string, docName: string, token: string, clientID?: number): StockClient {
  const doc = new Y.Doc()
  if (clientID !== undefined) doc.clientID = clientID
  const provider = new WebsocketProvider(url, docName, doc, {
    params: { token },
    WebSocketPolyfill: WebSocket as never,
    disableBc: true,
    maxBackoffTime: 200,
  })
  const client: StockClient = {
    doc,
    text: doc.getText('codemirror'),
    provider,
    destroy() {
      provider.destroy()
      doc.destroy()
    },
  }
  teardown.defer(() => client.destroy())
  return client
}

/** Rules that never fire by themselves, for tests that make versions by hand. */
const byHandOnly = { quietMs: 3_600_000, maxIntervalMs: 3_600_000, whenLastLeaves: false }

describe('version history', () => {
  it('[VH1] makes named versions and reads each back exactly, as text and as Yjs state', async () => {
    const server = await startTestServer({ store: new MemoryDocStore(), versions: byHandOnly }, teardown)
    const client = stockClient(server.url, 'notes', teardown)
    await synced(client)
    client.text.insert(0, 'first draft')
    await waitFor('the edit to arrive', () => server.sync.getRoom('notes')?.doc.getText('codemirror').length === 11)
    const first = await server.sync.versions.create('notes', 'Draft 1')
    client.text.delete(0, 6)
    client.text.insert(client.text.length, ', revised')
    await waitFor('the edits', async () => (await textOf(server.sync, 'notes')) === 'draft, revised')
    const second = await server.sync.versions.create('notes', '  Draft 2 ')

    expect(first).toMatchObject({ id: '1', name: 'Draft 1', auto: false, authors: [] })
    expect(second).toMatchObject({ id: '2', name: 'Draft 2', auto: false })
    const listed = await server.sync.versions.list('notes')
    expect(listed.map((v) => v.id)).toEqual(['2', '1'])
    expect(await server.sync.versions.text('notes', '1')).toBe('first draft')
    expect(await server.sync.versions.text('notes', '2')).toBe('draft, revised')
    const state = await server.sync.versions.state('notes', '1')
    const rebuilt = new Y.Doc()
    Y.applyUpdate(rebuilt, state)
    expect(rebuilt.getText('codemirror').toString()).toBe('first draft')
    rebuilt.destroy()
  })

  it('[VH1] makes automatic versions after a quiet spell and when the last person leaves, not when nothing changed', async () => {
    const server = await startTestServer(
      { store: new MemoryDocStore(), versions: { quietMs: 150, maxIntervalMs: 3_600_000 } },
      teardown,
    )
    const client = stockClient(server.url, 'auto', teardown)
    await synced(client)
    client.text.insert(0, 'hello')
    await waitFor(
      'a version after the edits went quiet',
      async () => (await server.sync.versions.list('auto')).length === 1,
    )
    const [quiet] = await server.sync.versions.list('auto')
    expect(quiet).toMatchObject({ id: '1', auto: true })
    expect(quiet?.name).toBeUndefined()
    expect(await server.sync.versions.text('auto', '1')).toBe('hello')

    client.text.insert(5, ' world')
    await waitFor('the edit', async () => (await textOf(server.sync, 'auto')) === 'hello world')
    client.destroy()
    await waitFor(
      'a version when the last person left',
      async () => (await server.sync.versions.list('auto')).length === 2,
    )
    expect(await server.sync.versions.text('auto', '2')).toBe('hello world')
    // Nothing changed since: the quiet rule and the unload make no empty version.
    await new Promise((resolve) => setTimeout(resolve, 400))
    await waitFor('the room to unload', () => server.sync.getRoom('auto') === undefined)
    expect((await server.sync.versions.list('auto')).length).toBe(2)
  })

  it('[VH1] makes a version at least every maxIntervalMs while editing never pauses', async () => {
    const server = await startTestServer(
      { store: new MemoryDocStore(), versions: { quietMs: 3_600_000, maxIntervalMs: 300, whenLastLeaves: false } },
      teardown,
    )
    const client = stockClient(server.url, 'long', teardown)
    await synced(client)
    const typing = setInterval(() => client.text.insert(client.text.length, 'x'), 20)
    teardown.defer(() => clearInterval(typing))
    await waitFor('two versions during one session', async () => (await server.sync.versions.list('long')).length >= 2)
    clearInterval(typing)
  })

  it('[VH3] restores as one edit every stock client sees live, keeps the state before, and can be undone', async () => {
    const server = await startTestServer({ store: new MemoryDocStore(), versions: byHandOnly }, teardown)
    const alice = stockClient(server.url, 'restore', teardown)
    const bob = stockClient(server.url, 'restore', teardown)
    await Promise.all([synced(alice), synced(bob)])
    alice.text.insert(0, 'The quick brown fox')
    await waitFor('bob to see it', () => bob.text.toString() === 'The quick brown fox')
    const old = await server.sync.versions.create('restore', 'fox')
    bob.text.delete(4, 6)
    bob.text.insert(bob.text.length, ' jumps')
    await waitFor('alice to see it', () => alice.text.toString() === 'The brown fox jumps')
    let updatesSeen = 0
    bob.doc.on('update', (_update, origin) => {
      if (origin === bob.provider) updatesSeen++
    })

    const { before, changed } = await server.sync.versions.restore('restore', old.id, 'carol')
    expect(changed).toBe(true)
    await waitFor('both clients to show the restored text', () =>
      [alice, bob].every((client) => client.text.toString() === 'The quick brown fox'),
    )
    expect(updatesSeen).toBe(1)
    expect(before).toMatchObject({ auto: true, name: 'Before restoring "fox"' })
    expect(await server.sync.versions.text('restore', before.id)).toBe('The brown fox jumps')

    // Undo: restore the state from just before.
    await server.sync.versions.restore('restore', before.id, 'carol')
    await waitFor('the undo to reach both', () =>
      [alice, bob].every((client) => client.text.toString() === 'The brown fox jumps'),
    )
  })

  it('[VH2] credits every character of a version to the user whose client wrote it, and refuses a stolen client ID', async () => {
    const server = await startTestServer(
      { store: new MemoryDocStore(), authenticate: tokensAreUsers, versions: byHandOnly },
      teardown,
    )
    const alice = userClient(server.url, 'credit', 'alice', 1001)
    await synced(alice)
    alice.text.insert(0, 'Hello world')
    await waitFor('alice to be stored', async () => (await textOf(server.sync, 'credit')) === 'Hello world')
    const bob = userClient(server.url, 'credit', 'bob', 2002)
    await synced(bob)
    bob.text.insert(6, 'dear ')
    await waitFor('bob to arrive', async () => (await textOf(server.sync, 'credit')) === 'Hello dear world')
    const version = await server.sync.versions.create('credit', 'both')
    expect(version.authors).toEqual(['alice', 'bob'])
    expect(await server.sync.versions.authors('credit', version.id)).toEqual([
      { text: 'Hello ', user: 'alice' },
      { text: 'dear ', user: 'bob' },
      { text: 'world', user: 'alice' },
    ])

    // Bob edits offline; the edit is credited to him when his client uploads it on reconnecting.
    bob.provider.disconnect()
    bob.text.insert(bob.text.length, '!')
    bob.provider.connect()
    await waitFor(
      'the offline edit to arrive',
      async () => (await textOf(server.sync, 'credit')) === 'Hello dear world!',
    )
    const afterOffline = await server.sync.versions.create('credit', 'offline')
    expect(await server.sync.versions.authors('credit', afterOffline.id)).toEqual([
      { text: 'Hello ', user: 'alice' },
      { text: 'dear ', user: 'bob' },
      { text: 'world', user: 'alice' },
      { text: '!', user: 'bob' },
    ])

    // Mallory writes under alice's client ID: refused with 4403, nothing applied.
    const forged = new Y.Doc()
    Y.applyUpdate(forged, Y.encodeStateAsUpdate(alice.doc))
    // Set after receiving alice's content: Yjs would pick a new ID on seeing its own in a remote update.
    forged.clientID = 1001
    const mallory = userClient(server.url, 'credit', 'mallory')
    await synced(mallory)
    let closeCode: number | null = null
    mallory.provider.on('connection-close', (event: { code: number } | null) => {
      closeCode ??= event?.code ?? -1
    })
    const before = Y.encodeStateVector(forged)
    forged.getText('codemirror').insert(0, 'Alice says: ')
    const theft = Y.encodeStateAsUpdate(forged, before)
    Y.applyUpdate(mallory.doc, theft)
    await waitFor('the server to close mallory', () => closeCode !== null)
    expect(closeCode).toBe(4403)
    expect(await textOf(server.sync, 'credit')).toBe('Hello dear world!')
  })

  it("[VH2] [OT3] credits OT clients' edits to their users under client IDs of their own, kept across a restart", async () => {
    const dir = tempDir(teardown)
    let store = await openLevelStore(dir, teardown)
    const first = await startTestServer({ store, authenticate: tokensAreUsers, versions: byHandOnly }, teardown)
    const bob = userClient(first.url, 'mixed', 'bob')
    await synced(bob)
    bob.text.insert(0, 'Hello world')
    await waitFor('bob to be stored', async () => (await textOf(first.sync, 'mixed')) === 'Hello world')
    const alice = new OtTestClient(`${first.url}/mixed?token=alice`, teardown)
    const carol = new OtTestClient(`${first.url}/mixed?token=carol`, teardown)
    await Promise.all([alice.connect(), carol.connect()])

    alice.edit(6, 6, 'dear ')
    // Confirmed: the log saw the transaction as alice's push, under her OT client ID ([OT3], [OT4]).
    await alice.until('alice to be confirmed', () => alice.unconfirmed === 0)
    await carol.until('carol to see alice', () => carol.text === 'Hello dear world')
    carol.edit(16, 16, '!')
    await carol.until('carol to be confirmed', () => carol.unconfirmed === 0)
    await alice.until('alice to see carol', () => alice.text === 'Hello dear world!')
    alice.edit(0, 0, 'Oh, ')
    await alice.until('alice to be confirmed again', () => alice.unconfirmed === 0)
    await waitFor('bob to see both', () => bob.text.toString() === 'Oh, Hello dear world!')
    expect(alice.confirmedCount).toBe(2)
    expect(carol.confirmedCount).toBe(1)

    const version = await first.sync.versions.create('mixed', 'three writers')
    expect(version.authors).toEqual(['alice', 'bob', 'carol'])
    const expectedRuns = [
      { text: 'Oh, ', user: 'alice' },
      { text: 'Hello ', user: 'bob' },
      { text: 'dear ', user: 'alice' },
      { text: 'world', user: 'bob' },
      { text: '!', user: 'carol' },
    ]
    expect(await first.sync.versions.authors('mixed', version.id)).toEqual(expectedRuns)

    // One client ID per OT user, not the server's own, owned by that user alone.
    const room = first.sync.getRoom('mixed')
    if (!room) throw new Error('the room is not loaded')
    const owned = (user: string) =>
      [...room.versions.clientOwners].filter(([, owner]) => owner === user).map(([client]) => client)
    const [aliceID, ...moreOfAlice] = owned('alice')
    expect(aliceID).toBeDefined()
    expect(moreOfAlice).toEqual([])
    expect(owned('carol')).toHaveLength(1)
    expect(aliceID).not.toBe(room.doc.clientID)
    expect(room.versions.clientOwners.get(room.doc.clientID)).toBeUndefined()

    // Mallory, on Yjs, writes under the client ID alice's OT edits have: refused with 4403, nothing applied.
    const forged = new Y.Doc()
    Y.applyUpdate(forged, Y.encodeStateAsUpdate(bob.doc))
    forged.clientID = aliceID as number
    const mallory = userClient(first.url, 'mixed', 'mallory')
    await synced(mallory)
    let closeCode: number | null = null
    mallory.provider.on('connection-close', (event: { code: number } | null) => {
      closeCode ??= event?.code ?? -1
    })
    const before = Y.encodeStateVector(forged)
    forged.getText('codemirror').insert(0, 'Alice says: ')
    Y.applyUpdate(mallory.doc, Y.encodeStateAsUpdate(forged, before))
    await waitFor('the server to close mallory', () => closeCode !== null)
    expect(closeCode).toBe(4403)
    expect(await textOf(first.sync, 'mixed')).toBe('Oh, Hello dear world!')

    alice.close()
    carol.close()
    bob.destroy()
    mallory.destroy()
    await first.close()
    await store.close()

    store = await openLevelStore(dir, teardown)
    const second = await startTestServer({ store, authenticate: tokensAreUsers, versions: byHandOnly }, teardown)
    expect(await second.sync.versions.authors('mixed', version.id)).toEqual(expectedRuns)
    // Alice again, after the restart: credited to her (under a new client ID), the rest as before.
    const again = new OtTestClient(`${second.url}/mixed?token=alice`, teardown)
    await again.connect()
    expect(again.text).toBe('Oh, Hello dear world!')
    again.edit(21, 21, ' Bye.')
    await again.until('alice to be confirmed after the restart', () => again.unconfirmed === 0)
    const later = await second.sync.versions.create('mixed', 'after restart')
    expect(later.authors).toEqual(['alice'])
    expect(await second.sync.versions.authors('mixed', later.id)).toEqual([
      ...expectedRuns,
      { text: ' Bye.', user: 'alice' },
    ])
  })

  it("[VH2] without authentication, OT clients' edits are credited to nobody", async () => {
    const server = await startTestServer({ store: new MemoryDocStore(), versions: byHandOnly }, teardown)
    const ot = new OtTestClient(`${server.url}/anonymous`, teardown)
    await ot.connect()
    ot.edit(0, 0, 'nobody wrote this')
    await ot.until('the push to be confirmed', () => ot.unconfirmed === 0)
    const version = await server.sync.versions.create('anonymous', 'anonymous')
    expect(version.authors).toEqual([])
    expect(await server.sync.versions.authors('anonymous', version.id)).toEqual([
      { text: 'nobody wrote this', user: null },
    ])
  })

  it('[VH1] thinning and deletion keep every remaining version rebuildable; only named versions can be deleted', async () => {
    const server = await startTestServer({ store: new MemoryDocStore(), versions: byHandOnly }, teardown)
    await server.sync.applyUpdate('thin', textUpdate('a'))
    const texts = ['a']
    await server.sync.versions.create('thin', 'v1')
    for (const [index, more] of ['b', 'c', 'd'].entries()) {
      const room = server.sync.getRoom('thin')
      room?.doc.getText('codemirror').insert(index + 1, more)
      texts.push(texts[texts.length - 1] + more)
      await server.sync.versions.create('thin', `v${index + 2}`)
    }
    await expect(server.sync.versions.remove('thin', '2')).resolves.toBeUndefined()
    expect((await server.sync.versions.list('thin')).map((v) => v.id)).toEqual(['4', '3', '1'])
    expect(await server.sync.versions.text('thin', '3')).toBe('abc')
    expect(await server.sync.versions.text('thin', '4')).toBe('abcd')
    // The latest: hidden until the next version absorbs it.
    await server.sync.versions.remove('thin', '4')
    expect((await server.sync.versions.list('thin')).map((v) => v.id)).toEqual(['3', '1'])
    server.sync.getRoom('thin')?.doc.getText('codemirror').insert(4, 'e')
    const next = await server.sync.versions.create('thin', 'v5')
    expect(next.id).toBe('5')
    expect(await server.sync.versions.text('thin', '5')).toBe('abcde')
    await server.sync.versions.rename('thin', '5', null)
    await expect(server.sync.versions.remove('thin', '5')).rejects.toMatchObject({ kind: 'conflict' })
    await expect(server.sync.versions.text('thin', '2')).rejects.toBeInstanceOf(VersionError)
    await expect(server.sync.versions.text('thin', '01')).rejects.toMatchObject({ kind: 'not-found' })
    await expect(server.sync.versions.create('thin', ' ')).rejects.toMatchObject({ kind: 'invalid' })
  })

  it('[VH1] deleting a document deletes its versions; a new document of that name starts its own history', async () => {
    const server = await startTestServer(
      { store: await openLevelStore(tempDir(teardown), teardown), versions: byHandOnly },
      teardown,
    )
    await server.sync.applyUpdate('gone', textUpdate('old content'))
    await server.sync.versions.create('gone', 'old')
    expect(await server.sync.deleteDocument('gone')).toBe(true)
    expect(await server.sync.versions.list('gone')).toEqual([])
    await server.sync.applyUpdate('gone', textUpdate('new content'))
    const fresh = await server.sync.versions.create('gone', 'new')
    expect(fresh.id).toBe('1')
    expect(await server.sync.versions.text('gone', '1')).toBe('new content')
  })

  it('[VH1] [VH2] versions, pending edits and authorship survive a restart', async () => {
    const dir = tempDir(teardown)
    let store = await openLevelStore(dir, teardown)
    const first = await startTestServer({ store, authenticate: tokensAreUsers, versions: byHandOnly }, teardown)
    const alice = userClient(first.url, 'kept', 'alice')
    await synced(alice)
    alice.text.insert(0, 'kept text')
    await waitFor('the edit', async () => (await textOf(first.sync, 'kept')) === 'kept text')
    await first.sync.versions.create('kept', 'before restart')
    alice.text.insert(0, 'more ')
    await waitFor('the second edit', async () => (await textOf(first.sync, 'kept')) === 'more kept text')
    alice.destroy()
    await first.close()
    await store.close()

    store = await openLevelStore(dir, teardown)
    const second = await startTestServer({ store, versions: byHandOnly }, teardown)
    const listed = await second.sync.versions.list('kept')
    // The unload made a version of the edit after the named one.
    expect(listed.map((v) => [v.id, v.name, v.authors])).toEqual([
      ['2', undefined, ['alice']],
      ['1', 'before restart', ['alice']],
    ])
    expect(await second.sync.versions.text('kept', '1')).toBe('kept text')
    expect(await second.sync.versions.authors('kept', '2')).toEqual([{ text: 'more kept text', user: 'alice' }])
  })

  it('[VH1] automerge-paper with a version every 1,000 updates: history at most 3x the encoded state, every version exact', async () => {
    const trace = loadTrace('automerge-paper')
    const dir = tempDir(teardown)
    const store = await openLevelStore(dir, teardown)
    const server = await startTestServer(
      { store, versions: { maxUpdates: 1_000, quietMs: 3_600_000, maxIntervalMs: 3_600_000 }, roomGraceMs: 600_000 },
      teardown,
    )
    // The trace as one writer's updates, applied to the room as a fast client's would be (one per trace edit).
    const source = new Y.Doc()
    const updates: Uint8Array[] = []
    source.on('update', (update: Uint8Array) => updates.push(update))
    const expected: string[] = []
    replayTrace(trace, source.getText('codemirror'), (index) => {
      if ((index + 1) % 1_000 === 0) expected.push(source.getText('codemirror').toString())
    })
    await server.sync.applyUpdate('paper', updates[0] as Uint8Array)
    const room = server.sync.getRoom('paper')
    if (!room) throw new Error('the room is not loaded')
    for (let i = 1; i < updates.length; i++) {
      Y.applyUpdate(room.doc, updates[i] as Uint8Array, 'trace')
      // The rule started a version; no more updates until it is stored, so it holds exactly these.
      const made = (i + 1) / 1_000
      if (Number.isInteger(made)) {
        await waitFor(`version ${made}`, async () => (await server.sync.versions.list('paper')).length === made, 60_000)
      }
    }
    await room.written()
    const finalText = source.getText('codemirror').toString()
    expect(room.doc.getText('codemirror').toString()).toBe(finalText)

    let started = performance.now()
    const listed = await server.sync.versions.list('paper')
    const listMs = performance.now() - started
    expect(listed.length).toBe(expected.length)
    for (const [index, text] of expected.entries()) {
      expect(await server.sync.versions.text('paper', String(index + 1))).toBe(text)
    }
    started = performance.now()
    await server.sync.versions.text('paper', String(listed.length))
    const rebuildMs = performance.now() - started

    let historyBytes = 0
    for (const [key, value] of await store.readSide('paper', 'v/')) historyBytes += key.length + value.length
    const stateBytes = Y.encodeStateAsUpdate(room.doc).length
    console.info(
      `automerge-paper: ${listed.length} versions, history ${historyBytes} B = ${(historyBytes / stateBytes).toFixed(2)}x the encoded state (${stateBytes} B); list ${listMs.toFixed(1)} ms, rebuild the latest ${rebuildMs.toFixed(1)} ms`,
    )
    expect(historyBytes).toBeLessThanOrEqual(3 * stateBytes)
  }, 600_000)
})

async function textOf(sync: { getDocument(name: string): Promise<Uint8Array | null> }, name: string): Promise<string> {
  const state = await sync.getDocument(name)
  const doc = new Y.Doc()
  if (state) Y.applyUpdate(doc, state)
  const text = doc.getText('codemirror').toString()
  doc.destroy()
  return text
}

function textUpdate(text: string): Uint8Array {
  const doc = new Y.Doc()
  doc.getText('codemirror').insert(0, text)
  return Y.encodeStateAsUpdate(doc)
}
