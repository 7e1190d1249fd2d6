import * as Y from 'yjs'

/** Yjs' delete set (its class is not exported by name). */
type DeleteSet = ReturnType<typeof Y.createDeleteSet>

// What a version stores: the update from the previous version to it. Rebuilding version k applies the deltas of
// versions 1..k, oldest first, to an empty document.
//
// The room's document collects garbage (its deleted text is gone), so a delta cannot be "every update since the
// previous version" kept aside, nor a diff computed later: it is taken from the live document when the version is
// made. Its structs are those the document gained since the previous version (Yjs encodes them from that version's
// state vector: text typed since and still there keeps its content; text typed and deleted since shows as deleted
// items of the same length, which no version ever showed). Its delete set is the deletions made since the previous
// version: the document's whole delete set minus the one the previous version had, because Yjs writes the whole
// delete set into every update it encodes (10 KB for automerge-paper, which 260 versions would store 260 times).
// Content deleted later stays in the delta of the version that had it, so every version's text can be rebuilt while
// the live document forgets it.

/** The state a version leaves behind: what the next version's delta is computed against. */
export interface VersionTip {
  /** The version's Yjs state vector: client ID to clock. */
  stateVector: Map<number, number>
  /** Every deletion the version had. */
  deleteSet: DeleteSet
}

/** The tip before any version: the first delta holds the whole document. */
export function emptyTip(): VersionTip {
  return { stateVector: new Map(), deleteSet: Y.createDeleteSet() }
}

/** The tip as stored (a Yjs snapshot: delete set, then state vector). */
export function encodeTip(tip: VersionTip): Uint8Array {
  return Y.encodeSnapshot(new Y.Snapshot(tip.deleteSet, tip.stateVector))
}

/** A stored tip; throws on bytes that are not one. */
export function decodeTip(bytes: Uint8Array): VersionTip {
  const snapshot = Y.decodeSnapshot(bytes)
  return { stateVector: snapshot.sv, deleteSet: snapshot.ds }
}

/** The update that turns the version at `tip` into the document as it is now, and the tip of that new version. */
export function deltaSince(doc: Y.Doc, tip: VersionTip): { delta: Uint8Array; tip: VersionTip } {
  const deleteSet = Y.createDeleteSetFromStructStore(doc.store)
  const stateVector = Y.decodeStateVector(Y.encodeStateVector(doc))
  const full = Y.encodeStateAsUpdate(doc, Y.encodeStateVector(tip.stateVector))
  const wholeDeleteSet = encodeDeleteSet(deleteSet)
  const newDeletions = encodeDeleteSet(deleteSetDifference(deleteSet, tip.deleteSet))
  // Yjs writes the structs, then the whole delete set: replace the latter by the deletions made since the tip. A
  // document with pending structs encodes them merged in another layout; its delta then keeps the whole delete set,
  // which is larger but just as correct (deletions apply idempotently).
  const structsEnd = full.length - wholeDeleteSet.length
  const delta = endsWith(full, wholeDeleteSet) ? concat(full.subarray(0, structsEnd), newDeletions) : full
  return { delta, tip: { stateVector, deleteSet } }
}

/** Whether a delta changes nothing: no structs and no deletions (an empty update is `[0, 0]`). */
export function isEmptyDelta(delta: Uint8Array): boolean {
  return delta.length === 2 && delta[0] === 0 && delta[1] === 0
}

/**
 * The document at a version: its own delta applied after those of the versions before it. Collects garbage: only
 * the version's own text is read from it, and every later delta's references to deleted items still resolve
 * (they keep their IDs and lengths).
 */
export function rebuildVersion(deltas: readonly Uint8Array[]): Y.Doc {
  // A guid of our own, as the room's document has (room.ts): a random one costs 31 crypto calls.
  const doc = new Y.Doc({ gc: true, guid: 'version' })
  doc.transact(() => {
    for (const delta of deltas) Y.applyUpdate(doc, delta)
  })
  return doc
}

/** The delete set encoded as Yjs (v1) writes it at the end of an update, via its snapshot encoding. */
function encodeDeleteSet(deleteSet: DeleteSet): Uint8Array {
  // A snapshot is the delete set followed by the state vector; an empty state vector is the single byte 0.
  const snapshot = Y.encodeSnapshot(new Y.Snapshot(deleteSet, new Map()))
  return snapshot.subarray(0, snapshot.length - 1)
}

/** The deletions of `now` that `before` did not have (delete sets only grow: deletion in Yjs is final). */
export function deleteSetDifference(now: DeleteSet, before: DeleteSet): DeleteSet {
  const difference = Y.createDeleteSet()
  for (const [client, ranges] of now.clients) {
    const old = before.clients.get(client) ?? []
    const left: Array<{ clock: number; len: number }> = []
    let first = 0
    for (const range of ranges) {
      let start = range.clock
      const end = range.clock + range.len
      while (first < old.length && endOf(old[first]) <= start) first++
      for (let i = first; start < end; i++) {
        const taken = old[i]
        if (taken === undefined || taken.clock >= end) {
          left.push({ clock: start, len: end - start })
          break
        }
        if (taken.clock > start) left.push({ clock: start, len: taken.clock - start })
        start = Math.max(start, endOf(taken))
      }
    }
    // Yjs' DeleteItem is a plain { clock, len } record; its class is not exported.
    if (left.length > 0) difference.clients.set(client, left as never)
  }
  return difference
}

function endOf(range: { clock: number; len: number } | undefined): number {
  return range === undefined ? 0 : range.clock + range.len
}

function endsWith(bytes: Uint8Array, suffix: Uint8Array): boolean {
  if (suffix.length > bytes.length) return false
  const offset = bytes.length - suffix.length
  for (let i = 0; i < suffix.length; i++) if (bytes[offset + i] !== suffix[i]) return false
  return true
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.length + b.length)
  joined.set(a, 0)
  joined.set(b, a.length)
  return joined
}
