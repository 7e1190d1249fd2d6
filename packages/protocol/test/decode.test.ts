import { createRandom } from '@collab/test-support'
import * as encoding from 'lib0/encoding'
import { describe, expect, it } from 'vitest'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as syncProtocol from 'y-protocols/sync'
import * as Y from 'yjs'
import {
  type AwarenessEntry,
  CloseCode,
  type DecodeResult,
  decodeAwarenessEntries,
  decodeMessage,
  docNameError,
  encodeAuthDenied,
  encodeAwareness,
  encodeAwarenessEntries,
  encodeCollab,
  encodeHello,
  encodeIncarnation,
  encodePing,
  encodePong,
  encodeQueryAwareness,
  encodeSaved,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
  isTerminalCloseCode,
  type Message,
  MessageType,
  maxDocNameBytes,
} from '../src/index.js'

function decodeOk(data: Uint8Array): Message {
  const result = decodeMessage(data)
  if (!result.ok) throw new Error(`expected ${Array.from(data).join(',')} to decode, got: ${result.error}`)
  return result.message
}

function expectRefused(data: Uint8Array): string {
  let result: DecodeResult | undefined
  expect(() => {
    result = decodeMessage(data)
  }).not.toThrow()
  if (!result || result.ok) throw new Error(`expected [${Array.from(data).join(',')}] to be refused`)
  expect(result.error).toMatch(/\S/)
  return result.error
}

function bytes(...values: number[]): Uint8Array {
  return new Uint8Array(values)
}

function textDocUpdate(text: string): { doc: Y.Doc; update: Uint8Array } {
  const doc = new Y.Doc()
  doc.getText('codemirror').insert(0, text)
  return { doc, update: Y.encodeStateAsUpdate(doc) }
}

const sampleEntries: AwarenessEntry[] = [
  { clientID: 1, clock: 0, state: { user: { name: 'Ada', color: '#f00' }, cursor: null } },
  { clientID: 4_294_967_295, clock: 12, state: null },
  { clientID: 77, clock: 3, state: { emoji: '🦄', list: [1, 2, 3] } },
]

/** One valid message of every type, for tests that mutate valid input. */
function everyMessage(): Array<{ name: string; data: Uint8Array }> {
  const { doc, update } = textDocUpdate('hello')
  return [
    { name: 'sync step 1', data: encodeSyncStep1(Y.encodeStateVector(doc)) },
    { name: 'sync step 2', data: encodeSyncStep2(update) },
    { name: 'sync update', data: encodeSyncUpdate(update) },
    { name: 'awareness', data: encodeAwareness(encodeAwarenessEntries(sampleEntries)) },
    { name: 'auth denied', data: encodeAuthDenied('no access') },
    { name: 'query awareness', data: encodeQueryAwareness() },
    { name: 'hello', data: encodeHello(['heartbeat', 'save-ack']) },
    { name: 'ping', data: encodePing() },
    { name: 'pong', data: encodePong() },
    { name: 'saved', data: encodeSaved(300) },
    { name: 'incarnation', data: encodeIncarnation('4b7ad0d6-5b8e-4f4e-9d0c-3f4c1d2e8a91') },
  ]
}

describe('encoders and decodeMessage round trip', () => {
  it('[SY2] sync step 1 carries the state vector', () => {
    const { doc } = textDocUpdate('abc')
    const stateVector = Y.encodeStateVector(doc)
    expect(decodeOk(encodeSyncStep1(stateVector))).toEqual({ type: 'sync-step-1', stateVector })
  })

  it('[SY2] sync step 1 with an empty document state vector', () => {
    const stateVector = Y.encodeStateVector(new Y.Doc())
    expect(decodeOk(encodeSyncStep1(stateVector))).toEqual({ type: 'sync-step-1', stateVector })
  })

  it('[SY3] sync step 2 and sync update carry the update bytes', () => {
    const { update } = textDocUpdate('héllo 🌍')
    expect(decodeOk(encodeSyncStep2(update))).toEqual({ type: 'sync-step-2', update })
    expect(decodeOk(encodeSyncUpdate(update))).toEqual({ type: 'sync-update', update })
  })

  it('[AW1] awareness entries survive encodeAwarenessEntries / decodeAwarenessEntries', () => {
    expect(decodeAwarenessEntries(encodeAwarenessEntries(sampleEntries))).toEqual(sampleEntries)
    expect(decodeAwarenessEntries(encodeAwarenessEntries([]))).toEqual([])
  })

  it('[AW1] an awareness message carries the update and its decoded entries', () => {
    const update = encodeAwarenessEntries(sampleEntries)
    expect(decodeOk(encodeAwareness(update))).toEqual({ type: 'awareness', update, entries: sampleEntries })
  })

  it('query awareness, auth denied, ping and pong', () => {
    expect(decodeOk(encodeQueryAwareness())).toEqual({ type: 'query-awareness' })
    expect(decodeOk(encodeAuthDenied('token expired ✋'))).toEqual({ type: 'auth-denied', reason: 'token expired ✋' })
    expect(decodeOk(encodePing())).toEqual({ type: 'ping' })
    expect(decodeOk(encodePong())).toEqual({ type: 'pong' })
  })

  it('[EX1] hello carries its capabilities, none included', () => {
    expect(decodeOk(encodeHello(['heartbeat', 'save-ack', 'ünknown']))).toEqual({
      type: 'hello',
      capabilities: ['heartbeat', 'save-ack', 'ünknown'],
    })
    expect(decodeOk(encodeHello([]))).toEqual({ type: 'hello', capabilities: [] })
  })

  it('[SA1] saved carries its count, up to the largest safe integer', () => {
    for (const count of [0, 1, 127, 128, 300, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
      expect(decodeOk(encodeSaved(count))).toEqual({ type: 'saved', count })
    }
  })

  it('[IN1] incarnation carries its id', () => {
    for (const id of ['', 'a', '4b7ad0d6-5b8e-4f4e-9d0c-3f4c1d2e8a91', 'ünïcödé']) {
      expect(decodeOk(encodeIncarnation(id))).toEqual({ type: 'incarnation', id })
    }
  })

  it('message types are the ones PROTOCOL.md lists', () => {
    const firstByte = (data: Uint8Array) => data[0]
    expect(firstByte(encodeSyncStep1(new Uint8Array([0])))).toBe(MessageType.Sync)
    expect(firstByte(encodeAwareness(encodeAwarenessEntries([])))).toBe(1)
    expect(firstByte(encodeAuthDenied(''))).toBe(2)
    expect(firstByte(encodeQueryAwareness())).toBe(3)
    expect(firstByte(encodeHello([]))).toBe(100)
    expect(firstByte(encodePing())).toBe(101)
    expect(firstByte(encodePong())).toBe(102)
    expect(firstByte(encodeSaved(1))).toBe(103)
    expect(firstByte(encodeIncarnation('id'))).toBe(105)
  })

  it('decodes what y-protocols writes (sync step 1, step 2, update)', () => {
    const { doc, update } = textDocUpdate('compat')
    const step1 = encoding.createEncoder()
    encoding.writeVarUint(step1, MessageType.Sync)
    syncProtocol.writeSyncStep1(step1, doc)
    expect(decodeOk(encoding.toUint8Array(step1))).toEqual({
      type: 'sync-step-1',
      stateVector: Y.encodeStateVector(doc),
    })

    const step2 = encoding.createEncoder()
    encoding.writeVarUint(step2, MessageType.Sync)
    syncProtocol.writeSyncStep2(step2, doc)
    const decodedStep2 = decodeOk(encoding.toUint8Array(step2))
    expect(decodedStep2.type).toBe('sync-step-2')
    if (decodedStep2.type !== 'sync-step-2') return
    const copy = new Y.Doc()
    Y.applyUpdate(copy, decodedStep2.update)
    expect(copy.getText('codemirror').toString()).toBe('compat')

    const updateMessage = encoding.createEncoder()
    encoding.writeVarUint(updateMessage, MessageType.Sync)
    syncProtocol.writeUpdate(updateMessage, update)
    expect(decodeOk(encoding.toUint8Array(updateMessage))).toEqual({ type: 'sync-update', update })
  })

  it('[AW1] decodes what y-protocols awareness writes, and y-protocols applies what we encode', () => {
    const doc = new Y.Doc()
    const awareness = new awarenessProtocol.Awareness(doc)
    try {
      awareness.setLocalState({ user: { name: 'Grace' }, cursor: { anchor: 3, head: 5 } })
      const update = awarenessProtocol.encodeAwarenessUpdate(awareness, [doc.clientID])
      const message = decodeOk(encodeAwareness(update))
      expect(message).toEqual({
        type: 'awareness',
        update,
        entries: [{ clientID: doc.clientID, clock: 1, state: awareness.getLocalState() }],
      })

      const otherDoc = new Y.Doc()
      const other = new awarenessProtocol.Awareness(otherDoc)
      try {
        awarenessProtocol.applyAwarenessUpdate(
          other,
          encodeAwarenessEntries([{ clientID: 12345, clock: 4, state: { user: { name: 'Linus' } } }]),
          'test',
        )
        expect(other.getStates().get(12345)).toEqual({ user: { name: 'Linus' } })
      } finally {
        other.destroy()
        otherDoc.destroy()
      }
    } finally {
      awareness.destroy()
      doc.destroy()
    }
  })

  it('decodes a message that is a view into a larger buffer (as ws delivers them)', () => {
    const message = encodeSaved(42)
    const pool = new Uint8Array(64).fill(0xff)
    pool.set(message, 10)
    expect(decodeOk(pool.subarray(10, 10 + message.length))).toEqual({ type: 'saved', count: 42 })
  })
})

describe('[PR1] malformed input gives { ok: false } and never throws', () => {
  it('[PR1] empty message', () => {
    expect(expectRefused(new Uint8Array(0))).toMatch(/empty/)
  })

  it('[PR1] every strict prefix of every message type is refused', () => {
    for (const { name, data } of everyMessage()) {
      for (let length = 0; length < data.length; length++) {
        const error = expectRefused(data.slice(0, length))
        expect(error, `${name} truncated to ${length} bytes`).toBeTypeOf('string')
      }
    }
  })

  it('[PR1] truncated messages that are views into a larger buffer do not read past their end', () => {
    for (const { name, data } of everyMessage()) {
      // The bytes after each view are the rest of the message: reading past the view would make it look complete.
      const pool = new Uint8Array(data.length + 64)
      pool.set(data)
      for (let length = 1; length < data.length; length++) {
        const result = decodeMessage(pool.subarray(0, length))
        expect(result.ok, `${name} truncated to ${length} bytes`).toBe(false)
      }
    }
  })

  it('[PR1] trailing bytes after any message type are refused', () => {
    for (const { name, data } of everyMessage()) {
      const longer = new Uint8Array(data.length + 1)
      longer.set(data)
      expect(expectRefused(longer), name).toMatch(/trailing/)
    }
  })

  it('[PR1] unknown message types are refused', () => {
    for (const type of [4, 5, 99, 106, 127, 128, 1000, 2 ** 31]) {
      const encoder = encoding.createEncoder()
      encoding.writeVarUint(encoder, type)
      expect(expectRefused(encoding.toUint8Array(encoder))).toMatch(/unknown message type/)
    }
  })

  it('[OT1] [LM4] a collab message is its JSON text, refused unparsed when over the limit', () => {
    const message = encodeCollab('{"t":"join","epoch":null,"version":null,"secret":null}')
    const decoded = decodeMessage(message, { maxAwarenessBytes: 1024, maxCollabBytes: 1024 })
    expect(decoded).toEqual({
      ok: true,
      message: { type: 'collab', json: '{"t":"join","epoch":null,"version":null,"secret":null}' },
    })
    const big = encodeCollab('x'.repeat(2048))
    const refused = decodeMessage(big, { maxAwarenessBytes: 1024, maxCollabBytes: 1024 })
    expect(refused.ok).toBe(false)
    expect(!refused.ok && refused.error).toMatch(/collab message of 2048 bytes, at most 1024/)
  })

  it('[PR1] unknown sync sub-types are refused', () => {
    expect(expectRefused(bytes(0, 3, 0))).toMatch(/unknown sync message type 3/)
    expect(expectRefused(bytes(0, 0x80, 0x01, 0))).toMatch(/unknown sync message type 128/)
  })

  it('[PR1] auth messages other than "permission denied" are refused', () => {
    expect(expectRefused(bytes(2, 1, 0))).toMatch(/unknown auth message type/)
  })

  it('[PR1] awareness states that are not JSON are refused', () => {
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, 1)
    encoding.writeVarUint(encoder, 7)
    encoding.writeVarUint(encoder, 1)
    encoding.writeVarString(encoder, '{"user": not json')
    expectRefused(encodeAwareness(encoding.toUint8Array(encoder)))
    expect(() => decodeAwarenessEntries(encoding.toUint8Array(encoder))).toThrow()
  })

  it('[PR1] awareness updates with trailing bytes or missing entries are refused', () => {
    const update = encodeAwarenessEntries(sampleEntries)
    const withTrailing = new Uint8Array(update.length + 1)
    withTrailing.set(update)
    expectRefused(encodeAwareness(withTrailing))
    expectRefused(encodeAwareness(update.slice(0, update.length - 1)))
    // Claims a billion entries and holds none: must fail fast, not allocate.
    expectRefused(encodeAwareness(bytes(0x80, 0x94, 0xeb, 0xdc, 0x03)))
  })

  it('[PR1] unparsable state vectors in sync step 1 are refused', () => {
    // Claims 5 (client, clock) pairs and holds one number.
    expectRefused(encodeSyncStep1(bytes(5, 1)))
    expectRefused(encodeSyncStep1(new Uint8Array(0)))
    expectRefused(encodeSyncStep1(bytes(0xff, 0xff, 0xff)))
  })

  it('[PR1] varUint8Array lengths beyond the message are refused', () => {
    expectRefused(bytes(0, 2, 50, 1, 2, 3))
    expectRefused(bytes(1, 0xff, 0xff, 0xff, 0xff, 0x0f))
  })

  it('[PR1] hello with more capabilities than allowed is refused', () => {
    const capabilities = Array.from({ length: 33 }, (_, i) => `c${i}`)
    expect(expectRefused(encodeHello(capabilities))).toMatch(/capabilities/)
    expect(decodeOk(encodeHello(capabilities.slice(0, 32))).type).toBe('hello')
  })

  it('[PR1] overlong varUints are refused', () => {
    expectRefused(bytes(103, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f))
  })

  it('[PR1] 5,000 seeded random byte arrays never throw', () => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 32)
    const random = createRandom(seed)
    const interestingFirstBytes = [0, 1, 2, 3, 100, 101, 102, 103]
    let accepted = 0
    for (let i = 0; i < 5_000; i++) {
      const length = Math.floor(random() * 48)
      const data = new Uint8Array(length)
      for (let j = 0; j < length; j++) data[j] = Math.floor(random() * 256)
      // Most inputs start with a known type (and often a known sync sub-type) so the fuzzing reaches past the switch.
      if (length > 0 && random() < 0.8) data[0] = interestingFirstBytes[Math.floor(random() * 8)] ?? 0
      if (length > 1 && data[0] === 0 && random() < 0.8) data[1] = Math.floor(random() * 3)
      let result: DecodeResult
      try {
        result = decodeMessage(data)
      } catch (err) {
        throw new Error(
          `decodeMessage threw on input ${i} of seed ${seed} (rerun with FUZZ_SEED=${seed}): [${Array.from(data).join(',')}]: ${err instanceof Error ? err.message : String(err)}`,
        )
      }
      expect(typeof result.ok, `seed ${seed}, input ${i}`).toBe('boolean')
      if (result.ok) accepted++
    }
    // Guards against a generator that only produces rejects: some random inputs are valid messages.
    expect(accepted, `seed ${seed}`).toBeGreaterThan(0)
  })
})

describe('[DN1] docNameError', () => {
  it('[DN1] accepts ordinary names', () => {
    for (const name of [
      'a',
      'notes',
      'team/notes/2024-06',
      'ünïcødé 文档 🦄',
      '.hidden',
      '..dots',
      'a.b',
      'with space',
      'x'.repeat(maxDocNameBytes),
      'é'.repeat(maxDocNameBytes / 2),
    ]) {
      expect(docNameError(name), JSON.stringify(name)).toBeNull()
    }
  })

  it('[DN1] refuses empty names and names over 200 UTF-8 bytes', () => {
    expect(docNameError('')).toMatch(/empty/)
    expect(docNameError('x'.repeat(maxDocNameBytes + 1))).toMatch(/201 bytes/)
    // 101 two-byte characters: 101 UTF-16 units but 202 bytes.
    expect(docNameError('é'.repeat(maxDocNameBytes / 2 + 1))).toMatch(/202 bytes/)
  })

  it('[DN1] refuses control characters', () => {
    for (const name of ['a\u0000b', 'line\nbreak', 'tab\t', '\u001f', 'del\u007f', 'c1\u0085', '\u009f']) {
      expect(docNameError(name), JSON.stringify(name)).toMatch(/control/)
    }
  })

  it('[DN1] refuses empty, "." and ".." path segments', () => {
    for (const name of ['/a', 'a/', '/', '//', 'a//b', '.', '..', 'a/./b', 'a/../b', '../x', 'x/..']) {
      expect(docNameError(name), JSON.stringify(name)).toMatch(/segment/)
    }
  })
})

describe('close codes', () => {
  it('only 4401, 4403, 4404 and 4501 tell a client to stop reconnecting', () => {
    const terminal = Object.values(CloseCode).filter(isTerminalCloseCode)
    expect(terminal.sort()).toEqual([
      CloseCode.NotAuthenticated,
      CloseCode.Forbidden,
      CloseCode.UnknownDocument,
      CloseCode.NotSupported,
    ])
    expect(isTerminalCloseCode(1006)).toBe(false)
  })
})
