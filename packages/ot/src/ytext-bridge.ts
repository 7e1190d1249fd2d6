import { ChangeSet, type Text } from '@codemirror/state'
import type * as Y from 'yjs'
import { changesBetween } from './diff.js'
import { isHighSurrogate, isLowSurrogate } from './text.js'

/**
 * The bridge between the server's Y.Text, the one truth, and the OT log derived from it ([OT3], [OT5]):
 * Yjs transactions become log entries, accepted pushes become Yjs transactions.
 */

/** One operation of a Y.Text delta, as `YTextEvent.delta` reports it. */
export interface TextDeltaOp {
  insert?: unknown
  delete?: number
  retain?: number
}

/**
 * A Y.Text observer delta (`event.delta`) as a ChangeSet on a document of `length`. Inserted strings keep their
 * "\r" characters ([OT5]: only "\n" separates lines). Throws a RangeError for a delta that does not fit `length`,
 * or that inserts an embed (a non-string), which a CodeMirror document cannot hold.
 */
export function deltaToChanges(delta: ReadonlyArray<TextDeltaOp>, length: number): ChangeSet {
  const specs: Array<{ from: number; to: number; insert: string }> = []
  let pos = 0
  for (const op of delta) {
    if (op.retain !== undefined) {
      pos += op.retain
    } else {
      // Inserts and deletes with no retain between them are one replacement. Yjs lists them in document order,
      // which can be either way round; one spec gives the same change set as the replacement a client would make.
      let last = specs[specs.length - 1]
      if (last === undefined || last.to !== pos) {
        last = { from: pos, to: pos, insert: '' }
        specs.push(last)
      }
      if (op.insert !== undefined) {
        if (typeof op.insert !== 'string') throw new RangeError('Y.Text delta inserts an embed, not text')
        last.insert += op.insert
      } else if (op.delete !== undefined) {
        pos += op.delete
        last.to = pos
      }
    }
    if (pos > length) throw new RangeError(`Y.Text delta reaches ${pos} in a document of length ${length}`)
  }
  return ChangeSet.of(specs, length, '\n')
}

/**
 * Applies `changes` to `ytext`; call it inside the caller's `doc.transact` so that the update is one Yjs
 * transaction, hence one log entry ([OT3]). Changes are applied from the end of the document backwards, so the
 * positions of the earlier ones, which refer to the document before the change, stay valid.
 */
export function applyChangesToYText(ytext: Y.Text, changes: ChangeSet): void {
  if (changes.length !== ytext.length) {
    throw new RangeError(`Changes for a document of length ${changes.length} applied to a Y.Text of ${ytext.length}`)
  }
  const edits: Array<{ from: number; to: number; insert: string }> = []
  changes.iterChanges((fromA, toA, _fromB, _toB, inserted) => {
    edits.push({ from: fromA, to: toA, insert: inserted.toString() })
  })
  for (let i = edits.length - 1; i >= 0; i--) {
    const { from, to, insert } = edits[i]!
    if (to > from) ytext.delete(from, to - from)
    if (insert.length > 0) ytext.insert(from, insert)
  }
}

/**
 * Makes an entry computed from a delta true to the Y.Text. When an edit splits a surrogate pair, Yjs replaces both
 * halves with U+FFFD (ContentString.splice, yjs#248) and its delta does not say so; that replacement must be part
 * of the entry ([OT5]) or the OT text and the Y.Text drift apart. `before` is the OT text before the transaction
 * (equal to the Y.Text then). The Y.Text is read and compared, and any difference composed into the returned
 * change set, only when a split is possible: an edit boundary touches a surrogate code unit of `before`, the delta
 * is empty (nothing to see, yet the text may have changed), or `transaction` (pass the observer's) deleted text it
 * inserted itself, which hides that insertion's boundaries from the delta. Otherwise `changes` is returned as is,
 * with no `toString` of the document.
 */
export function reconcileWithYText(
  changes: ChangeSet,
  before: Text,
  ytext: Y.Text,
  transaction?: Y.Transaction,
): ChangeSet {
  const mayHideSplit =
    changes.empty ||
    touchesSurrogate(changes, before) ||
    (transaction !== undefined && deletesOwnInsertion(transaction))
  if (!mayHideSplit) return changes
  const after = changes.apply(before)
  const actual = ytext.toString()
  const expected = after.toString()
  if (actual === expected) return changes
  return changes.compose(changesBetween(expected, actual))
}

/** Whether a transaction deleted an item it created: its clock is at or past the client's clock before it. */
function deletesOwnInsertion(transaction: Y.Transaction): boolean {
  for (const [client, deletions] of transaction.deleteSet.clients) {
    const clockBefore = transaction.beforeState.get(client) ?? 0
    for (const deletion of deletions) if (deletion.clock + deletion.len > clockBefore) return true
  }
  return false
}

/** Whether a code unit of `doc` on either side of an edit boundary of `changes` is a surrogate. */
function touchesSurrogate(changes: ChangeSet, doc: Text): boolean {
  let touches = false
  const check = (pos: number) => {
    if (touches) return
    const around = doc.sliceString(Math.max(0, pos - 1), Math.min(doc.length, pos + 1))
    for (let i = 0; i < around.length; i++) {
      const code = around.charCodeAt(i)
      if (isHighSurrogate(code) || isLowSurrogate(code)) touches = true
    }
  }
  changes.iterChangedRanges((fromA, toA) => {
    check(fromA)
    check(toA)
  }, true)
  return touches
}
