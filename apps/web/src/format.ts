const relative = new Intl.RelativeTimeFormat('en', { numeric: 'auto' })

const units: Array<[Intl.RelativeTimeFormatUnit, number]> = [
  ['year', 365 * 24 * 3600_000],
  ['month', 30 * 24 * 3600_000],
  ['week', 7 * 24 * 3600_000],
  ['day', 24 * 3600_000],
  ['hour', 3600_000],
  ['minute', 60_000],
]

/** "just now", "5 minutes ago", "yesterday", "3 weeks ago"; "never" for a zero timestamp. */
export function formatRelativeTime(timestamp: number, now = Date.now()): string {
  if (timestamp <= 0) return 'never'
  const elapsed = now - timestamp
  // Clocks of server and browser differ a little; a timestamp slightly in the future is "just now" too.
  if (elapsed < 45_000) return 'just now'
  for (const [unit, size] of units) {
    if (elapsed >= size) return relative.format(-Math.floor(elapsed / size), unit)
  }
  return relative.format(-1, 'minute')
}

/** "820 B", "12.4 KB", "3.1 MB" (powers of 1024, as file managers show them). */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  const kb = bytes / 1024
  if (kb < 1024) return `${kb < 10 ? kb.toFixed(1) : Math.round(kb)} KB`
  const mb = kb / 1024
  return `${mb < 10 ? mb.toFixed(1) : Math.round(mb)} MB`
}
