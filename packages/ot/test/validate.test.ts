import { ChangeSet } from '@codemirror/state'
import { describe, expect, it } from 'vitest'
import { checkPushedChanges, otLimits, splitsSurrogatePair, textOf } from '../src/index.js'

const refused = (updates: unknown[], baseLength: number) => {
  const checked = checkPushedChanges(
    updates.map((changes) => ({ changes })),
    baseLength,
  )
  expect(checked.ok).toBe(false)
  return checked.ok ? '' : checked.error
}

describe('[OT5] checking pushed change sets', () => {
  it('accepts valid change sets and builds what ChangeSet.fromJSON builds', () => {
    const doc = textOf('héllo 😀\nworld')
    const a = ChangeSet.of(
      [
        { from: 1, to: 3, insert: 'x\ny' },
        { from: 6, insert: '👍🏽' },
      ],
      doc.length,
      '\n',
    )
    const b = ChangeSet.of({ from: 0, to: 2, insert: '\r\n' }, a.newLength, '\n')
    const checked = checkPushedChanges([{ changes: a.toJSON() }, { changes: b.toJSON() }], doc.length)
    expect(checked).toEqual({ ok: true, changes: [ChangeSet.fromJSON(a.toJSON()), ChangeSet.fromJSON(b.toJSON())] })
    if (checked.ok)
      expect(checked.changes[1]!.apply(checked.changes[0]!.apply(doc)).toString()).toBe(
        b.apply(a.apply(doc)).toString(),
      )
  })

  it('accepts an empty push and an empty change set', () => {
    expect(checkPushedChanges([], 5)).toEqual({ ok: true, changes: [] })
    expect(checkPushedChanges([{ changes: [5] }], 5).ok).toBe(true)
    expect(checkPushedChanges([{ changes: [] }], 0).ok).toBe(true)
  })

  it.each<[string, unknown, number, RegExp]>([
    ['a negative retain', [-1, 4], 3, /retained length -1/],
    ['a fractional retain', [1.5, 1.5], 3, /retained length 1.5/],
    ['a NaN retain', [Number.NaN], 0, /retained length NaN/],
    ['a negative deletion', [[-1, 'a'], 4], 3, /deleted length -1/],
    ['a fractional deletion', [[0.5, 'a'], 2.5], 3, /deleted length 0.5/],
    ['a string deletion', [['1', 'a'], 2], 3, /deleted length 1/],
    ['a line containing a line break', [[0, 'a\nb'], 3], 3, /line break/],
    ['a lone high surrogate', [[0, 'a\ud83d'], 3], 3, /lone surrogate/],
    ['a lone low surrogate', [[0, '\ude00'], 3], 3, /lone surrogate/],
    ['a pair split across lines', [[0, '\ud83d', '\ude00'], 3], 3, /lone surrogate/],
    ['a non-string line', [[0, 1], 3], 3, /not a string/],
    ['an empty section', [[], 3], 3, /neither a length nor an array/],
    ['a section that changes nothing', [[0], 3], 3, /neither deletes nor inserts/],
    ['an object section', [{}, 3], 3, /neither a length nor an array/],
    ['changes that are not an array', { 0: 3 }, 3, /not an array/],
    ['too short for the document', [2], 3, /length 2, not 3/],
    ['too long for the document', [[4]], 3, /length 4, not 3/],
  ])('refuses %s', (_what, changes, baseLength, error) => {
    expect(refused([changes], baseLength)).toMatch(error)
  })

  it('refuses updates whose lengths do not chain', () => {
    // The first leaves length 4; the second claims length 3.
    expect(refused([[[0, 'a'], 3], [3]], 3)).toMatch(/^update 1: .*length 3, not 4/)
    expect(checkPushedChanges([{ changes: [[0, 'a'], 3] }, { changes: [4] }], 3).ok).toBe(true)
  })

  it('refuses a push over the caps', () => {
    const sections = Array(otLimits.maxSectionsPerPush + 1).fill(0)
    expect(refused([sections], 0)).toMatch(/sections/)
    const big = 'x'.repeat(otLimits.maxInsertedPerPush / 2)
    expect(checkPushedChanges([{ changes: [[0, big]] }, { changes: [big.length, [0, big]] }], 0).ok).toBe(true)
    expect(refused([[[0, big]], [big.length, [0, `${big}x`]]], 0)).toMatch(/inserted characters/)
    // Line breaks count as inserted text too.
    expect(refused([[[0, ...Array(otLimits.maxInsertedPerPush + 2).fill('')]]], 0)).toMatch(/inserted/)
    expect(refused(Array(otLimits.maxUpdatesPerPush + 1).fill([]), 0)).toMatch(/updates/)
  })

  it('finds edit boundaries between the halves of a surrogate pair', () => {
    const doc = textOf('a😀b')
    const at = (spec: { from: number; to?: number; insert?: string }) =>
      splitsSurrogatePair(ChangeSet.of(spec, doc.length, '\n'), doc)
    expect(at({ from: 2, insert: 'x' })).toBe(true)
    expect(at({ from: 0, to: 2 })).toBe(true)
    expect(at({ from: 2, to: 4 })).toBe(true)
    expect(at({ from: 1, insert: 'x' })).toBe(false)
    expect(at({ from: 3, insert: 'x' })).toBe(false)
    expect(at({ from: 1, to: 3, insert: '👍' })).toBe(false)
    expect(at({ from: 0, to: 4 })).toBe(false)
    expect(() => splitsSurrogatePair(ChangeSet.empty(3), doc)).toThrow(RangeError)
  })
})
