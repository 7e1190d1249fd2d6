import { ChangeSet, type Text } from '@codemirror/state'
import { isHighSurrogate, isLowSurrogate } from './text.js'

/**
 * Most edits {@link changesBetween} searches for a minimal difference (Myers' O((N+M)D) algorithm, with D^2 memory):
 * beyond it the texts are too different for positions inside them to mean much, and one replacement between the
 * common prefix and suffix stands for the whole difference.
 */
const maxEdits = 1_500

/** One replacement: `a[aFrom, aTo)` becomes `b[bFrom, bTo)`. */
interface Hunk {
  aFrom: number
  aTo: number
  bFrom: number
  bTo: number
}

/**
 * A change set that turns `from` into `to`, as small as a character diff finds it, with no edit boundary between
 * the halves of a surrogate pair of either (so it passes [OT5] and never makes Yjs replace anything with U+FFFD).
 *
 * An OT client that gets the whole text in a `welcome` ([OT6]) rebases its unconfirmed updates over
 * `changesBetween(lastConfirmedText, newText)`. A minimal difference matters there: a position in text both sides
 * share maps to the same place in the new text, while one replacement spanning from the first to the last
 * difference would move every unconfirmed edit inside that span to its edge, into the middle of someone else's word.
 */
export function changesBetween(from: Text | string, to: Text | string): ChangeSet {
  const a = typeof from === 'string' ? from : from.toString()
  const b = typeof to === 'string' ? to : to.toString()
  let prefix = 0
  while (prefix < a.length && prefix < b.length && a.charCodeAt(prefix) === b.charCodeAt(prefix)) prefix++
  let suffix = 0
  while (
    suffix < a.length - prefix &&
    suffix < b.length - prefix &&
    a.charCodeAt(a.length - 1 - suffix) === b.charCodeAt(b.length - 1 - suffix)
  ) {
    suffix++
  }
  const span: Hunk = { aFrom: prefix, aTo: a.length - suffix, bFrom: prefix, bTo: b.length - suffix }
  const hunks = myers(a, b, span) ?? [span]
  const safe = mergeOverlapping(hunks.map((hunk) => widen(a, b, hunk)))
  return ChangeSet.of(
    safe.map((hunk) => ({ from: hunk.aFrom, to: hunk.aTo, insert: b.slice(hunk.bFrom, hunk.bTo) })),
    a.length,
    '\n',
  )
}

/**
 * The hunks of a shortest edit script between `a[span.aFrom, span.aTo)` and `b[span.bFrom, span.bTo)`, or null when
 * it needs more than {@link maxEdits} edits.
 */
function myers(a: string, b: string, span: Hunk): Hunk[] | null {
  const n = span.aTo - span.aFrom
  const m = span.bTo - span.bFrom
  if (n === 0 && m === 0) return []
  if (n === 0 || m === 0) return [span]
  const max = Math.min(n + m, maxEdits)
  // trace[d][k + d] = the furthest x on diagonal k after d edits (x: offset into a's span, y = x - k into b's).
  const trace: Int32Array[] = []
  let previous = new Int32Array(1)
  for (let d = 0; d <= max; d++) {
    const current = new Int32Array(2 * d + 1)
    for (let k = -d; k <= d; k += 2) {
      // Index into `previous`, which covers diagonals -(d-1)..d-1.
      const down = k === -d || (k !== d && (previous[k - 1 + d - 1] ?? 0) < (previous[k + 1 + d - 1] ?? 0))
      let x = d === 0 ? 0 : down ? (previous[k + 1 + d - 1] ?? 0) : (previous[k - 1 + d - 1] ?? 0) + 1
      let y = x - k
      while (x < n && y < m && a.charCodeAt(span.aFrom + x) === b.charCodeAt(span.bFrom + y)) {
        x++
        y++
      }
      current[k + d] = x
      if (x >= n && y >= m) {
        trace.push(current)
        return backtrack(trace, n, m, span)
      }
    }
    trace.push(current)
    previous = current
  }
  return null
}

/** Walks the trace back from (n, m) and joins adjacent edits into hunks. */
function backtrack(trace: Int32Array[], n: number, m: number, span: Hunk): Hunk[] {
  const edits: Hunk[] = []
  let x = n
  let y = m
  for (let d = trace.length - 1; d > 0; d--) {
    const previous = trace[d - 1] as Int32Array
    const k = x - y
    const down = k === -d || (k !== d && (previous[k - 1 + d - 1] ?? 0) < (previous[k + 1 + d - 1] ?? 0))
    const prevK = down ? k + 1 : k - 1
    const prevX = previous[prevK + d - 1] ?? 0
    const prevY = prevX - prevK
    // Down: b[prevY] is inserted at a's prevX. Right: a[prevX] is deleted.
    edits.push(
      down
        ? { aFrom: prevX, aTo: prevX, bFrom: prevY, bTo: prevY + 1 }
        : { aFrom: prevX, aTo: prevX + 1, bFrom: prevY, bTo: prevY },
    )
    x = prevX
    y = prevY
  }
  const hunks: Hunk[] = []
  for (const edit of edits.reverse()) {
    const last = hunks[hunks.length - 1]
    if (last && last.aTo === edit.aFrom && last.bTo === edit.bFrom) {
      last.aTo = edit.aTo
      last.bTo = edit.bTo
    } else hunks.push({ ...edit })
  }
  return hunks.map((hunk) => ({
    aFrom: span.aFrom + hunk.aFrom,
    aTo: span.aFrom + hunk.aTo,
    bFrom: span.bFrom + hunk.bFrom,
    bTo: span.bFrom + hunk.bTo,
  }))
}

/**
 * Moves a hunk's edges off the middle of a surrogate pair in either text. The code units just outside a hunk are
 * equal in both texts, so taking one more of them into the hunk keeps it a valid replacement.
 */
function widen(a: string, b: string, hunk: Hunk): Hunk {
  const result = { ...hunk }
  if (
    result.aFrom > 0 &&
    result.bFrom > 0 &&
    (splitsAt(a, result.aFrom) || splitsAt(b, result.bFrom) || isHighSurrogate(a.charCodeAt(result.aFrom - 1)))
  ) {
    result.aFrom--
    result.bFrom--
  }
  if (
    result.aTo < a.length &&
    result.bTo < b.length &&
    (splitsAt(a, result.aTo) || splitsAt(b, result.bTo) || isLowSurrogate(a.charCodeAt(result.aTo)))
  ) {
    result.aTo++
    result.bTo++
  }
  return result
}

/** Whether position `pos` of `str` is between a high and a low surrogate. */
function splitsAt(str: string, pos: number): boolean {
  return pos > 0 && pos < str.length && isHighSurrogate(str.charCodeAt(pos - 1)) && isLowSurrogate(str.charCodeAt(pos))
}

/** Joins hunks that touch or overlap after widening (they are in order). */
function mergeOverlapping(hunks: Hunk[]): Hunk[] {
  const merged: Hunk[] = []
  for (const hunk of hunks) {
    const last = merged[merged.length - 1]
    if (last && hunk.aFrom <= last.aTo) {
      last.aTo = Math.max(last.aTo, hunk.aTo)
      last.bTo = Math.max(last.bTo, hunk.bTo)
    } else merged.push({ ...hunk })
  }
  return merged
}

/** How much text before and after an edit {@link rebaseOnto} looks for, at most. */
const contextUnits = 24
/** How far from the diff's guess {@link rebaseOnto} looks for an edit's context. */
const searchWindow = 4_096

/**
 * Moves `changes`, made on `base`, onto `doc`: what an OT client does with its unconfirmed edits when the server
 * sends the whole document instead of the entries it missed ([OT6]). Each edit goes where the text around it is in
 * `doc`: the difference between `base` and `doc` gives the first guess, and the text just before (or after) the edit
 * in `base` decides, when it is found nearby. An edit whose surroundings moved (a crash made the server place text
 * the client had pushed elsewhere than the client did) thus stays next to the same words instead of landing at the
 * edge of a changed region, in the middle of someone else's word. Nothing of `changes` is dropped: an edit whose
 * context is nowhere near keeps the guess.
 */
export function rebaseOnto(changes: ChangeSet, base: Text | string, doc: Text | string): ChangeSet {
  const a = typeof base === 'string' ? base : base.toString()
  const b = typeof doc === 'string' ? doc : doc.toString()
  if (changes.length !== a.length) {
    throw new RangeError(`Changes for a document of length ${changes.length} moved from a text of ${a.length}`)
  }
  const diff = changesBetween(a, b)
  const specs: Array<{ from: number; to: number; insert: string }> = []
  let floor = 0
  changes.iterChanges((fromA, toA, _fromB, _toB, inserted) => {
    const guessFrom = diff.mapPos(fromA, 1)
    const guessTo = Math.max(guessFrom, diff.mapPos(toA, -1))
    let from = guessFrom
    let to = guessTo
    const deleted = a.slice(fromA, toA)
    if (toA > fromA) {
      // A deletion applies where the deleted text still is; if it is gone, only the insertion remains.
      const at = nearest(b, deleted, guessFrom, Math.max(floor, guessFrom - searchWindow))
      if (at !== null) {
        from = at
        to = at + deleted.length
      } else {
        to = from
      }
    } else {
      from = to = anchor(a, b, fromA, guessFrom, floor)
    }
    from = Math.max(from, floor)
    to = Math.max(to, from)
    specs.push({ from, to, insert: inserted.toString() })
    floor = to
  })
  return ChangeSet.of(specs, b.length, '\n')
}

/**
 * Where an insertion at `pos` of `a` belongs in `b`: after the same text that precedes it in `a` (or before the same
 * text that follows it), at the occurrence nearest `guess` and not before `floor`; the guess when neither is near.
 */
function anchor(a: string, b: string, pos: number, guess: number, floor: number): number {
  if (contextMatches(a, b, pos, guess)) return guess
  for (let units = contextUnits; units >= 4; units >>= 1) {
    const before = a.slice(Math.max(0, pos - units), pos)
    const after = a.slice(pos, pos + units)
    const candidates: number[] = []
    if (before.length >= Math.min(units, 4)) {
      const at = nearest(b, before, guess - before.length, Math.max(floor, guess - searchWindow) - before.length)
      if (at !== null) candidates.push(at + before.length)
    }
    if (after.length >= Math.min(units, 4)) {
      const at = nearest(b, after, guess, Math.max(floor, guess - searchWindow))
      if (at !== null) candidates.push(at)
    }
    const best = candidates
      .filter((candidate) => candidate >= floor && !splitsAt(b, candidate))
      .sort((x, y) => Math.abs(x - guess) - Math.abs(y - guess))[0]
    if (best !== undefined) return best
  }
  return guess
}

/** Whether the text around `pos` in `a` is around `at` in `b` (a few units on each side, where there are any). */
function contextMatches(a: string, b: string, pos: number, at: number): boolean {
  const units = 8
  const before = Math.min(units, pos, at)
  const after = Math.min(units, a.length - pos, b.length - at)
  return (
    a.slice(pos - before, pos) === b.slice(at - before, at) && a.slice(pos, pos + after) === b.slice(at, at + after)
  )
}

/**
 * The start of the occurrence of `needle` in `haystack` nearest `guess` within {@link searchWindow} on either side,
 * starting no earlier than `min`; null if none.
 */
function nearest(haystack: string, needle: string, guess: number, min: number): number | null {
  if (needle.length === 0) return null
  const start = Math.max(0, min, guess - searchWindow)
  const end = Math.min(haystack.length, guess + searchWindow + needle.length)
  const window = haystack.slice(start, end)
  let best: number | null = null
  for (let i = window.indexOf(needle); i >= 0; i = window.indexOf(needle, i + 1)) {
    const at = start + i
    if (best === null || Math.abs(at - guess) < Math.abs(best - guess)) best = at
    if (at > guess) break
  }
  return best
}
