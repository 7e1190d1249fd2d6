import { describe, expect, it } from 'vitest'
import { lightColor, toAwarenessUser } from './user.js'

describe('toAwarenessUser', () => {
  it('adds the translucent selection colour y-codemirror.next reads', () => {
    expect(toAwarenessUser({ name: 'Teal Heron', color: '#2f80ed' })).toEqual({
      name: 'Teal Heron',
      color: '#2f80ed',
      colorLight: '#2f80ed33',
    })
  })

  it('trims the name', () => {
    expect(toAwarenessUser({ name: '  Ada  ', color: '#123' }).name).toBe('Ada')
  })

  it('refuses an empty name or colour with a RangeError naming the value', () => {
    expect(() => toAwarenessUser({ name: ' ', color: '#2f80ed' })).toThrow(RangeError)
    expect(() => toAwarenessUser({ name: 'Ada', color: '' })).toThrow(/Invalid user colour ""/)
  })
})

describe('lightColor', () => {
  it('appends an alpha digit pair to long hex colours and one digit to short ones', () => {
    expect(lightColor('#aabbcc')).toBe('#aabbcc33')
    expect(lightColor('#abc')).toBe('#abc3')
  })

  it('uses color-mix for any other CSS colour', () => {
    expect(lightColor('rebeccapurple')).toBe('color-mix(in srgb, rebeccapurple 20%, transparent)')
  })
})
