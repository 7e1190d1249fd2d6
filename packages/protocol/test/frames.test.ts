import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { describe, expect, it } from 'vitest'
import { decodeFrames, encodeFrames } from '../src/index.js'

describe('HTTP transport bodies ([HT2])', () => {
  it('[HT2] frames messages as lib0 varUint8Arrays, one after the other, and splits them back', () => {
    const messages = [new Uint8Array([0, 0, 1, 0]), new Uint8Array(0), new Uint8Array(300).fill(7)]
    const body = encodeFrames(messages)
    // The same bytes lib0 writes.
    const encoder = encoding.createEncoder()
    for (const message of messages) encoding.writeVarUint8Array(encoder, message)
    expect(body).toEqual(encoding.toUint8Array(encoder))
    const decoder = decoding.createDecoder(body)
    expect(decoding.readVarUint8Array(decoder)).toEqual(messages[0])
    expect(decodeFrames(body)).toEqual({ ok: true, messages })
    expect(decodeFrames(new Uint8Array(0))).toEqual({ ok: true, messages: [] })
  })

  it('[HT2] a body that does not split into whole frames is an error, never an exception', () => {
    expect(decodeFrames(new Uint8Array([5, 1, 2]))).toMatchObject({
      ok: false,
      error: expect.stringContaining('5 bytes'),
    })
    expect(decodeFrames(new Uint8Array([0x80]))).toMatchObject({ ok: false })
    expect(decodeFrames(new Uint8Array(9).fill(0xff))).toMatchObject({ ok: false })
    const good = encodeFrames([new Uint8Array([1, 2, 3])])
    expect(decodeFrames(new Uint8Array([...good, 4]))).toMatchObject({ ok: false })
  })
})
