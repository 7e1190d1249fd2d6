import {
  CloseCode,
  decodeMessage,
  encodeAwareness,
  encodePing,
  encodeSyncStep1,
  encodeSyncUpdate,
  maxDocNameBytes,
} from '@collab/protocol'
import { MemoryDocStore } from '@collab/storage'
import * as encoding from 'lib0/encoding'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { docNameFromUrl } from '../src/index.js'
import {
  capturingLogger,
  RawClient,
  roomText,
  type StockClient,
  startTestServer,
  stockClient,
  synced,
  Teardown,
  type TestServer,
  UpdateSource,
  waitFor,
} from './helpers.js'

const teardown = new Teardown()
afterEach(() => teardown.run())

const maxMessageBytes = 4_096

/** Bytes that are not a valid update: the first structs of a real update, cut before their content ends. */
function undecodableUpdate(): Uint8Array {
  const source = new UpdateSource(teardown)
  const update = source.type('content that never arrives')
  return update.slice(0, update.length - 10)
}

const badMessages: Array<{ name: string; rules: string; message: () => Uint8Array | string }> = [
  {
    name: 'random bytes',
    rules: '[PR1]',
    message: () => new Uint8Array([0xf3, 0x9a, 0x11, 0x00, 0x7e, 0xc2, 0x05, 0x99, 0x42, 0x10]),
  },
  { name: 'an empty binary message', rules: '[PR1]', message: () => new Uint8Array(0) },
  {
    name: 'a truncated sync update',
    rules: '[PR1]',
    message: () => {
      const full = encodeSyncUpdate(new UpdateSource(teardown).type('truncated'))
      return full.slice(0, full.length - 4)
    },
  },
  {
    name: 'a message with trailing bytes',
    rules: '[PR1]',
    message: () => Uint8Array.from([...encodeSyncStep1(new Uint8Array([0])), 0]),
  },
  { name: 'an unknown message type', rules: '[PR1]', message: () => new Uint8Array([42]) },
  { name: 'an unknown sync sub-type', rules: '[PR1]', message: () => new Uint8Array([0, 7, 0]) },
  { name: 'an unparsable state vector', rules: '[PR1]', message: () => encodeSyncStep1(new Uint8Array([9, 1])) },
  {
    name: 'an awareness state that is not JSON',
    rules: '[PR1]',
    message: () => {
      const encoder = encoding.createEncoder()
      encoding.writeVarUint(encoder, 1)
      encoding.writeVarUint(encoder, 1234)
      encoding.writeVarUint(encoder, 1)
      encoding.writeVarString(encoder, '{cursor:')
      return encodeAwareness(encoding.toUint8Array(encoder))
    },
  },
  { name: 'a text frame', rules: '[CN2]', message: () => 'a text frame' },
  { name: 'an update Yjs cannot apply', rules: '[PR2]', message: () => encodeSyncUpdate(undecodableUpdate()) },
  {
    // Yjs integrates the structs before it reads the delete set: without validating first, the insert would land.
    name: 'an update whose delete set is cut short',
    rules: '[PR2]',
    message: () => {
      const source = new UpdateSource(teardown)
      source.doc.transact(() => {
        source.text.insert(0, 'inserted')
        source.text.delete(2, 3)
      })
      const update = source.type('')
      return encodeSyncUpdate(update.slice(0, update.length - 1))
    },
  },
]

interface Bystanders {
  alice: StockClient
  bob: StockClient
  closes: string[]
}

/** Two stock clients on `docName` that record every connection they lose. */
async function bystanders(server: TestServer, docName: string): Promise<Bystanders> {
  const alice = stockClient(server.url, docName, teardown)
  const bob = stockClient(server.url, docName, teardown)
  const closes: string[] = []
  for (const [name, client] of [
    ['alice', alice],
    ['bob', bob],
  ] as const) {
    client.provider.on('connection-close', (event) => closes.push(`${name}: ${event?.code}`))
  }
  await Promise.all([synced(alice), synced(bob)])
  return { alice, bob, closes }
}

/** The bystanders are still connected and still sync with each other. */
async function expectStillSyncing({ alice, bob, closes }: Bystanders, marker: string): Promise<void> {
  alice.text.insert(alice.text.length, marker)
  await waitFor(`bob to receive ${marker}`, () => bob.text.toString().endsWith(marker))
  bob.text.insert(0, `${marker}<`)
  await waitFor(`alice to receive ${marker}<`, () => alice.text.toString().startsWith(`${marker}<`))
  expect(closes).toEqual([])
  expect(alice.provider.wsconnected && bob.provider.wsconnected).toBe(true)
}

describe('bad input closes only the sender', () => {
  for (const { name, rules, message } of badMessages) {
    it(`${rules} ${name} closes the sender with 4400; others keep syncing`, async () => {
      const { logger, lines } = capturingLogger()
      const server = await startTestServer({ store: new MemoryDocStore(), logger, maxMessageBytes }, teardown)
      const others = await bystanders(server, 'shared')
      others.alice.text.insert(0, 'before')
      await waitFor('the first edit', () => roomText(server, 'shared') === 'before')
      const stateVector = Y.encodeStateVector(server.sync.getRoom('shared')!.doc)

      const sender = await RawClient.connect(`${server.url}/shared`, teardown)
      const data = message()
      if (typeof data !== 'string' && rules === '[PR1]') expect(decodeMessage(data).ok).toBe(false)
      const warningsBefore = lines.filter((line) => line.level === 40).length
      sender.send(data)

      expect(await sender.waitForClose()).toBe(CloseCode.BadMessage)
      // [PR1]/[PR2]: the document is unchanged and the refusal is logged once.
      expect(Y.encodeStateVector(server.sync.getRoom('shared')!.doc)).toEqual(stateVector)
      expect(roomText(server, 'shared')).toBe('before')
      expect(lines.filter((line) => line.level === 40).length - warningsBefore).toBe(1)
      await expectStillSyncing(others, `after ${name}`)
      expect(server.sync.connectionCount).toBe(2)
    })
  }

  it('[PR1] a bad message after valid ones still closes the sender, and what it sent before stays', async () => {
    const server = await startTestServer({ store: new MemoryDocStore(), maxMessageBytes }, teardown)
    const others = await bystanders(server, 'mixed')
    const sender = await RawClient.connect(`${server.url}/mixed`, teardown)
    sender.send(encodeSyncUpdate(new UpdateSource(teardown).type('valid first')))
    sender.send(new Uint8Array([0, 3]))
    expect(await sender.waitForClose()).toBe(CloseCode.BadMessage)
    await waitFor('the valid update to be relayed', () => others.bob.text.toString() === 'valid first')
    await expectStillSyncing(others, 'after mixed')
  })

  it('[CN3] a message over maxMessageBytes closes the sender with 1009; others keep syncing', async () => {
    const server = await startTestServer({ store: new MemoryDocStore(), maxMessageBytes }, teardown)
    const others = await bystanders(server, 'big')
    const sender = await RawClient.connect(`${server.url}/big`, teardown)
    sender.send(encodeSyncUpdate(new UpdateSource(teardown).type('x'.repeat(maxMessageBytes))))
    expect(await sender.waitForClose()).toBe(CloseCode.MessageTooBig)
    expect(roomText(server, 'big')).toBe('')
    await expectStillSyncing(others, 'after big')
  })

  it('[SU4] [CN3] a bad message before an oversized one in the same read decides the close code, even past a turn', async () => {
    const server = await startTestServer({ store: new MemoryDocStore(), maxMessageBytes }, teardown)
    const sender = await RawClient.connect(`${server.url}/order`, teardown)
    // More messages than one turn handles (64), so the bad update waits for the connection's next turn while ws
    // parses on and meets the oversized frame of the same socket read: it must still be handled first.
    for (let i = 0; i < 200; i++) sender.send(encodePing())
    sender.send(new Uint8Array([0, 2, 0xff, 0xff, 0xff]))
    sender.send(new Uint8Array(maxMessageBytes + 1))
    expect(await sender.waitForClose()).toBe(CloseCode.BadMessage)
  })

  it('[CN3] a message just under maxMessageBytes is accepted', async () => {
    const server = await startTestServer({ store: new MemoryDocStore(), maxMessageBytes }, teardown)
    const sender = await RawClient.connect(`${server.url}/almost`, teardown)
    const content = 'y'.repeat(maxMessageBytes - 100)
    const message = encodeSyncUpdate(new UpdateSource(teardown).type(content))
    expect(message.length).toBeLessThanOrEqual(maxMessageBytes)
    sender.send(message)
    await waitFor('the update to be applied', () => roomText(server, 'almost') === content)
    expect(sender.isOpen).toBe(true)
  })
})

describe('[DN1] invalid document names', () => {
  const badPaths = [
    { path: '/', why: 'empty' },
    { path: '/..%2Fx', why: '".." segment after decoding' },
    { path: '/a%2F%2Fb', why: 'empty segment after decoding' },
    { path: '/notes%2F.', why: '"." segment after decoding' },
    { path: '/%00', why: 'control character' },
    { path: '/%E0%A4%A', why: 'broken percent-encoding' },
    { path: `/${'n'.repeat(maxDocNameBytes + 1)}`, why: 'too long' },
  ]

  for (const { path, why } of badPaths) {
    it(`[DN1] ${JSON.stringify(path.slice(0, 20))} (${why}) is accepted as a WebSocket and closed with 4404`, async () => {
      const server = await startTestServer({ store: new MemoryDocStore() }, teardown)
      const client = await RawClient.connect(`${server.url}${path}`, teardown)
      expect(await client.waitForClose()).toBe(CloseCode.UnknownDocument)
      expect(client.received).toEqual([])
      expect(server.sync.roomCount).toBe(0)
    })
  }

  it('[DN1] a stock client on an invalid name stops reconnecting', async () => {
    const server = await startTestServer({ store: new MemoryDocStore() }, teardown)
    const client = stockClient(server.url, '..%2Fescape', teardown)
    const closed: number[] = []
    client.provider.on('closed', (event) => closed.push(event.code))
    await waitFor('the provider to give up', () => closed.length > 0)
    expect(closed).toEqual([CloseCode.UnknownDocument])
    expect(client.provider.shouldConnect).toBe(false)
  })

  it('[CN1] the name is the percent-decoded path; the query string is ignored', () => {
    expect(docNameFromUrl('/notes%2F2024?token=abc&x=%zz')).toEqual({ name: 'notes/2024', error: null })
    expect(docNameFromUrl('/caf%C3%A9')).toEqual({ name: 'café', error: null })
    expect(docNameFromUrl('/team/doc')).toEqual({ name: 'team/doc', error: null })
    expect(docNameFromUrl('/?x=1').error).toMatch(/empty/)
  })
})
