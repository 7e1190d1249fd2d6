import { describe, expect, it } from 'vitest'
import { attributeText, authorColors, authorShares } from './history-authors.js'
import { palette } from './identity.js'

describe('attributeText', () => {
  it('keeps the authors of what the version and the current text share, and marks what came since', () => {
    const runs = [
      { text: 'Hello ', user: 'ada' },
      { text: 'old world', user: 'grace' },
    ]
    expect(attributeText(runs, 'Hello brave new world!')).toEqual([
      { text: 'Hello ', user: 'ada', recent: false },
      { text: 'brave new ', user: null, recent: true },
      { text: 'world', user: 'grace', recent: false },
      { text: '!', user: null, recent: true },
    ])
  })

  it('is exact when the version is the current text', () => {
    const runs = [
      { text: 'one ', user: 'ada' },
      { text: 'two', user: null },
      { text: ' three', user: 'ada' },
    ]
    expect(attributeText(runs, 'one two three')).toEqual(runs.map((run) => ({ ...run, recent: false })))
  })

  it('marks everything recent without a version', () => {
    expect(attributeText([], 'fresh')).toEqual([{ text: 'fresh', user: null, recent: true }])
  })
})

describe('authorShares', () => {
  it('counts characters per author, most first, leaving out unattributed recent text', () => {
    const shares = authorShares([
      { text: 'ab', user: 'ada', recent: false },
      { text: 'cdef', user: 'grace', recent: false },
      { text: 'g', user: 'ada', recent: false },
      { text: 'zzzzzzzz', user: null, recent: true },
    ])
    expect(shares).toEqual([
      { user: 'grace', chars: 4 },
      { user: 'ada', chars: 3 },
    ])
  })
})

describe('authorColors', () => {
  it('gives each user a palette colour, the same one whatever the order', () => {
    const a = authorColors(['ada', 'grace', 'linus'])
    const b = authorColors(['linus', 'ada', 'grace', 'ada'])
    expect(a).toEqual(b)
    for (const color of a.values()) expect(palette.map((entry) => entry.color)).toContain(color)
  })

  it('never gives two users of one set the same colour while the palette lasts', () => {
    const users = Array.from({ length: palette.length }, (_, i) => `user-${i}`)
    expect(new Set(authorColors(users).values()).size).toBe(palette.length)
  })
})
