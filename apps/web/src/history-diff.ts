// The comparison the history panel shows between a version and the current text: whole lines first, then words
// inside the lines that changed, then small shared bits between two changes folded into them. A reader compares
// words, not characters: @collab/ot's `changesBetween` finds the smallest character difference, which OT rebasing
// needs but which turns "cat" -> "dog" into three unrelated letter swaps, and it gives up past 1,500 edits.

/** A stretch of the comparison: text both have, text only the newer has (`insert`), or only the older (`delete`). */
export interface DiffSegment {
  kind: 'same' | 'insert' | 'delete'
  text: string
}

/**
 * Beyond this many edits at one level (lines, or the words of one changed block), the block is shown as replaced
 * whole: Myers' search costs O((N+M)D) time and D^2 memory, and texts that different gain nothing from a finer diff.
 */
const maxEdits = 1_200

/**
 * A changed block of more words than this (both sides together) is shown replaced whole: even a search bounded by
 * {@link maxEdits} costs (N+M) x maxEdits steps, and the comparison is redrawn while others type.
 */
const maxWordPieces = 20_000

/** One replacement: `a[aFrom, aTo)` becomes `b[bFrom, bTo)`. */
interface Hunk {
  aFrom: number
  aTo: number
  bFrom: number
  bTo: number
}

/**
 * The segments that turn `older` into `newer`, in order: `same` and `delete` segments spell `older`, `same` and
 * `insert` segments spell `newer`. Within a change, the deletion comes before the insertion.
 */
export function diffTexts(older: string, newer: string): DiffSegment[] {
  if (older === newer) return older === '' ? [] : [{ kind: 'same', text: older }]
  const segments: DiffSegment[] = []
  const a = splitLines(older)
  const b = splitLines(newer)
  const [aIds, bIds] = intern(a, b)
  let aAt = 0
  for (const hunk of shortestEdit(aIds, bIds) ?? [whole(aIds, bIds)]) {
    push(segments, 'same', a.slice(aAt, hunk.aFrom).join(''))
    diffWords(a.slice(hunk.aFrom, hunk.aTo).join(''), b.slice(hunk.bFrom, hunk.bTo).join(''), segments)
    aAt = hunk.aTo
  }
  push(segments, 'same', a.slice(aAt).join(''))
  return foldSmallEqualities(segments)
}

/** How many separate changes the segments hold (a deletion next to an insertion counts once). */
export function countChanges(segments: readonly DiffSegment[]): number {
  let count = 0
  let inChange = false
  for (const segment of segments) {
    if (segment.kind === 'same') inChange = false
    else if (!inChange) {
      inChange = true
      count++
    }
  }
  return count
}

function diffWords(older: string, newer: string, out: DiffSegment[]): void {
  const a = splitWords(older)
  const b = splitWords(newer)
  const [aIds, bIds] = intern(a, b)
  const hunks = a.length + b.length > maxWordPieces ? null : shortestEdit(aIds, bIds)
  let aAt = 0
  for (const hunk of hunks ?? [whole(aIds, bIds)]) {
    push(out, 'same', a.slice(aAt, hunk.aFrom).join(''))
    push(out, 'delete', a.slice(hunk.aFrom, hunk.aTo).join(''))
    push(out, 'insert', b.slice(hunk.bFrom, hunk.bTo).join(''))
    aAt = hunk.aTo
  }
  push(out, 'same', a.slice(aAt).join(''))
}

/** Lines with their line break, so joining them gives the text back. */
function splitLines(text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? []
}

/** Words, runs of spaces, and single other characters (punctuation, symbols, emoji as whole code points). */
function splitWords(text: string): string[] {
  return text.match(/[\p{L}\p{M}\p{N}_]+|[^\S\n]+|\n|[\s\S]/gu) ?? []
}

/** The pieces of both sequences as numbers, equal pieces equal numbers, so comparing them is cheap. */
function intern(a: readonly string[], b: readonly string[]): [Int32Array, Int32Array] {
  const ids = new Map<string, number>()
  const idsOf = (pieces: readonly string[]) =>
    Int32Array.from(pieces, (piece) => {
      let id = ids.get(piece)
      if (id === undefined) {
        id = ids.size
        ids.set(piece, id)
      }
      return id
    })
  return [idsOf(a), idsOf(b)]
}

function whole(a: Int32Array, b: Int32Array): Hunk {
  return { aFrom: 0, aTo: a.length, bFrom: 0, bTo: b.length }
}

/** The hunks of a shortest edit script from `a` to `b` (Myers 1986), or `null` past {@link maxEdits} edits. */
function shortestEdit(a: Int32Array, b: Int32Array): Hunk[] | null {
  const n = a.length
  const m = b.length
  if (n === 0 && m === 0) return []
  if (n === 0 || m === 0) return [whole(a, b)]
  const max = Math.min(n + m, maxEdits)
  // trace[d][k + d]: the furthest x on diagonal k = x - y after d edits.
  const trace: Int32Array[] = []
  for (let d = 0; d <= max; d++) {
    const previous = trace[d - 1]
    const current = new Int32Array(2 * d + 1)
    for (let k = -d; k <= d; k += 2) {
      let x = previous ? startOf(previous, d, k).x : 0
      let y = x - k
      while (x < n && y < m && a[x] === b[y]) {
        x++
        y++
      }
      current[k + d] = x
      if (x >= n && y >= m) {
        trace.push(current)
        return backtrack(trace, n, m)
      }
    }
    trace.push(current)
  }
  return null
}

/**
 * Where the path to diagonal `k` after `d` edits starts, given the furthest points after `d - 1` edits: one step
 * down from diagonal k + 1 (an insertion) or right from diagonal k - 1 (a deletion), whichever reaches further.
 */
function startOf(previous: Int32Array, d: number, k: number): { x: number; fromK: number } {
  const fromAbove = previous[k + 1 + d - 1] ?? 0
  const fromLeft = previous[k - 1 + d - 1] ?? 0
  const down = k === -d || (k !== d && fromLeft < fromAbove)
  return down ? { x: fromAbove, fromK: k + 1 } : { x: fromLeft + 1, fromK: k - 1 }
}

function backtrack(trace: Int32Array[], n: number, m: number): Hunk[] {
  const edits: Hunk[] = []
  let x = n
  let y = m
  for (let d = trace.length - 1; d > 0; d--) {
    const previous = trace[d - 1]
    if (!previous) throw new RangeError(`Diff trace has no row ${d - 1} of ${trace.length}`)
    const k = x - y
    const { fromK } = startOf(previous, d, k)
    const fromX = previous[fromK + d - 1] ?? 0
    const fromY = fromX - fromK
    // The one edit of this step; the diagonal after it is shared text.
    edits.push(
      fromK === k + 1
        ? { aFrom: fromX, aTo: fromX, bFrom: fromY, bTo: fromY + 1 }
        : { aFrom: fromX, aTo: fromX + 1, bFrom: fromY, bTo: fromY },
    )
    x = fromX
    y = fromY
  }
  const hunks: Hunk[] = []
  for (const edit of edits.reverse()) {
    const last = hunks[hunks.length - 1]
    if (last && last.aTo === edit.aFrom && last.bTo === edit.bFrom) {
      last.aTo = edit.aTo
      last.bTo = edit.bTo
    } else {
      hunks.push(edit)
    }
  }
  return hunks
}

function push(out: DiffSegment[], kind: DiffSegment['kind'], text: string): void {
  if (text === '') return
  const last = out[out.length - 1]
  if (last?.kind === kind) last.text += text
  else out.push({ kind, text })
}

/**
 * Folds into the changes around it a shared stretch no longer than the larger side of the change before it and of
 * the change after it (diff-match-patch's semantic cleanup rule): "the cat sat" -> "a dog ran" reads as one
 * replacement, not three with single spaces kept in between. A line break is never folded: a change spanning
 * lines would show the old lines' deletion above all of the new lines, far from where each line changed.
 */
function foldSmallEqualities(segments: readonly DiffSegment[]): DiffSegment[] {
  type Change = { delete: string; insert: string }
  // Alternating: changes[i] precedes equalities[i]; the last change follows the last equality.
  const changes: Change[] = [{ delete: '', insert: '' }]
  const equalities: string[] = []
  for (const segment of segments) {
    if (segment.kind === 'same') {
      equalities.push(segment.text)
      changes.push({ delete: '', insert: '' })
    } else {
      const change = changes[changes.length - 1] as Change
      change[segment.kind] += segment.text
    }
  }
  const size = (change: Change) => Math.max(change.delete.length, change.insert.length)
  let i = 0
  while (i < equalities.length) {
    const before = changes[i] as Change
    const after = changes[i + 1] as Change
    const shared = equalities[i] as string
    const foldable = !shared.includes('\n') && shared.length <= size(before) && shared.length <= size(after)
    if (size(before) > 0 && size(after) > 0 && foldable) {
      before.delete += shared + after.delete
      before.insert += shared + after.insert
      changes.splice(i + 1, 1)
      equalities.splice(i, 1)
      // The merged change is larger: the equality before it may fold now too.
      if (i > 0) i--
    } else {
      i++
    }
  }
  const out: DiffSegment[] = []
  changes.forEach((change, index) => {
    push(out, 'delete', change.delete)
    push(out, 'insert', change.insert)
    const shared = equalities[index]
    if (shared !== undefined) push(out, 'same', shared)
  })
  return out
}
