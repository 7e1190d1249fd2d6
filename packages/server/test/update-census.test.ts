import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { defaultLimits } from '../src/limits.js'
import { decodeUpdate, shapeOf } from '../src/update-admission.js'
import { countUpdate, readUpdateShape } from '../src/update-census.js'

const unbounded = { structs: Number.POSITIVE_INFINITY, deleteRanges: Number.POSITIVE_INFINITY }

/** What Yjs itself finds in an update. */
function yjsCensus(update: Uint8Array): { structs: number; deleteRanges: number } {
  const decoded = Y.decodeUpdate(update)
  let deleteRanges = 0
  for (const ranges of decoded.ds.clients.values()) deleteRanges += ranges.length
  return { structs: decoded.structs.length, deleteRanges }
}

/** One edit of every kind of content Yjs can encode, so that every branch of the walk is exercised. */
const edit = fc.oneof(
  fc.record({ kind: fc.constant('text' as const), at: fc.nat(), text: fc.string({ maxLength: 8 }) }),
  fc.record({
    kind: fc.constant('format' as const),
    at: fc.nat(),
    length: fc.nat({ max: 5 }),
    value: fc.oneof(fc.boolean(), fc.string({ maxLength: 4 }), fc.constant(null)),
  }),
  fc.record({ kind: fc.constant('embed' as const), at: fc.nat(), value: fc.jsonValue({ maxDepth: 2 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.nat({ max: 6 }) }),
  fc.record({
    kind: fc.constant('map' as const),
    key: fc.string({ maxLength: 3 }),
    value: fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.uint8Array({ maxLength: 6 }),
      fc.constant('nested-map' as const),
      fc.constant('nested-text' as const),
      fc.constant('subdoc' as const),
    ),
  }),
  fc.record({ kind: fc.constant('xml' as const), name: fc.constantFrom('p', 'h1'), text: fc.string({ maxLength: 4 }) }),
  fc.record({ kind: fc.constant('hook' as const), name: fc.string({ minLength: 1, maxLength: 4 }) }),
)

function applyEdit(doc: Y.Doc, e: typeof edit extends fc.Arbitrary<infer T> ? T : never): void {
  const text = doc.getText('codemirror')
  const map = doc.getMap('map')
  const xml = doc.getXmlFragment('xml')
  switch (e.kind) {
    case 'text':
      text.insert(e.at % (text.length + 1), e.text)
      return
    case 'format':
      text.format(e.at % (text.length + 1), e.length, { bold: e.value })
      return
    case 'embed':
      text.insertEmbed(e.at % (text.length + 1), { value: e.value })
      return
    case 'delete': {
      const at = e.at % (text.length + 1)
      text.delete(at, Math.min(e.length, text.length - at))
      return
    }
    case 'map':
      if (e.value === 'nested-map') map.set(e.key, new Y.Map([['x', 1]]))
      else if (e.value === 'nested-text') map.set(e.key, new Y.Text('nested'))
      else if (e.value === 'subdoc') map.set(e.key, new Y.Doc())
      else map.set(e.key, e.value)
      return
    case 'xml': {
      const element = new Y.XmlElement(e.name)
      element.insert(0, [new Y.XmlText(e.text)])
      element.setAttribute('class', e.text)
      xml.insert(xml.length, [element])
      return
    }
    case 'hook':
      // Yjs' types leave hooks out of what a fragment holds, but it encodes them (content type 7, a named type).
      xml.insert(xml.length, [new Y.XmlHook(e.name) as unknown as Y.XmlElement])
  }
}

describe('[LM7] counting an update without building it', () => {
  it('[LM7] counts what Yjs decodes, for every kind of content, state and incremental updates alike', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(edit, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 6 }),
        (batches) => {
          const doc = new Y.Doc()
          const updates: Uint8Array[] = []
          doc.on('update', (update: Uint8Array) => updates.push(update))
          for (const batch of batches) {
            doc.transact(() => {
              for (const e of batch) applyEdit(doc, e)
            })
          }
          // Every update as sent, the whole state, and a merge of every other update (merges hold Skip structs).
          const samples = [
            ...updates,
            Y.encodeStateAsUpdate(doc),
            Y.mergeUpdates(updates.filter((_, index) => index % 2 === 0)),
          ]
          for (const update of samples) expect(countUpdate(update, unbounded)).toEqual(yjsCensus(update))
          doc.destroy()
        },
      ),
      { numRuns: 300, seed: 42 },
    )
  })

  it('[LM7] stops counting once a bound is passed, and reports bytes that are not an update as null', () => {
    const doc = new Y.Doc()
    const map = doc.getMap('m')
    doc.transact(() => {
      for (let i = 0; i < 1_000; i++) map.set(`k${i}`, i)
    })
    const update = Y.encodeStateAsUpdate(doc)
    expect(countUpdate(update, unbounded)).toEqual({ structs: 1_000, deleteRanges: 0 })
    expect(countUpdate(update, { structs: 10, deleteRanges: 10 })?.structs).toBeGreaterThan(10)
    expect(countUpdate(update.subarray(0, update.length - 5), unbounded)).toBeNull()
    expect(countUpdate(new Uint8Array([1, 1, 1, 1, 1, 31]), unbounded)).toBeNull()
  })
})

/** How updates were admitted before the walk read them (a census, then `Y.decodeUpdate`): the reference. */
function decodedByYjs(update: Uint8Array): ReturnType<typeof decodeUpdate> {
  const bounds = defaultLimits
  const census = countUpdate(update, {
    structs: bounds.maxStructsPerUpdate,
    deleteRanges: bounds.maxDeleteRangesPerUpdate,
  })
  const invalid = (reason: string) => ({ ok: false as const, refusal: { kind: 'invalid' as const, reason } })
  if (census && census.structs > bounds.maxStructsPerUpdate) {
    return invalid(`${census.structs} structs in one update, at most ${bounds.maxStructsPerUpdate} allowed`)
  }
  if (census && census.deleteRanges > bounds.maxDeleteRangesPerUpdate) {
    return invalid(
      `${census.deleteRanges} delete ranges in one update, at most ${bounds.maxDeleteRangesPerUpdate} allowed`,
    )
  }
  let shape: ReturnType<typeof shapeOf>
  try {
    shape = shapeOf(Y.decodeUpdate(update))
  } catch (err) {
    return invalid(`the update does not decode: ${err instanceof Error ? err.message : String(err)}`)
  }
  if (shape.emptyDeleteRange) return invalid('the delete set has an empty range')
  return { ok: true, decoded: shape }
}

/** Updates of a random editing session: each as sent, the whole state, and a merge of every other one. */
function sessionUpdates(batches: Array<Array<typeof edit extends fc.Arbitrary<infer T> ? T : never>>): Uint8Array[] {
  const doc = new Y.Doc()
  const updates: Uint8Array[] = []
  doc.on('update', (update: Uint8Array) => updates.push(update))
  for (const batch of batches) {
    doc.transact(() => {
      for (const e of batch) applyEdit(doc, e)
    })
  }
  const samples = [...updates, Y.encodeStateAsUpdate(doc), Y.mergeUpdates(updates.filter((_, i) => i % 2 === 0))]
  doc.destroy()
  return samples
}

describe('[PR2] reading an update once for admission (issue 12)', () => {
  it('[PR2] reads the structs and delete set Yjs decodes, or leaves the update to Yjs', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(edit, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 6 }),
        (batches) => {
          for (const update of sessionUpdates(batches)) {
            const reading = readUpdateShape(update, unbounded)
            if (reading?.kind === 'shape') expect(reading.shape).toEqual(shapeOf(Y.decodeUpdate(update)))
            expect(decodeUpdate(update, defaultLimits)).toEqual(decodedByYjs(update))
          }
        },
      ),
      { numRuns: 300, seed: 7 },
    )
  })

  it('[PR2] refuses damaged bytes exactly as a decode by Yjs does', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(edit, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 3 }),
        fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 3 }),
        fc.nat(),
        (batches, flips, cut) => {
          for (const update of sessionUpdates(batches)) {
            const damaged = update.slice()
            for (const flip of flips) damaged[flip.at % damaged.length] = flip.value
            for (const bytes of [damaged, update.subarray(0, cut % update.length)]) {
              expect(decodeUpdate(bytes, defaultLimits)).toEqual(decodedByYjs(bytes))
            }
          }
        },
      ),
      { numRuns: 300, seed: 11 },
    )
  })

  it('[PR2] reads keystrokes, deletions, map values and types without Yjs', () => {
    const doc = new Y.Doc()
    const updates: Uint8Array[] = []
    doc.on('update', (update: Uint8Array) => updates.push(update))
    const text = doc.getText('codemirror')
    text.insert(0, 'hello world')
    text.delete(2, 3)
    doc.getMap('m').set('k', { a: [1, 'x'] })
    doc.getMap('m').set('t', new Y.Text('nested'))
    doc.getMap('m').set('b', new Uint8Array([1, 2]))
    for (const update of [...updates, Y.encodeStateAsUpdate(doc)]) {
      expect(readUpdateShape(update, unbounded)?.kind).toBe('shape')
    }
  })
})
