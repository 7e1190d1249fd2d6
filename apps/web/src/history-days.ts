import type { VersionSummary } from './history-api.js'

/** The versions of one calendar day (the browser's time zone), newest first. */
export interface VersionDay {
  /** `YYYY-MM-DD`, stable across renders. */
  key: string
  /** "Today", "Yesterday", "Monday, 30 November", or with the year when it is not this year. */
  label: string
  versions: VersionSummary[]
}

/** Groups versions (newest first) by the local calendar day they were made on, days newest first. */
export function groupByDay(versions: readonly VersionSummary[], now = Date.now(), locale?: string): VersionDay[] {
  const days: VersionDay[] = []
  for (const version of [...versions].sort((a, b) => b.at - a.at)) {
    const key = dayKey(version.at)
    const last = days[days.length - 1]
    if (last?.key === key) last.versions.push(version)
    else days.push({ key, label: dayLabel(version.at, now, locale), versions: [version] })
  }
  return days
}

/** "Today", "Yesterday", "Monday, 30 November" (this year) or "Monday, 30 November 2025". */
export function dayLabel(at: number, now = Date.now(), locale?: string): string {
  const key = dayKey(at)
  if (key === dayKey(now)) return 'Today'
  const yesterday = new Date(now)
  yesterday.setDate(yesterday.getDate() - 1)
  if (key === dayKey(yesterday.getTime())) return 'Yesterday'
  const sameYear = new Date(at).getFullYear() === new Date(now).getFullYear()
  return new Intl.DateTimeFormat(locale, {
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    ...(!sameYear && { year: 'numeric' }),
  }).format(at)
}

/** The time of day of a version: "10:32 AM" or "10:32", as the browser's locale writes it. */
export function timeLabel(at: number, locale?: string): string {
  return new Intl.DateTimeFormat(locale, { hour: 'numeric', minute: '2-digit' }).format(at)
}

/** Day and time, for titles and the preview's heading: "Wed, 2 Dec, 10:32". */
export function dateTimeLabel(at: number, locale?: string): string {
  return new Intl.DateTimeFormat(locale, {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    hour: 'numeric',
    minute: '2-digit',
  }).format(at)
}

/** What to call a version in the list: its name, or what kind of version it is. */
export function versionTitle(version: VersionSummary): string {
  if (version.name !== null) return version.name
  return version.auto ? 'Automatic version' : 'Version'
}

/** "Ada", "Ada and Grace", "Ada, Grace and 3 others"; "No signed-in author" for none. */
export function authorsLabel(authors: readonly string[]): string {
  if (authors.length === 0) return 'No signed-in author'
  if (authors.length === 1) return authors[0] as string
  if (authors.length === 2) return `${authors[0]} and ${authors[1]}`
  const others = authors.length - 2
  return `${authors[0]}, ${authors[1]} and ${others} other${others === 1 ? '' : 's'}`
}

function dayKey(at: number): string {
  const date = new Date(at)
  const month = String(date.getMonth() + 1).padStart(2, '0')
  const day = String(date.getDate()).padStart(2, '0')
  return `${date.getFullYear()}-${month}-${day}`
}
