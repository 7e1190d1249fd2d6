import { ChangeSet } from '@codemirror/state'
import { describe, expect, it } from 'vitest'
import { OtLog, textOf } from '../src/index.js'

const insert = (length: number, from: number, text: string) => ChangeSet.of({ from, insert: text }, length, '\n')

function logWith(count: number, options = {}): OtLog {
  const log = new OtLog({ epoch: 'e', doc: textOf(''), version: 0 }, options)
  for (let i = 0; i < count; i++) log.append({ clientID: 'yjs', changes: insert(i, i, 'x'), at: i * 1000 })
  return log
}

describe('[OT3] [OT6] the OT log', () => {
  it('counts versions, keeps the text, and answers entries and lengths since a version', () => {
    const log = new OtLog({ epoch: 'e', doc: textOf('ab'), version: 5 })
    expect(log.append({ clientID: 'c', changes: insert(2, 1, 'X'), at: 0 })).toBe(6)
    expect(log.append({ clientID: 'yjs', changes: insert(3, 3, '\nY'), at: 0 })).toBe(7)
    expect(log.doc.toString()).toBe('aXb\nY')
    expect(log.floor).toBe(5)
    expect(log.entriesSince(5)?.map((e) => e.clientID)).toEqual(['c', 'yjs'])
    expect(log.entriesSince(7)).toEqual([])
    expect(log.entriesSince(4)).toBeNull()
    expect(log.entriesSince(8)).toBeNull()
    expect(log.entriesSince(5.5)).toBeNull()
    expect([4, 5, 6, 7, 8].map((v) => log.lengthAt(v))).toEqual([null, 2, 3, 5, null])
  })

  it('refuses entries and initial states that do not fit', () => {
    const log = new OtLog({ epoch: 'e', doc: textOf('ab'), version: 0 })
    expect(() => log.append({ clientID: 'c', changes: insert(3, 0, 'x'), at: 0 })).toThrow(RangeError)
    expect(
      () =>
        new OtLog({
          epoch: 'e',
          doc: textOf('ab'),
          version: 0,
          entries: [{ clientID: 'c', changes: insert(1, 0, 'x'), at: 0 }],
        }),
    ).toThrow(RangeError)
    expect(
      () =>
        new OtLog({
          epoch: 'e',
          doc: textOf('a'),
          version: 1,
          entries: [{ clientID: 'c', changes: insert(1, 0, 'x'), at: 0 }],
        }),
    ).toThrow(RangeError)
    const restored = new OtLog({
      epoch: 'e',
      doc: textOf('xa'),
      version: 9,
      entries: [{ clientID: 'c', changes: insert(1, 0, 'x'), at: 0 }],
    })
    expect(restored.floor).toBe(8)
    expect(restored.lengthAt(8)).toBe(1)
  })

  it('[OT6] keeps the last keepEntries and the young ones, and nothing above keepAbove', () => {
    const log = logWith(10, { keepEntries: 3, keepMs: 2500, maxEntries: 100 })
    // Entries are 0..9 s old at now = 9000: those at 7000, 8000, 9000 are younger than 2.5 s.
    expect(log.trim(9000, 4)).toBe(4)
    expect(log.floor).toBe(4)
    expect(log.trim(9000)).toBe(3)
    expect(log.floor).toBe(7)
    expect(log.trim(100_000)).toBe(0) // the last 3 stay
    expect(log.entriesSince(7)).toHaveLength(3)
  })

  it('[OT6] never holds more than maxEntries, whatever clients reported', () => {
    const log = logWith(10, { keepEntries: 3, keepMs: 1e9, maxEntries: 6 })
    expect(log.floor).toBe(4) // append drops past the hard bound
    expect(log.trim(0, 0)).toBe(0)
    expect(log.lengthAt(3)).toBeNull()
    expect(log.lengthAt(4)).toBe(4)
  })

  it('estimates its memory, growing with entries and shrinking when trimmed', () => {
    const log = logWith(50, { keepEntries: 1, keepMs: 0 })
    const before = log.size
    expect(before).toBeGreaterThan(50 * 100)
    log.trim(1e9)
    expect(log.size).toBeLessThan(before / 10)
  })
})

describe('[OT4] rebasing a push', () => {
  const setup = () => {
    const log = new OtLog({ epoch: 'e', doc: textOf('abc'), version: 0 })
    return log
  }

  it('moves pushed updates over each later entry, foreign insertions first at the same position', () => {
    const log = setup()
    log.append({ clientID: 'other', changes: insert(3, 1, 'O'), at: 0 })
    const pushed = [insert(3, 1, 'P'), insert(4, 4, 'Q')]
    const rebased = log.rebase('me', 0, pushed)
    expect(rebased).not.toBeNull()
    let doc = log.doc
    for (const changes of rebased ?? []) doc = changes.apply(doc)
    expect(doc.toString()).toBe('aOPbcQ')
  })

  it('skips the updates of a resent push that are already in the log, matched in order', () => {
    const log = setup()
    const mine = [insert(3, 0, 'A'), insert(4, 4, 'B')]
    log.append({ clientID: 'other', changes: insert(3, 3, 'O'), at: 0 })
    for (const changes of log.rebase('me', 0, mine) ?? []) log.append({ clientID: 'me', changes, at: 0 })
    expect(log.doc.toString()).toBe('AabcOB')
    // The confirmation got lost; the client resends both with a third one.
    const again = log.rebase('me', 0, [...mine, insert(5, 5, 'C')])
    expect(again).toHaveLength(1)
    expect(again?.[0]?.apply(log.doc).toString()).toBe('AabcOBC')
    expect(log.rebase('me', 0, mine)).toEqual([])
    // Another client's identical-looking entries are not taken for ours.
    expect(log.rebase('you', 0, mine)).toHaveLength(2)
  })

  it('returns null below the floor and refuses updates that do not fit the base version', () => {
    const log = logWith(5, { keepEntries: 2, keepMs: 0 })
    log.trim(1e9)
    expect(log.rebase('me', 2, [ChangeSet.empty(2)])).toBeNull()
    expect(log.rebase('me', 3, [ChangeSet.empty(3)])).toHaveLength(1)
    expect(() => log.rebase('me', 3, [ChangeSet.empty(4)])).toThrow(RangeError)
  })
})
