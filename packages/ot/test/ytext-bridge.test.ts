import { ChangeSet, type Text } from '@codemirror/state'
import { createRandom } from '@collab/test-support'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { applyChangesToYText, changesBetween, deltaToChanges, reconcileWithYText, textOf } from '../src/index.js'

const fragments = ['a', 'bc', '\n', '\r\n', '\r', '😀', '👍🏽', 'é', ' ']

/** A Y.Text and an OT text that follows it through the observer, as the server keeps its log. */
function tracked(initial: string) {
  const doc = new Y.Doc()
  const ytext = doc.getText('codemirror')
  ytext.insert(0, initial)
  const mirror = { text: textOf(initial), entries: 0 }
  ytext.observe((event, transaction) => {
    const changes = deltaToChanges(event.delta, mirror.text.length)
    mirror.text = reconcileWithYText(changes, mirror.text, ytext, transaction).apply(mirror.text)
    mirror.entries++
  })
  return { doc, ytext, mirror }
}

describe('the Y.Text bridge', () => {
  it('turns a delta into a change set, keeping "\\r" as a character', () => {
    const before = textOf('ab\r\ncd')
    const changes = deltaToChanges(
      [{ retain: 1 }, { delete: 1 }, { insert: 'X\r\nY' }, { retain: 2 }, { insert: 'Z' }],
      before.length,
    )
    expect(changes.apply(before).toString()).toBe('aX\r\nY\r\nZcd')
    expect(() => deltaToChanges([{ retain: 7 }], before.length)).toThrow(RangeError)
    expect(() => deltaToChanges([{ insert: { image: 'x' } }], before.length)).toThrow(RangeError)
  })

  it('makes one replacement of an adjacent insert and delete, in either order, like a client would', () => {
    const client = ChangeSet.of({ from: 1, to: 3, insert: 'x' }, 5, '\n').toJSON()
    expect(deltaToChanges([{ retain: 1 }, { insert: 'x' }, { delete: 2 }], 5).toJSON()).toEqual(client)
    expect(deltaToChanges([{ retain: 1 }, { delete: 2 }, { insert: 'x' }], 5).toJSON()).toEqual(client)
  })

  it('follows random Yjs transactions exactly, emoji and "\\r\\n" and split pairs included', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const random = createRandom(seed)
      const { doc, ytext, mirror } = tracked('x😀y\r\nz')
      const remote = new Y.Doc()
      Y.applyUpdate(remote, Y.encodeStateAsUpdate(doc))
      const remoteText = remote.getText('codemirror')
      for (let step = 0; step < 30; step++) {
        // Half the edits come from another Y.Doc, so they integrate as remote updates.
        const [target, text] = random() < 0.5 ? [doc, ytext] : [remote, remoteText]
        target.transact(() => {
          const edits = 1 + Math.floor(random() * 3)
          for (let i = 0; i < edits; i++) {
            const pos = Math.floor(random() * (text.length + 1))
            if (random() < 0.4 && pos < text.length)
              text.delete(pos, Math.min(text.length - pos, 1 + Math.floor(random() * 3)))
            else text.insert(pos, fragments[Math.floor(random() * fragments.length)] as string)
          }
        })
        if (random() < 0.5) {
          Y.applyUpdate(doc, Y.encodeStateAsUpdate(remote, Y.encodeStateVector(doc)))
          Y.applyUpdate(remote, Y.encodeStateAsUpdate(doc, Y.encodeStateVector(remote)))
        }
        expect(mirror.text.toString(), `seed ${seed} step ${step}`).toBe(ytext.toString())
      }
    }
  })

  it('[OT5] puts the U+FFFD that Yjs writes into a split surrogate pair into the entry', () => {
    const { ytext, mirror } = tracked('a😀b')
    ytext.insert(2, 'X')
    // Yjs replaced both halves; the delta only said "insert X at 2".
    expect(ytext.toString()).toBe('a\ufffdX\ufffdb')
    expect(mirror.text.toString()).toBe('a\ufffdX\ufffdb')
  })

  it('[OT5] repairs a pair split by a remote Yjs client, and by a deletion of one half', () => {
    const { doc, ytext, mirror } = tracked('😀😀')
    const remote = new Y.Doc()
    Y.applyUpdate(remote, Y.encodeStateAsUpdate(doc))
    remote.getText('codemirror').insert(1, 'r')
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(remote, Y.encodeStateVector(doc)))
    expect(ytext.toString()).toBe('\ufffdr\ufffd😀')
    ytext.delete(4, 1)
    expect(ytext.toString()).toBe('\ufffdr\ufffd\ufffd')
    expect(mirror.text.toString()).toBe(ytext.toString())
  })

  it('reads the Y.Text only when an edit touches a surrogate', () => {
    const { ytext } = tracked('plain 😀 text')
    let reads = 0
    const original = ytext.toString.bind(ytext)
    ytext.toString = () => {
      reads++
      return original()
    }
    const before: Text = textOf(original())
    const changes = ChangeSet.of({ from: 1, insert: 'x' }, before.length, '\n')
    expect(reconcileWithYText(changes, before, ytext)).toBe(changes)
    expect(reads).toBe(0)
    reconcileWithYText(ChangeSet.of({ from: 6, insert: 'x' }, before.length, '\n'), before, ytext)
    expect(reads).toBe(1)
  })

  it('applies change sets to a Y.Text as one transaction that equals changes.apply', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const random = createRandom(seed)
      const { doc, ytext, mirror } = tracked('one\r\ntwo 😀\nthree')
      let text = textOf(ytext.toString())
      const specs = []
      for (let i = 0, n = 1 + Math.floor(random() * 4); i < n; i++) {
        const from = Math.floor(random() * (text.length + 1))
        const to = Math.min(text.length, from + Math.floor(random() * 3))
        specs.push({
          from,
          to,
          insert: random() < 0.6 ? (fragments[Math.floor(random() * fragments.length)] as string) : '',
        })
      }
      // ChangeSet.of takes overlapping specs apart as sequential edits; all positions refer to `text`.
      const changes = ChangeSet.of(specs, text.length, '\n')
      const entries = mirror.entries
      doc.transact(() => applyChangesToYText(ytext, changes))
      text = changes.apply(text)
      // Boundaries inside pairs are refused before this in the server; here they may happen, so compare Yjs' view.
      expect(mirror.entries - entries, `seed ${seed}`).toBe(changes.empty ? 0 : 1)
      expect(mirror.text.toString(), `seed ${seed}`).toBe(ytext.toString())
      if (!/[\ud800-\udfff]/.test(text.toString()) || text.toString() === ytext.toString()) continue
      // The only difference Yjs may make is U+FFFD for halves an edit boundary split.
      expect(ytext.toString().length).toBe(text.length)
    }
  })

  it('changesBetween never cuts a surrogate pair', () => {
    const cases: Array<[string, string]> = [
      ['a😀b', 'a😁b'],
      ['a😀b', 'a😀😀b'],
      ['😀x', '😀'],
      ['x😀', '😀'],
      ['a\ud83d\ude00', 'a\ufffd\ufffd'],
      ['', 'x'],
      ['same', 'same'],
    ]
    for (const [a, b] of cases) {
      const changes = changesBetween(a, b)
      expect(changes.apply(textOf(a)).toString()).toBe(b)
      changes.iterChanges((fromA, toA, _fromB, _toB, inserted) => {
        for (const pos of [fromA, toA])
          expect(/[\ud800-\udbff]$/.test(a.slice(0, pos)) && /^[\udc00-\udfff]/.test(a.slice(pos))).toBe(false)
        expect(inserted.toString()).not.toMatch(/^[\udc00-\udfff]|[\ud800-\udbff]$/)
      })
    }
  })
})
