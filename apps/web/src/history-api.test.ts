import { describe, expect, it } from 'vitest'
import { parseVersion } from './history-api.js'

describe('parseVersion', () => {
  const at = Date.UTC(2026, 11, 2, 10, 30)

  it('reads a version with an ISO time', () => {
    expect(
      parseVersion({ id: 'v1', at: new Date(at).toISOString(), name: 'Draft', authors: ['ada'], auto: false }),
    ).toEqual({ id: 'v1', at, name: 'Draft', authors: ['ada'], auto: false })
  })

  it('reads times in ms, in seconds and as numeric strings', () => {
    expect(parseVersion({ id: 1, at })?.at).toBe(at)
    expect(parseVersion({ id: 1, at: at / 1000 })?.at).toBe(at)
    expect(parseVersion({ id: 1, at: String(at) })?.at).toBe(at)
  })

  it('turns numeric ids into strings, an empty name into none, and author objects into names', () => {
    expect(
      parseVersion({ id: 42, at, name: '  ', authors: [{ id: 'u1', name: 'Ada' }, { id: 'u2' }, 7, 'u2'], auto: true }),
    ).toEqual({ id: '42', at, name: null, authors: ['Ada', 'u2'], auto: true })
  })

  it('refuses what has no id or no readable time', () => {
    expect(parseVersion({ at })).toBeNull()
    expect(parseVersion({ id: '', at })).toBeNull()
    expect(parseVersion({ id: 'v', at: 'yesterday-ish' })).toBeNull()
    expect(parseVersion({ id: 'v' })).toBeNull()
    expect(parseVersion(null)).toBeNull()
  })
})
