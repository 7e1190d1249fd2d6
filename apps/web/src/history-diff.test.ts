import { createRandom } from '@collab/test-support'
import { describe, expect, it } from 'vitest'
import { countChanges, type DiffSegment, diffTexts } from './history-diff.js'

const older = (segments: DiffSegment[]) =>
  segments
    .filter((s) => s.kind !== 'insert')
    .map((s) => s.text)
    .join('')
const newer = (segments: DiffSegment[]) =>
  segments
    .filter((s) => s.kind !== 'delete')
    .map((s) => s.text)
    .join('')

describe('diffTexts', () => {
  it('compares words, not letters', () => {
    expect(diffTexts('the cat sat down', 'the dog sat down')).toEqual([
      { kind: 'same', text: 'the ' },
      { kind: 'delete', text: 'cat' },
      { kind: 'insert', text: 'dog' },
      { kind: 'same', text: ' sat down' },
    ])
  })

  it('keeps unchanged lines whole around an inserted line', () => {
    expect(diffTexts('one\ntwo\nthree\n', 'one\ntwo\nand a half\nthree\n')).toEqual([
      { kind: 'same', text: 'one\ntwo\n' },
      { kind: 'insert', text: 'and a half\n' },
      { kind: 'same', text: 'three\n' },
    ])
  })

  it('shows a rewritten phrase as one change, not word swaps around kept spaces', () => {
    const segments = diffTexts('Intro: the cat sat. End', 'Intro: a dog ran. End')
    expect(segments).toEqual([
      { kind: 'same', text: 'Intro: ' },
      { kind: 'delete', text: 'the cat sat' },
      { kind: 'insert', text: 'a dog ran' },
      { kind: 'same', text: '. End' },
    ])
    expect(countChanges(segments)).toBe(1)
  })

  it('keeps changes on different lines apart, even with little shared between them', () => {
    const segments = diffTexts('Grace.\n\nRisks: none known yet.\n', 'Grace and Linus.\n\nRisks: the server API.\n')
    expect(segments).toEqual([
      { kind: 'same', text: 'Grace' },
      { kind: 'insert', text: ' and Linus' },
      { kind: 'same', text: '.\n\nRisks: ' },
      { kind: 'delete', text: 'none known yet' },
      { kind: 'insert', text: 'the server API' },
      { kind: 'same', text: '.\n' },
    ])
  })

  it('never splits a surrogate pair', () => {
    const segments = diffTexts('smile 😀 now', 'smile 😃 now')
    expect(segments).toContainEqual({ kind: 'delete', text: '😀' })
    expect(segments).toContainEqual({ kind: 'insert', text: '😃' })
  })

  it('handles empty sides and equal texts', () => {
    expect(diffTexts('', '')).toEqual([])
    expect(diffTexts('same', 'same')).toEqual([{ kind: 'same', text: 'same' }])
    expect(diffTexts('', 'new text')).toEqual([{ kind: 'insert', text: 'new text' }])
    expect(diffTexts('old text', '')).toEqual([{ kind: 'delete', text: 'old text' }])
  })

  it('counts separate changes once each', () => {
    const segments = diffTexts('a b c d e', 'a X c d Y')
    expect(countChanges(segments)).toBe(2)
  })

  it('shows texts too different for a fine comparison as one replacement, still exact', () => {
    const random = createRandom(7)
    const words = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 1e9).toString(36)).join(' ')
    const a = words(3_000)
    const b = words(3_000)
    const segments = diffTexts(a, b)
    expect(older(segments)).toBe(a)
    expect(newer(segments)).toBe(b)
  })

  it('spells both texts back exactly for random edits (seeded)', () => {
    const vocabulary = ['alpha', 'beta', 'gamma', ' ', ' ', '\n', '.', ',', '😀', 'é', 'delta', '  ', 'x']
    for (let seed = 1; seed <= 200; seed++) {
      const random = createRandom(seed)
      const pick = () => vocabulary[Math.floor(random() * vocabulary.length)] as string
      const base = Array.from({ length: Math.floor(random() * 60) }, pick).join('')
      let edited = base
      for (let edit = Math.floor(random() * 6); edit > 0; edit--) {
        const at = Math.floor(random() * (edited.length + 1))
        const cut = Math.floor(random() * 6)
        const safeAt = at > 0 && /[\udc00-\udfff]/.test(edited[at] ?? '') ? at - 1 : at
        const end = Math.min(edited.length, safeAt + cut)
        const safeEnd = /[\udc00-\udfff]/.test(edited[end] ?? '') ? end + 1 : end
        edited = edited.slice(0, safeAt) + (random() < 0.7 ? pick() + pick() : '') + edited.slice(safeEnd)
      }
      const segments = diffTexts(base, edited)
      expect(older(segments), `seed ${seed}`).toBe(base)
      expect(newer(segments), `seed ${seed}`).toBe(edited)
      // Normalized: no empty segments, no two neighbours of the same kind, a deletion before its insertion.
      for (const [i, segment] of segments.entries()) {
        expect(segment.text, `seed ${seed}`).not.toBe('')
        expect(segments[i + 1]?.kind, `seed ${seed}`).not.toBe(segment.kind)
        if (segment.kind === 'insert') expect(segments[i + 1]?.kind, `seed ${seed}`).not.toBe('delete')
      }
    }
  })
})
