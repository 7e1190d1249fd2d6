import fc from 'fast-check'
import * as encoding from 'lib0/encoding'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import {
  type DecodeResult,
  decodeMessage,
  encodeAwareness,
  encodeCollab,
  encodeHello,
  encodeSaved,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
  type Message,
  MessageType,
} from '../src/index.js'

// Property tests of the decoder against hostile input ([PR1]): 12,500 cases in all. The seed is fixed so CI is
// reproducible; FUZZ_SEED=<n> explores other inputs. On failure fast-check prints the seed and the shrunk
// counterexample, and `fc.assert(..., { seed, path })` replays it.
const seed = Number(process.env.FUZZ_SEED ?? 0x5eed)

const messageTypes = new Set<Message['type']>([
  'sync-step-1',
  'sync-step-2',
  'sync-update',
  'awareness',
  'auth-denied',
  'query-awareness',
  'hello',
  'ping',
  'pong',
  'saved',
  'collab',
  'incarnation',
])

/** Decodes, failing the property if the decoder throws or returns anything but a well-formed result. */
function decodeSafely(data: Uint8Array): DecodeResult {
  let result: DecodeResult
  try {
    result = decodeMessage(data)
  } catch (err) {
    throw new Error(`decodeMessage threw on [${Array.from(data).join(',')}]: ${err}`)
  }
  if (result.ok) {
    expect(messageTypes.has(result.message.type)).toBe(true)
  } else {
    expect(typeof result.error).toBe('string')
    expect(result.error.length).toBeGreaterThan(0)
    // Errors go into log lines and close reasons: hostile input must not make them large.
    expect(result.error.length).toBeLessThan(300)
  }
  return result
}

function encodeWith(write: (encoder: encoding.Encoder) => void): Uint8Array {
  const encoder = encoding.createEncoder()
  write(encoder)
  return encoding.toUint8Array(encoder)
}

/** Unsigned integers a hostile peer would pick: edges of every varUint width, up to the largest safe integer. */
const hostileUint = fc.oneof(
  fc.constantFrom(0, 1, 127, 128, 16_383, 16_384, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1),
  fc.nat(),
  fc.maxSafeNat(),
)

/** Raw varUint bytes, including overlong ones (beyond 53 bits) and ones missing their last byte. */
const rawVarUint = fc
  .uint8Array({ minLength: 1, maxLength: 12 })
  .chain((bytes) =>
    fc
      .boolean()
      .map((terminated) =>
        Uint8Array.from(bytes, (byte, i) => (i < bytes.length - 1 || !terminated ? byte | 0x80 : byte & 0x7f)),
      ),
  )

const payload = fc.uint8Array({ maxLength: 96 })

/** An awareness state as it travels: JSON text, or text that is not JSON. */
const stateText = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value) ?? 'null'),
  fc.constantFrom('null', '{"cursor":', '', 'undefined', 'NaN', '{"a":1}}', '\u0000', '"\ud800"', '[1,2,]'),
  fc.string({ unit: 'binary', maxLength: 40 }),
)

interface AwarenessSpec {
  /** The count field; may disagree with the entries. */
  count: number
  entries: Array<{ clientID: number; clock: number; state: string }>
}

const awarenessSpec: fc.Arbitrary<AwarenessSpec> = fc
  .array(fc.record({ clientID: hostileUint, clock: hostileUint, state: stateText }), { maxLength: 12 })
  .chain((entries) =>
    fc
      .oneof(
        { weight: 4, arbitrary: fc.constant(entries.length) },
        { weight: 1, arbitrary: fc.oneof(fc.nat(entries.length + 3), hostileUint) },
      )
      .map((count) => ({ count, entries })),
  )

function encodeAwarenessSpec({ count, entries }: AwarenessSpec): Uint8Array {
  return encodeWith((e) => {
    encoding.writeVarUint(e, count)
    for (const entry of entries) {
      encoding.writeVarUint(e, entry.clientID)
      encoding.writeVarUint(e, entry.clock)
      encoding.writeVarString(e, entry.state)
    }
  })
}

/** What a string becomes on the wire: lone surrogates turn into U+FFFD. */
function throughUtf8(text: string): string {
  return new TextDecoder().decode(new TextEncoder().encode(text))
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

/** A real state vector: client IDs and clocks of any size. */
const stateVector = fc.array(fc.tuple(hostileUint, hostileUint), { maxLength: 8 }).map((pairs) =>
  encodeWith((e) => {
    encoding.writeVarUint(e, pairs.length)
    for (const [client, clock] of pairs) {
      encoding.writeVarUint(e, client)
      encoding.writeVarUint(e, clock)
    }
  }),
)

const knownTypes: number[] = Object.values(MessageType)

/** A message with a valid envelope and a hostile payload, and what decoding it must give. */
interface Hostile {
  bytes: Uint8Array
  /**
   * `true`: must decode, to a message equal to `message` when given; `false`: must be refused; `undefined`: either,
   * as long as decoding does not throw.
   */
  valid?: boolean
  message?: Message
}

function parsesAsStateVector(bytes: Uint8Array): boolean {
  try {
    Y.decodeStateVector(bytes)
    return true
  } catch {
    return false
  }
}

const hostileMessage: fc.Arbitrary<Hostile> = fc.oneof(
  fc.oneof(stateVector, payload).map(
    (sv): Hostile => ({
      bytes: encodeSyncStep1(sv),
      valid: parsesAsStateVector(sv),
    }),
  ),
  // Update payloads are not decoded here (the room validates them before applying): any bytes pass.
  payload.map(
    (update): Hostile => ({
      bytes: encodeSyncStep2(update),
      valid: true,
      message: { type: 'sync-step-2', update },
    }),
  ),
  payload.map(
    (update): Hostile => ({
      bytes: encodeSyncUpdate(update),
      valid: true,
      message: { type: 'sync-update', update },
    }),
  ),
  awarenessSpec.map((spec): Hostile => {
    const update = encodeAwarenessSpec(spec)
    const valid = spec.count === spec.entries.length && spec.entries.every((entry) => isJson(throughUtf8(entry.state)))
    const message: Message = {
      type: 'awareness',
      update,
      entries: valid
        ? spec.entries.map(({ clientID, clock, state }) => ({
            clientID,
            clock,
            state: JSON.parse(throughUtf8(state)) as unknown,
          }))
        : [],
    }
    return { bytes: encodeAwareness(update), valid, ...(valid && { message }) }
  }),
  fc.array(fc.string({ unit: 'grapheme', maxLength: 24 }), { maxLength: 48 }).map(
    (capabilities): Hostile => ({
      bytes: encodeHello(capabilities),
      valid: capabilities.length <= 32,
      message: { type: 'hello', capabilities },
    }),
  ),
  hostileUint.map((count): Hostile => ({ bytes: encodeSaved(count), valid: true, message: { type: 'saved', count } })),
  // Collab payloads are any string; @collab/ot parses and checks them ([OT5]).
  fc
    .string({ unit: 'grapheme', maxLength: 64 })
    .map((json): Hostile => ({ bytes: encodeCollab(json), valid: true, message: { type: 'collab', json } })),
  fc.tuple(hostileUint, fc.string({ maxLength: 30 })).map(
    ([authType, reason]): Hostile => ({
      bytes: encodeWith((e) => {
        encoding.writeVarUint(e, MessageType.Auth)
        encoding.writeVarUint(e, authType)
        encoding.writeVarString(e, reason)
      }),
      valid: authType === 0,
    }),
  ),
  // Any type and sync sub-type, written canonically: unknown ones must be refused.
  fc
    .tuple(fc.oneof(hostileUint, fc.constantFrom(...knownTypes)), fc.oneof(hostileUint, fc.nat(3)), payload)
    .map(([type, subType, rest]): Hostile => {
      const bytes = encodeWith((e) => {
        encoding.writeVarUint(e, type)
        encoding.writeVarUint(e, subType)
        encoding.writeUint8Array(e, rest)
      })
      const unknown = !knownTypes.includes(type) || (type === MessageType.Sync && subType > 2)
      return unknown ? { bytes, valid: false } : { bytes }
    }),
  // A varUint8Array whose length field is hostile (overlong, unterminated or past the end).
  fc.tuple(fc.constantFrom(MessageType.Sync, MessageType.Awareness), rawVarUint, payload).map(
    ([type, length, rest]): Hostile => ({
      bytes: Uint8Array.from([type, ...(type === MessageType.Sync ? [2] : []), ...length, ...rest]),
    }),
  ),
)

type Mutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'append'; bytes: Uint8Array }
  | { kind: 'overwrite'; at: number; byte: number }
  | { kind: 'insert'; at: number; byte: number }

/** Damages a message: cut it, extend it, overwrite or insert one byte. */
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('overwrite' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
)

function mutate(bytes: Uint8Array, change: Mutation): Uint8Array {
  const at = 'at' in change ? change.at % (bytes.length + 1) : 0
  switch (change.kind) {
    case 'truncate':
      return bytes.slice(0, Math.min(at, bytes.length - 1))
    case 'append':
      return Uint8Array.from([...bytes, ...change.bytes])
    case 'overwrite': {
      const copy = Uint8Array.from(bytes)
      if (copy.length > 0) copy[at % copy.length] = change.byte
      return copy
    }
    case 'insert':
      return Uint8Array.from([...bytes.slice(0, at), change.byte, ...bytes.slice(at)])
  }
}

describe('[PR1] decodeMessage under fuzzing', () => {
  it('[PR1] arbitrary bytes never throw and give a message or a short error (4,000 cases)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 32 }),
          fc.uint8Array({ maxLength: 2_048 }),
          // Bytes that start like a real message, so the fuzzer gets past the first varUint.
          fc
            .tuple(fc.constantFrom(0, 1, 2, 3, 100, 101, 102, 103), fc.uint8Array({ maxLength: 64 }))
            .map(([type, rest]) => Uint8Array.from([type, ...rest])),
        ),
        (data) => {
          decodeSafely(data)
        },
      ),
      { seed, numRuns: 4_000 },
    )
  })

  it('[PR1] valid envelopes with hostile payloads decode exactly when they are valid (4,000 cases)', () => {
    fc.assert(
      fc.property(hostileMessage, ({ bytes, valid, message }) => {
        const result = decodeSafely(bytes)
        if (valid === undefined) return
        expect(result.ok).toBe(valid)
        if (result.ok && message) expect(result.message).toEqual(message)
      }),
      { seed, numRuns: 4_000 },
    )
  })

  it('[PR1] damaged messages (cut, extended, a byte changed or inserted) never throw (3,000 cases)', () => {
    fc.assert(
      fc.property(hostileMessage, fc.array(mutation, { minLength: 1, maxLength: 3 }), ({ bytes }, changes) => {
        let damaged = bytes
        for (const change of changes) damaged = mutate(damaged, change)
        decodeSafely(damaged)
      }),
      { seed, numRuns: 3_000 },
    )
  })

  it('[PR1] a message inside a larger buffer decodes exactly as a copy of it (1,500 cases)', () => {
    // ws hands messages over as views into pooled buffers: reading past a view's end would read other data.
    fc.assert(
      fc.property(
        fc.oneof(
          hostileMessage.map(({ bytes }) => bytes),
          fc.uint8Array({ maxLength: 64 }),
        ),
        fc.uint8Array({ maxLength: 32 }),
        fc.uint8Array({ minLength: 1, maxLength: 256 }),
        (bytes, before, after) => {
          const pool = Uint8Array.from([...before, ...bytes, ...after])
          const view = pool.subarray(before.length, before.length + bytes.length)
          const fromView = decodeSafely(view)
          const fromCopy = decodeSafely(Uint8Array.from(bytes))
          expect(fromView.ok).toBe(fromCopy.ok)
          if (fromView.ok && fromCopy.ok) expect(fromView.message).toEqual(fromCopy.message)
        },
      ),
      { seed, numRuns: 1_500 },
    )
  })
})
