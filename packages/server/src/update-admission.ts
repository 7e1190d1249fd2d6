import * as Y from 'yjs'
import { countUpdate } from './update-census.js'

/** Bounds on one update from outside ([LM7]); far beyond what any editor or import sends. */
export interface UpdateBounds {
  /** Structs (runs of inserted content) in one update. */
  maxStructsPerUpdate: number
  /** Ranges in one update's delete set. */
  maxDeleteRangesPerUpdate: number
}

/** A decoded update from outside, checked without looking at any document. */
export type DecodedUpdate = ReturnType<typeof Y.decodeUpdate>

/** Why an update from outside is not applied. */
export type UpdateRefusal =
  /** It cannot be applied at all: 4400 over WebSocket, HTTP 400. */
  | { kind: 'invalid'; reason: string }
  /** It depends on content the server does not have: not applied, and the sender is asked for it ([SY4]). */
  | { kind: 'missing'; reason: string }
  /** It carries content of a deleted document ([DL2]): 4404 "deleted", HTTP 410. */
  | { kind: 'deleted'; reason: string }

/** An update refused for a reason its sender caused. Network input never throws through; the HTTP API maps it. */
export class UpdateRefusedError extends Error {
  override readonly name = 'UpdateRefusedError'
  constructor(readonly refusal: UpdateRefusal) {
    super(refusal.reason)
  }

  get reason(): string {
    return this.refusal.reason
  }
}

/**
 * Decodes an update and applies the checks that do not depend on the document ([PR2], [LM7]). Yjs integrates an
 * update's structs before it reads its delete set, so a delete set it fails on would throw after part of the update
 * was applied, relayed and stored: decoding it fully first keeps out a truncated one. Empty delete ranges are
 * refused because Yjs reads them, then fails on them only when they point past what the document has.
 */
export function decodeUpdate(
  update: Uint8Array,
  bounds: UpdateBounds,
): { ok: true; decoded: DecodedUpdate } | { ok: false; refusal: UpdateRefusal } {
  const census = countUpdate(update, {
    structs: bounds.maxStructsPerUpdate,
    deleteRanges: bounds.maxDeleteRangesPerUpdate,
  })
  if (census && census.structs > bounds.maxStructsPerUpdate) {
    return invalid(`${census.structs} structs in one update, at most ${bounds.maxStructsPerUpdate} allowed`)
  }
  if (census && census.deleteRanges > bounds.maxDeleteRangesPerUpdate) {
    return invalid(
      `${census.deleteRanges} delete ranges in one update, at most ${bounds.maxDeleteRangesPerUpdate} allowed`,
    )
  }
  let decoded: DecodedUpdate
  try {
    decoded = Y.decodeUpdate(update)
  } catch (err) {
    return invalid(`the update does not decode: ${err instanceof Error ? err.message : String(err)}`)
  }
  if (decoded.structs.length > bounds.maxStructsPerUpdate) {
    return invalid(`${decoded.structs.length} structs in one update, at most ${bounds.maxStructsPerUpdate} allowed`)
  }
  let ranges = 0
  for (const clientRanges of decoded.ds.clients.values()) {
    ranges += clientRanges.length
    if (clientRanges.some((range) => range.len === 0)) return invalid('the delete set has an empty range')
  }
  if (ranges > bounds.maxDeleteRangesPerUpdate) {
    return invalid(`${ranges} delete ranges in one update, at most ${bounds.maxDeleteRangesPerUpdate} allowed`)
  }
  return { ok: true, decoded }
}

/**
 * What to apply of a decoded update to `doc`, or why not to apply it.
 *
 * - Missing dependencies ([SY4]): Yjs keeps an update whose structs or deletions refer to content the document
 *   lacks as "pending" and re-reads it on every later update, forever, also after a restart if it was stored: a
 *   delete set for clocks nobody sent makes every honest keystroke cost the whole pending set again. Such an update
 *   is not applied; the sender is asked, with sync step 1, for what is missing, and its next sync step 2 carries it.
 * - Deleted documents ([DL2]): content whose clock lies below the tombstone of a deleted incarnation of this
 *   document is refused, so a client that still holds a deleted document cannot bring it back.
 * - A struct that starts inside content the document already has (its client ID reused by someone else) would be
 *   integrated from its first new clock under the parent it declares, while the document's own encoding of it (what
 *   is stored and sent to new clients) names the parent of the struct before it: cutting the known part off first
 *   gives every copy the same reading.
 */
export function admitUpdate(
  doc: Y.Doc,
  update: Uint8Array,
  decoded: DecodedUpdate,
  tombstone: ReadonlyMap<number, number> | null,
): { ok: true; update: Uint8Array } | { ok: false; refusal: UpdateRefusal } {
  // How far each client's content reaches once this update is applied: what the document has, extended by the
  // update's structs that continue it without a gap.
  const reach = new Map<number, number>()
  const reachOf = (client: number) => reach.get(client) ?? Y.getState(doc.store, client)
  let overlaps = false
  let gap: string | null = null
  for (const struct of decoded.structs) {
    const { client, clock } = struct.id
    const known = reachOf(client)
    if (tombstone && clock < (tombstone.get(client) ?? 0) && !(struct instanceof Y.Skip)) {
      return { ok: false, refusal: { kind: 'deleted', reason: 'the update carries content of a deleted document' } }
    }
    if (struct instanceof Y.Skip || clock > known) {
      gap ??= `content of client ${client} from clock ${known} is missing`
      continue
    }
    if (clock < known && clock + struct.length > known) overlaps = true
    reach.set(client, Math.max(known, clock + struct.length))
  }
  if (gap) return missing(gap)
  for (const struct of decoded.structs) {
    if (!(struct instanceof Y.Item)) continue
    for (const dependency of [struct.origin, struct.rightOrigin, struct.parent]) {
      if (!(dependency instanceof Y.ID)) continue
      // A client's content can only refer to its own earlier content: Yjs does not check, and throws halfway
      // through integrating such an update, after part of it is in the document.
      if (dependency.client === struct.id.client && dependency.clock >= struct.id.clock) {
        return {
          ok: false,
          refusal: {
            kind: 'invalid',
            reason: `struct ${struct.id.client}:${struct.id.clock} refers to later content of its own client`,
          },
        }
      }
      if (dependency.clock >= reachOf(dependency.client)) {
        return missing(`the update refers to ${dependency.client}:${dependency.clock}, which this document lacks`)
      }
    }
  }
  for (const [client, ranges] of decoded.ds.clients) {
    const end = ranges.reduce((furthest, range) => Math.max(furthest, range.clock + range.len), 0)
    if (end > reachOf(client)) {
      return missing(`the update deletes ${client}:${reachOf(client)}..${end}, which this document lacks`)
    }
  }
  return { ok: true, update: overlaps ? Y.diffUpdate(update, Y.encodeStateVector(doc)) : update }
}

/** A tombstone (a Yjs state vector) as a map from client to clock, or `null` when there is none. */
export function decodeTombstone(stateVector: Uint8Array | null): ReadonlyMap<number, number> | null {
  if (!stateVector) return null
  const clocks = Y.decodeStateVector(stateVector)
  return clocks.size === 0 ? null : clocks
}

/** Whether a client's state vector shows it holds content of a deleted incarnation of the document ([DL2]). */
export function holdsDeletedContent(stateVector: Uint8Array, tombstone: ReadonlyMap<number, number> | null): boolean {
  if (!tombstone) return false
  for (const [client, clock] of Y.decodeStateVector(stateVector)) {
    if (clock > 0 && (tombstone.get(client) ?? 0) > 0) return true
  }
  return false
}

function invalid(reason: string): { ok: false; refusal: UpdateRefusal } {
  return { ok: false, refusal: { kind: 'invalid', reason } }
}

function missing(reason: string): { ok: false; refusal: UpdateRefusal } {
  return { ok: false, refusal: { kind: 'missing', reason } }
}
