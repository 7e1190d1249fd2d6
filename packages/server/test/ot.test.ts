import { MemoryDocStore } from '@collab/storage'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import {
  openLevelStore,
  RawClient,
  roomText,
  startTestServer,
  stockClient,
  synced,
  Teardown,
  type TestServer,
  tempDir,
  waitFor,
} from './helpers.js'
import { OtTestClient } from './ot-client.js'

const teardown = new Teardown()
afterEach(() => teardown.run())

async function otClient(server: TestServer, doc: string): Promise<OtTestClient> {
  const client = new OtTestClient(`${server.url}/${doc}`, teardown)
  await client.connect()
  return client
}

describe('@codemirror/collab clients', () => {
  it('[OT1] [OT3] an OT client and a stock Yjs client edit the same text, both ways', async () => {
    const server = await startTestServer({ store: await openLevelStore(tempDir(teardown), teardown) }, teardown)
    const yjs = stockClient(server.url, 'shared', teardown)
    await synced(yjs)
    yjs.text.insert(0, 'hello\r\nworld')
    await waitFor('the server to have the text', () => roomText(server, 'shared') === 'hello\r\nworld')

    const ot = await otClient(server, 'shared')
    // "\r\n" is two characters on both sides ([OT5]).
    expect(ot.text).toBe('hello\r\nworld')
    expect(ot.version).toBe(0)

    ot.edit(5, 5, ', 😀')
    await waitFor('the Yjs client to see the OT edit', () => yjs.text.toString() === 'hello, 😀\r\nworld')
    await ot.until('the push to be confirmed', () => ot.unconfirmed === 0)
    expect(ot.version).toBe(1)

    yjs.text.insert(yjs.text.length, '!')
    await ot.until('the OT client to see the Yjs edit', () => ot.text === 'hello, 😀\r\nworld!')
    expect(ot.version).toBe(2)
    // Saved: the push was stored ([SA1]).
    await ot.until('the push to be acknowledged', () => ot.saved === ot.sentDocMessages)
  })

  it('[OT1] a Yjs-only document keeps no OT log, and an OT connection gets no Yjs messages', async () => {
    const server = await startTestServer({ store: new MemoryDocStore() }, teardown)
    const yjs = stockClient(server.url, 'plain', teardown)
    await synced(yjs)
    yjs.text.insert(0, 'abc')
    await waitFor('stored', () => roomText(server, 'plain') === 'abc')
    const room = server.sync.getRoom('plain')
    expect(room?.otLog).toBeNull()
    // OtTestClient throws on any sync or awareness message; a Yjs edit while it is connected must not reach it so.
    const ot = await otClient(server, 'plain')
    yjs.text.insert(3, 'd')
    await ot.until('the edit as an OT entry', () => ot.text === 'abcd')
    expect(room?.otLog?.version).toBe(1)
  })

  it('[OT1] a collab message on a Yjs connection, and a sync message on an OT one, close with 4400', async () => {
    const server = await startTestServer({ store: new MemoryDocStore() }, teardown)
    const yjs = await RawClient.connect(`${server.url}/mixed`, teardown)
    yjs.send(new Uint8Array([104, 2, 123, 125]))
    expect(await yjs.waitForClose()).toBe(4400)
    const ot = await RawClient.connect(`${server.url}/mixed?sync=ot`, teardown)
    ot.send(new Uint8Array([0, 0, 0]))
    expect(await ot.waitForClose()).toBe(4400)
  })

  it('[OT5] refuses malformed pushes with 4400 and leaves the document unchanged', async () => {
    const server = await startTestServer({ store: new MemoryDocStore() }, teardown)
    const yjs = stockClient(server.url, 'hostile', teardown)
    await synced(yjs)
    yjs.text.insert(0, 'a😀b')
    await waitFor('stored', () => roomText(server, 'hostile') === 'a😀b')
    const hostile = [
      [-1, [0, 'x'], 5], // negative retain
      [1.5, [0, 'x'], 2.5], // fractional
      [[0, 'x\ny'], 4], // a line holding "\n"
      [[0, '\ud83d'], 4], // a lone surrogate
      [2, [0, 'x'], 2], // splits the emoji's surrogate pair
      [3, [0, 'x']], // too short for the document
      [9, [0, 'x']], // too long for the document
      'not a change set',
    ]
    for (const changes of hostile) {
      const client = await otClient(server, 'hostile')
      client.sendRaw(JSON.stringify({ t: 'push', version: client.version, updates: [{ changes }] }))
      await client.until('the close', () => client.closeCode !== null)
      expect(client.closeCode, JSON.stringify(changes)).toBe(4400)
    }
    for (const raw of ['{"t":"push"}', '[]', '{"t":"join","epoch":1}', 'nope']) {
      const client = new OtTestClient(`${server.url}/hostile`, teardown)
      await client.connect()
      client.sendRaw(raw)
      await client.until('the close', () => client.closeCode !== null)
      expect(client.closeCode, raw).toBe(4400)
    }
    expect(roomText(server, 'hostile')).toBe('a😀b')
    expect(yjs.text.toString()).toBe('a😀b')
  })

  it('[OT5] a read-only connection may not push', async () => {
    const server = await startTestServer(
      { store: new MemoryDocStore(), authenticate: async () => ({ ok: true, access: 'read' }) },
      teardown,
    )
    const client = await otClient(server, 'read-only')
    expect(client.readOnly).toBe(true)
    client.edit(0, 0, 'x')
    await client.until('the close', () => client.closeCode !== null)
    expect(client.closeCode).toBe(4400)
    expect(roomText(server, 'read-only') ?? '').toBe('')
  })

  it('[OT4] [OT7] a push resent after a lost connection is applied once, and the client keeps its ID', async () => {
    const server = await startTestServer({ store: new MemoryDocStore() }, teardown)
    const client = new OtTestClient(`${server.url}/resend`, teardown, false)
    await client.connect()
    const id = client.clientID
    client.edit(0, 0, 'once')
    client.deaf = true
    client.push()
    await waitFor('the server to apply it', () => roomText(server, 'resend') === 'once')
    // The connection dies before the entry reaches the client: it still holds the update as unconfirmed.
    client.drop()
    expect(client.unconfirmed).toBe(1)
    await client.connect()
    expect(client.clientID).toBe(id)
    await client.until('the welcome to confirm it', () => client.unconfirmed === 0)
    client.push()
    expect(roomText(server, 'resend')).toBe('once')
    expect(client.text).toBe('once')
  })

  it('[OT7] another client ID cannot be claimed without its secret', async () => {
    const server = await startTestServer({ store: new MemoryDocStore() }, teardown)
    const alice = await otClient(server, 'ids')
    const mallory = new OtTestClient(`${server.url}/ids`, teardown)
    mallory.secret = 'forged'
    await mallory.connect()
    expect(mallory.clientID).not.toBe(alice.clientID)
    expect(mallory.secret).not.toBe('forged')
  })

  it('[OT3] [OT6] after a clean restart the log continues; after a log trim a late client gets the document and keeps its edits', async () => {
    const dir = tempDir(teardown)
    let store = await openLevelStore(dir, teardown)
    let server = await startTestServer({ store, otLog: { keepEntries: 5, keepMs: 0 } }, teardown)
    const writer = await otClient(server, 'restart')
    for (let i = 0; i < 10; i++) writer.edit(writer.text.length, writer.text.length, `${i}`)
    await writer.until('all confirmed', () => writer.unconfirmed === 0 && writer.version === 10)
    const epoch = writer.epoch
    writer.close()
    await server.close()
    await store.close()

    store = await openLevelStore(dir, teardown)
    server = await startTestServer({ store, otLog: { keepEntries: 5, keepMs: 0 } }, teardown, server.port)
    const reader = await otClient(server, 'restart')
    expect(reader.epoch).toBe(epoch)
    expect(reader.version).toBe(10)
    expect(reader.text).toBe('0123456789')

    // The writer comes back at version 10 with an offline edit: it catches up without a reset.
    writer.edit(0, 0, '>')
    await writer.connect()
    await writer.until('its edit confirmed', () => writer.unconfirmed === 0)
    expect(writer.resets).toBe(0)
    // A connected client holds the floor at the version it reported ([OT6]); gone, it holds nothing.
    writer.close()

    // A client far behind: 200 entries later (trimmed to 5, none connected below), it joins from version 11.
    const late = new OtTestClient(`${server.url}/restart`, teardown, false)
    await late.connect()
    late.close()
    for (let i = 0; i < 200; i++) {
      reader.edit(reader.text.length, reader.text.length, '.')
      await reader.until('confirmed', () => reader.unconfirmed === 0)
    }
    expect(server.sync.getRoom('restart')?.otLog?.floor).toBeGreaterThan(11)
    late.edit(0, 0, 'LATE ')
    await late.connect()
    expect(late.resets).toBe(1)
    late.push()
    await waitFor('the late edit kept', () => roomText(server, 'restart')?.startsWith('LATE >0123456789') === true)
    await reader.until('the reader to converge', () => reader.text === roomText(server, 'restart'))
  })

  it('[OT6] soak: memory and stored entries stay bounded however long a document is edited', async () => {
    const store = await openLevelStore(tempDir(teardown), teardown)
    const server = await startTestServer({ store, otLog: { keepEntries: 50, keepMs: 0, maxEntries: 500 } }, teardown)
    const writer = await otClient(server, 'soak')
    const yjs = stockClient(server.url, 'soak', teardown)
    await synced(yjs)
    const sizes: number[] = []
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 100; i++) {
        writer.edit(writer.text.length, writer.text.length, 'x')
        await writer.until('confirmed', () => writer.unconfirmed === 0)
      }
      const log = server.sync.getRoom('soak')?.otLog
      sizes.push(log?.size ?? 0)
      expect(log ? log.version - log.floor : 0).toBeLessThanOrEqual(150)
    }
    // The log's memory follows the text (which grows by 100 characters a round), not the number of entries ever made.
    const growth = (sizes[19] ?? 0) - (sizes[9] ?? 0)
    expect(growth).toBeLessThan(10 * 100 * 2 * 4)
    await store.flush()
    const stored = await store.readSide('soak', 'ot/e/')
    expect(stored.length).toBeLessThanOrEqual(150)
    expect(server.sync.getRoom('soak')?.otLog?.version).toBe(2_000)
    await waitFor('the Yjs client to have every character', () => yjs.text.length === 2_000)
  })

  it('[OT9] is refused with 4501 where the store keeps no side records (cluster mode)', async () => {
    const inner = new MemoryDocStore()
    const store = Object.assign(Object.create(Object.getPrototypeOf(inner)), inner, {
      readSide: undefined,
      writeSide: undefined,
    })
    const server = await startTestServer({ store }, teardown)
    const raw = await RawClient.connect(`${server.url}/cluster?sync=ot`, teardown)
    expect(await raw.waitForClose()).toBe(4501)
  })

  it('[OT8] presence crosses kinds: an OT selection is a y-codemirror.next cursor, a Yjs cursor an OT peer', async () => {
    const server = await startTestServer({ store: new MemoryDocStore() }, teardown)
    const yjs = stockClient(server.url, 'presence', teardown)
    await synced(yjs)
    yjs.text.insert(0, 'hello world')
    const ot = await otClient(server, 'presence')
    await ot.until('the text', () => ot.text === 'hello world')
    ot.sendPresence({ anchor: 6, head: 11 }, { name: 'Olive', color: '#008800' })
    const otState = () =>
      [...yjs.provider.awareness.getStates().values()].find(
        (state) => (state as { user?: { name?: string } }).user?.name === 'Olive',
      ) as { user: { color: string; colorLight: string }; cursor: { anchor: unknown; head: unknown } } | undefined
    await waitFor('the Yjs client to see the OT cursor', () => otState()?.cursor !== undefined)
    const state = otState()
    expect(state?.user.colorLight).toBe('#00880033')
    const head = Y.createAbsolutePositionFromRelativePosition(
      Y.createRelativePositionFromJSON(state?.cursor.head),
      yjs.doc,
    )
    expect(head?.index).toBe(11)

    yjs.provider.awareness.setLocalStateField('user', { name: 'Yann', color: '#0000ff', colorLight: '#0000ff33' })
    yjs.provider.awareness.setLocalStateField('cursor', {
      anchor: Y.relativePositionToJSON(Y.createRelativePositionFromTypeIndex(yjs.text, 0)),
      head: Y.relativePositionToJSON(Y.createRelativePositionFromTypeIndex(yjs.text, 5)),
    })
    await ot.until('the OT client to see the Yjs cursor', () =>
      ot.peers.some((peer) => peer.user?.name === 'Yann' && peer.selection?.head === 5),
    )
    // The OT client's own presence is not among its peers.
    expect(ot.peers.some((peer) => peer.user?.name === 'Olive')).toBe(false)

    ot.close()
    await waitFor('the OT cursor to go', () => otState() === undefined)
  })
})
