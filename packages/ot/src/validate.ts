import { ChangeSet, type Text } from '@codemirror/state'
import { otLimits } from './messages.js'
import { insideSurrogatePair, isWellFormedUtf16 } from './text.js'

/** The change sets of a push, checked and built, or why the push is refused ([OT5]). */
export type Checked = { ok: true; changes: ChangeSet[] } | { ok: false; error: string }

/**
 * Checks the raw JSON change sets of one push against the document length at its base version and the per-push
 * caps ([OT5]), before `ChangeSet.fromJSON` sees them: fromJSON accepts negative and fractional lengths, lines that
 * contain "\n" and lone surrogates, and a change set built from those corrupts the document or throws later, far
 * from the client that sent it. Lengths must chain: the first update applies to `baseLength`, each later one to
 * the length the previous one leaves. Never throws.
 */
export function checkPushedChanges(updates: Array<{ changes: unknown }>, baseLength: number): Checked {
  if (updates.length > otLimits.maxUpdatesPerPush) {
    return { ok: false, error: `${updates.length} updates, at most ${otLimits.maxUpdatesPerPush} allowed` }
  }
  const budget = { sections: otLimits.maxSectionsPerPush, inserted: otLimits.maxInsertedPerPush }
  const changes: ChangeSet[] = []
  let length = baseLength
  for (let i = 0; i < updates.length; i++) {
    const json = updates[i]!.changes
    const checked = checkChangeSetJSON(json, length, budget)
    if (typeof checked === 'string') return { ok: false, error: `update ${i}: ${checked}` }
    length = checked
    // The JSON was checked to be exactly what fromJSON builds a sound change set from.
    changes.push(ChangeSet.fromJSON(json))
  }
  return { ok: true, changes }
}

/**
 * Checks one ChangeSet JSON value (an array of retained lengths and `[deleted, ...lines]` sections) that must apply
 * to a document of `length`, charging its sections and inserted text to `budget`. Returns the length of the
 * document it produces, or an error.
 */
function checkChangeSetJSON(
  json: unknown,
  length: number,
  budget: { sections: number; inserted: number },
): number | string {
  if (!Array.isArray(json)) return 'changes is not an array'
  budget.sections -= json.length
  if (budget.sections < 0) return `more than ${otLimits.maxSectionsPerPush} sections in the push`
  let consumed = 0
  let produced = 0
  for (let s = 0; s < json.length; s++) {
    const section: unknown = json[s]
    if (typeof section === 'number') {
      if (!isLength(section)) return `section ${s}: retained length ${section} is not a non-negative integer`
      consumed += section
      produced += section
      continue
    }
    if (!Array.isArray(section) || section.length === 0) return `section ${s} is neither a length nor an array`
    const deleted: unknown = section[0]
    if (typeof deleted !== 'number' || !isLength(deleted)) {
      return `section ${s}: deleted length ${String(deleted)} is not a non-negative integer`
    }
    let inserted = 0
    for (let l = 1; l < section.length; l++) {
      const line: unknown = section[l]
      if (typeof line !== 'string') return `section ${s}: line ${l - 1} is not a string`
      // A "\n" inside a line would make the Text's length disagree with the string the Y.Text receives.
      if (line.includes('\n')) return `section ${s}: line ${l - 1} contains a line break`
      if (!isWellFormedUtf16(line)) return `section ${s}: line ${l - 1} has a lone surrogate`
      inserted += line.length
    }
    // The lines are joined by the line breaks between them.
    if (section.length > 1) inserted += section.length - 2
    // CodeMirror never writes a section that changes nothing (its builder drops them); one would make a change set
    // that is not `empty` but changes no text, so applying it to the Y.Text would produce no entry.
    if (deleted === 0 && inserted === 0) return `section ${s} neither deletes nor inserts`
    budget.inserted -= inserted
    if (budget.inserted < 0) return `more than ${otLimits.maxInsertedPerPush} inserted characters in the push`
    consumed += deleted
    produced += inserted
  }
  if (consumed !== length) return `changes apply to a document of length ${consumed}, not ${length}`
  return produced
}

function isLength(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0
}

/**
 * Whether any edit boundary of `changes` (applied to `doc`) falls between a high and a low surrogate of `doc`
 * ([OT5]). Such an edit would leave lone surrogates in the OT text, while Yjs, applying it, would replace both
 * halves with U+FFFD: the two would no longer agree.
 */
export function splitsSurrogatePair(changes: ChangeSet, doc: Text): boolean {
  if (changes.length !== doc.length) {
    throw new RangeError(`Change set for a document of length ${changes.length} checked against length ${doc.length}`)
  }
  let splits = false
  changes.iterChangedRanges((fromA, toA) => {
    if (!splits && (insideSurrogatePair(doc, fromA) || insideSurrogatePair(doc, toA))) splits = true
  }, true)
  return splits
}
