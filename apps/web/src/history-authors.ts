import type { AuthorRun } from './history-api.js'
import { diffTexts } from './history-diff.js'
import { palette } from './identity.js'

/**
 * A stretch of the current text and who wrote it. `recent` marks text written after the version the attribution
 * comes from: the server has not attributed it yet (it will in the next version), so it is shown apart.
 */
export interface AttributedRun {
  text: string
  user: string | null
  recent: boolean
}

/**
 * Who wrote each part of `current`, from the author runs of a version (the newest one). Text the version shares
 * with `current` keeps its author; text added since is `recent`; text deleted since is dropped. When the version
 * is the current text, which an automatic version made after a burst of typing usually is, every run is exact.
 */
export function attributeText(runs: readonly AuthorRun[], current: string): AttributedRun[] {
  const out: AttributedRun[] = []
  const add = (text: string, user: string | null, recent: boolean) => {
    if (text === '') return
    const last = out[out.length - 1]
    if (last && last.user === user && last.recent === recent) last.text += text
    else out.push({ text, user, recent })
  }
  // Walks the version's runs while the comparison consumes the version's text.
  let runIndex = 0
  let runOffset = 0
  const take = (length: number, keep: boolean) => {
    let left = length
    while (left > 0) {
      const run = runs[runIndex]
      if (!run) throw new RangeError(`Author runs end ${left} characters before the version's text`)
      const piece = Math.min(left, run.text.length - runOffset)
      if (keep) add(run.text.slice(runOffset, runOffset + piece), run.user, false)
      left -= piece
      runOffset += piece
      if (runOffset === run.text.length) {
        runIndex++
        runOffset = 0
      }
    }
  }
  const versionText = runs.map((run) => run.text).join('')
  for (const segment of diffTexts(versionText, current)) {
    if (segment.kind === 'insert') add(segment.text, null, true)
    else take(segment.text.length, segment.kind === 'same')
  }
  return out
}

/** How many characters of `runs` each author wrote, most first; `null` gathers text without a known author. */
export function authorShares(runs: readonly AttributedRun[]): Array<{ user: string | null; chars: number }> {
  const chars = new Map<string | null, number>()
  for (const run of runs) {
    if (run.recent) continue
    chars.set(run.user, (chars.get(run.user) ?? 0) + run.text.length)
  }
  return [...chars].map(([user, count]) => ({ user, chars: count })).sort((a, b) => b.chars - a.chars)
}

/** The colour of text and avatars without a known author. */
export const unknownAuthorColor = '#8a94a6'

/**
 * A colour for each user: the palette users pick their cursor colour from, chosen by a hash of the user's id, so
 * the same person keeps the same colour in the list, the authors view and the next visit. Two users of one set
 * never share a colour while the palette lasts: a taken colour passes to the next free one. (Users are token
 * subjects; the colour someone picked for their cursor is not tied to their account, so it cannot be used here.)
 */
export function authorColors(users: Iterable<string>): Map<string, string> {
  const sorted = [...new Set(users)].sort((a, b) => hashOf(a) - hashOf(b) || (a < b ? -1 : a > b ? 1 : 0))
  const taken = new Set<number>()
  const colors = new Map<string, string>()
  for (const user of sorted) {
    let index = hashOf(user) % palette.length
    for (let tries = 0; tries < palette.length && taken.has(index); tries++) index = (index + 1) % palette.length
    taken.add(index)
    colors.set(user, palette[index]?.color ?? unknownAuthorColor)
  }
  return colors
}

/** FNV-1a over the UTF-16 code units: fast, and spreads short similar ids ("user-1", "user-2") well. */
function hashOf(text: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}
