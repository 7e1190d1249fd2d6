import { createRandom } from '@collab/test-support'
import { describe, expect, it } from 'vitest'
import { decodeEntry, type EntryDecodeResult, EntryKind, encodeEntry, type StreamEntry } from '../src/stream-entry.js'

/** The fields as XREAD returns them: every name and value as bytes. */
function asRead(fields: ReadonlyArray<string | Buffer>): Buffer[] {
  return fields.map((field) => Buffer.from(field))
}

function fieldsOf(...pairs: string[]): Buffer[] {
  return asRead(pairs)
}

describe('stream entry format', () => {
  it('writes the fields that instances of other versions read: f, t, then n and d when present', () => {
    const data = new Uint8Array([1, 2, 3])
    expect(encodeEntry({ kind: EntryKind.Update, from: 'a', doc: 'notes', data })).toEqual([
      'f',
      'a',
      't',
      'u',
      'n',
      'notes',
      'd',
      Buffer.from([1, 2, 3]),
    ])
    expect(encodeEntry({ kind: EntryKind.Query, from: 'a', doc: 'notes' })).toEqual(['f', 'a', 't', 'q', 'n', 'notes'])
    expect(encodeEntry({ kind: EntryKind.Heartbeat, from: 'a' })).toEqual(['f', 'a', 't', 'h'])
    expect(encodeEntry({ kind: EntryKind.Heartbeat, from: 'a', byInterest: true })).toEqual([
      'f',
      'a',
      't',
      'h',
      'g',
      '1',
    ])
  })

  it('keeps the letters of every kind', () => {
    // Instances of different versions share the streams during a rolling upgrade: a letter never changes meaning.
    expect(EntryKind).toEqual({
      Update: 'u',
      Awareness: 'a',
      Query: 'q',
      Here: 'i',
      Left: 'l',
      Resync: 'r',
      Deleted: 'x',
      Heartbeat: 'h',
      Bye: 'b',
    })
  })

  it('sends the bytes of a view into a larger buffer, not the whole buffer', () => {
    const data = new Uint8Array([9, 1, 2, 3, 9]).subarray(1, 4)
    const fields = encodeEntry({ kind: EntryKind.Awareness, from: 'a', doc: 'notes', data })
    expect(fields.at(-1)).toEqual(Buffer.from([1, 2, 3]))
    // ioredis sends only a Buffer as bytes; anything else would be turned into a string.
    expect(Buffer.isBuffer(fields.at(-1))).toBe(true)
  })

  it('reads back every kind it writes', () => {
    const entries: StreamEntry[] = [
      { kind: EntryKind.Update, from: 'a', doc: 'notes', data: new Uint8Array([1, 2]) },
      { kind: EntryKind.Awareness, from: 'a', doc: 'notes', data: new Uint8Array([3]) },
      { kind: EntryKind.Query, from: 'b', doc: 'notes' },
      { kind: EntryKind.Here, from: 'b', doc: 'notes' },
      { kind: EntryKind.Left, from: 'b', doc: 'notes' },
      { kind: EntryKind.Resync, from: 'b', doc: 'ünïcode/名前' },
      { kind: EntryKind.Deleted, from: 'c', doc: 'notes' },
      { kind: EntryKind.Heartbeat, from: 'host:1:abc' },
      { kind: EntryKind.Heartbeat, from: 'host:1:abc', byInterest: true },
      { kind: EntryKind.Bye, from: 'host:1:abc' },
    ]
    for (const entry of entries) {
      const decoded = decodeEntry(asRead(encodeEntry(entry)))
      expect(decoded).toEqual({
        ok: true,
        from: entry.from,
        doc: 'doc' in entry ? entry.doc : null,
        entry: 'data' in entry ? { ...entry, data: Buffer.from(entry.data) } : entry,
      })
    }
  })

  it('ignores fields it does not know, so that a newer version can add one', () => {
    const decoded = decodeEntry(fieldsOf('f', 'a', 'z', 'future', 't', 'q', 'n', 'notes'))
    expect(decoded).toEqual({ ok: true, from: 'a', doc: 'notes', entry: { kind: 'q', from: 'a', doc: 'notes' } })
  })

  it('reads a heartbeat as about its writer even if it names a document', () => {
    expect(decodeEntry(fieldsOf('f', 'a', 't', 'h', 'n', 'notes'))).toEqual({
      ok: true,
      from: 'a',
      doc: null,
      entry: { kind: 'h', from: 'a' },
    })
  })

  it.each<[string, Buffer[], Omit<Extract<EntryDecodeResult, { ok: false }>, 'ok'>]>([
    ['no fields', [], { error: 'no writer (f)', from: null, doc: null }],
    ['no writer', fieldsOf('t', 'u', 'n', 'notes', 'd', 'x'), { error: 'no writer (f)', from: null, doc: 'notes' }],
    [
      'an empty writer',
      fieldsOf('f', '', 't', 'q', 'n', 'notes'),
      { error: 'no writer (f)', from: null, doc: 'notes' },
    ],
    ['no kind', fieldsOf('f', 'a', 'n', 'notes'), { error: 'no kind (t)', from: 'a', doc: 'notes' }],
    [
      'an unknown kind',
      fieldsOf('f', 'a', 't', 'zz', 'n', 'notes'),
      { error: 'unknown kind "zz"', from: 'a', doc: 'notes' },
    ],
    [
      'an update without data',
      fieldsOf('f', 'a', 't', 'u', 'n', 'notes'),
      { error: 'u entry without data (d)', from: 'a', doc: 'notes' },
    ],
    [
      'an update without a document',
      fieldsOf('f', 'a', 't', 'u', 'd', 'x'),
      { error: 'u entry without a document (n)', from: 'a', doc: null },
    ],
    [
      'a resync without a document',
      fieldsOf('f', 'a', 't', 'r'),
      { error: 'r entry without a document (n)', from: 'a', doc: null },
    ],
    [
      'an odd number of fields',
      fieldsOf('f', 'a', 't', 'h', 'n'),
      { error: '5 fields, not name and value pairs', from: 'a', doc: null },
    ],
  ])('answers %s with an error, and who wrote it and about what when it can tell', (_, fields, expected) => {
    expect(decodeEntry(fields)).toEqual({ ok: false, ...expected })
  })

  it('never throws on random fields, and every result is either an entry or an error', () => {
    const seed = Number(process.env.FUZZ_SEED ?? 0x5eed)
    const random = createRandom(seed)
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!
    const names = ['f', 't', 'n', 'd', 'x', '', 'ff']
    const values = ['a', 'u', 'a', 'q', 'r', 'x', 'h', 'b', '', 'notes', '\u0000\uffff']
    for (let run = 0; run < 5_000; run++) {
      const fields: Buffer[] = []
      const count = Math.floor(random() * 9)
      for (let i = 0; i < count; i++) {
        fields.push(i % 2 === 0 ? Buffer.from(pick(names)) : Buffer.from(pick(values)))
      }
      let decoded: EntryDecodeResult
      try {
        decoded = decodeEntry(fields)
      } catch (err) {
        throw new Error(`seed ${seed}, run ${run}: decodeEntry threw on ${JSON.stringify(fields.map(String))}`, {
          cause: err,
        })
      }
      if (decoded.ok) {
        expect(Object.values(EntryKind)).toContain(decoded.entry.kind)
        expect(decoded.entry.from).toBe(decoded.from)
      } else expect(decoded.error).not.toBe('')
    }
  })
})
