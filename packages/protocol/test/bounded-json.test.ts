import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  awarenessJsonBounds,
  decodeAwarenessEntries,
  decodeMessage,
  encodeAwareness,
  encodeAwarenessEntries,
  parseBoundedJson,
} from '../src/index.js'

/** Depth and member count of a parsed JSON value, computed the obvious (recursive) way. */
function measure(value: unknown, depth = 0): { depth: number; members: number } {
  if (value === null || typeof value !== 'object') return { depth, members: 0 }
  const children = Array.isArray(value) ? value : Object.values(value)
  let deepest = depth + 1
  let members = children.length
  for (const child of children) {
    const inner = measure(child, depth + 1)
    deepest = Math.max(deepest, inner.depth)
    members += inner.members
  }
  return { depth: deepest, members }
}

function nested(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`
}

describe('parseBoundedJson', () => {
  it('[LM4] counts depth and members exactly as the parsed value has them', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value)
        const { depth, members } = measure(JSON.parse(text))
        expect(parseBoundedJson(text, { maxDepth: depth, maxMembers: members })).toEqual(JSON.parse(text))
        if (depth > 0)
          expect(() => parseBoundedJson(text, { maxDepth: depth - 1, maxMembers: members })).toThrow(RangeError)
        if (members > 0)
          expect(() => parseBoundedJson(text, { maxDepth: depth, maxMembers: members - 1 })).toThrow(RangeError)
      }),
      { numRuns: 500, seed: 7 },
    )
  })

  it('[LM4] is not fooled by brackets, commas and escaped quotes inside strings', () => {
    const text = JSON.stringify({ name: '[[{{,,"\\"]]}}', list: ['a,b', '{'] })
    expect(parseBoundedJson(text, { maxDepth: 2, maxMembers: 4 })).toEqual(JSON.parse(text))
    expect(() => parseBoundedJson(text, { maxDepth: 2, maxMembers: 3 })).toThrow('more than 3 members')
  })

  it('[LM4] refuses a state nested 6,000 deep before building it', () => {
    expect(() => parseBoundedJson(nested(6_000), awarenessJsonBounds)).toThrow('nested deeper than 32 levels')
  })

  it('still reports text that is not JSON', () => {
    expect(() => parseBoundedJson('{"a":', awarenessJsonBounds)).toThrow(SyntaxError)
  })
})

describe('awareness decoding', () => {
  it('[LM4] an awareness state nested beyond the bound is a decode error, not a value', () => {
    const update = encodeAwarenessEntries([{ clientID: 1, clock: 1, state: { user: { name: 'x' } } }])
    // Swap in a hostile state by hand: encodeAwarenessEntries itself would throw on it (JSON.stringify recurses).
    const hostile = new TextEncoder().encode(nested(6_000))
    const bytes = [...update.subarray(0, 3)]
    const length: number[] = []
    let n = hostile.length
    while (n > 0x7f) {
      length.push((n & 0x7f) | 0x80)
      n >>>= 7
    }
    length.push(n)
    const forged = new Uint8Array([...bytes, ...length, ...hostile])
    expect(() => decodeAwarenessEntries(forged)).toThrow(RangeError)
    const result = decodeMessage(encodeAwareness(forged))
    expect(result).toMatchObject({ ok: false, error: expect.stringContaining('nested deeper') })
  })

  it('[LM4] an awareness update over the size limit is refused before it is parsed', () => {
    const update = encodeAwarenessEntries([{ clientID: 1, clock: 1, state: { text: 'x'.repeat(2_000) } }])
    expect(decodeMessage(encodeAwareness(update), { maxAwarenessBytes: update.length }).ok).toBe(true)
    expect(decodeMessage(encodeAwareness(update), { maxAwarenessBytes: update.length - 1 })).toEqual({
      ok: false,
      error: `malformed message: awareness update of ${update.length} bytes, at most ${update.length - 1} allowed`,
    })
  })
})
