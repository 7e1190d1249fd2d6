import { describe, expect, it } from 'vitest'
import type { VersionSummary } from './history-api.js'
import { authorsLabel, dayLabel, groupByDay, versionTitle } from './history-days.js'

const version = (id: string, at: number, extra: Partial<VersionSummary> = {}): VersionSummary => ({
  id,
  at,
  name: null,
  authors: [],
  auto: true,
  ...extra,
})

describe('groupByDay', () => {
  // Local times: days are the browser's calendar days.
  const now = new Date(2026, 11, 2, 15, 0).getTime()

  it('groups by local day, newest day and newest version first, with Today and Yesterday', () => {
    const days = groupByDay(
      [
        version('a', new Date(2026, 11, 1, 23, 59).getTime()),
        version('b', new Date(2026, 11, 2, 0, 1).getTime()),
        version('c', new Date(2026, 11, 2, 14, 0).getTime()),
        version('d', new Date(2026, 10, 30, 9, 0).getTime()),
      ],
      now,
      'en-GB',
    )
    expect(days.map((day) => [day.label, day.versions.map((v) => v.id)])).toEqual([
      ['Today', ['c', 'b']],
      ['Yesterday', ['a']],
      [dayLabel(new Date(2026, 10, 30).getTime(), now, 'en-GB'), ['d']],
    ])
    expect(days[2]?.label).toMatch(/Monday,? 30 November$/)
  })

  it('names the year of a day in another year', () => {
    expect(dayLabel(new Date(2025, 5, 1).getTime(), now, 'en-GB')).toMatch(/1 June 2025$/)
  })
})

describe('labels', () => {
  it('calls a version by its name, or by what kind it is', () => {
    expect(versionTitle(version('a', 1, { name: 'Final' }))).toBe('Final')
    expect(versionTitle(version('a', 1))).toBe('Automatic version')
    expect(versionTitle(version('a', 1, { auto: false }))).toBe('Version')
  })

  it('lists authors briefly', () => {
    expect(authorsLabel([])).toBe('No signed-in author')
    expect(authorsLabel(['ada'])).toBe('ada')
    expect(authorsLabel(['ada', 'grace'])).toBe('ada and grace')
    expect(authorsLabel(['ada', 'grace', 'linus'])).toBe('ada, grace and 1 other')
    expect(authorsLabel(['ada', 'grace', 'linus', 'ken'])).toBe('ada, grace and 2 others')
  })
})
