import * as Y from 'yjs'
import { countUpdate, readUpdateShape, type StructShape, type UpdateCensus, type UpdateShape } from './update-census.js'

/** Bounds on one update from outside ([LM7]); far beyond what any editor or import sends. */
export interface UpdateBounds {
  /** Structs (runs of inserted content) in one update. */
  maxStructsPerUpdate: number
  /** Ranges in one update's delete set. */
  maxDeleteRangesPerUpdate: number
}

/**
 * An update from outside as admission reads it: its structs and delete set, without content (see
 * {@link readUpdateShape}).
 */
export type DecodedUpdate = UpdateShape

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
 * was applied, relayed and stored: reading it fully first keeps out a truncated one. Empty delete ranges are
 * refused because Yjs reads them, then fails on them only when they point past what the document has.
 *
 * One walk over the bytes counts and reads what admission needs ({@link readUpdateShape}); only bytes it does not
 * vouch for (malformed ones, and the rare contents Yjs parses further) are decoded by Yjs, which then decides.
 */
export function decodeUpdate(
  update: Uint8Array,
  bounds: UpdateBounds,
): { ok: true; decoded: DecodedUpdate } | { ok: false; refusal: UpdateRefusal } {
  const limits = { structs: bounds.maxStructsPerUpdate, deleteRanges: bounds.maxDeleteRangesPerUpdate }
  const reading = readUpdateShape(update, limits)
  if (reading?.kind === 'over') return overBounds(reading.census, bounds)
  let shape: UpdateShape
  if (reading) {
    shape = reading.shape
  } else {
    // The walk stopped on something only Yjs can judge: a census bounds what its decode may cost first ([LM7]).
    const census = countUpdate(update, limits)
    if (census && (census.structs > limits.structs || census.deleteRanges > limits.deleteRanges)) {
      return overBounds(census, bounds)
    }
    try {
      shape = shapeOf(Y.decodeUpdate(update))
    } catch (err) {
      return invalid(`the update does not decode: ${err instanceof Error ? err.message : String(err)}`)
    }
  }
  if (shape.structs.length > bounds.maxStructsPerUpdate) {
    return invalid(`${shape.structs.length} structs in one update, at most ${bounds.maxStructsPerUpdate} allowed`)
  }
  if (shape.emptyDeleteRange) return invalid('the delete set has an empty range')
  if (shape.deleteRanges > bounds.maxDeleteRangesPerUpdate) {
    return invalid(
      `${shape.deleteRanges} delete ranges in one update, at most ${bounds.maxDeleteRangesPerUpdate} allowed`,
    )
  }
  return { ok: true, decoded: shape }
}

function overBounds(census: UpdateCensus, bounds: UpdateBounds): { ok: false; refusal: UpdateRefusal } {
  if (census.structs > bounds.maxStructsPerUpdate) {
    return invalid(`${census.structs} structs in one update, at most ${bounds.maxStructsPerUpdate} allowed`)
  }
  return invalid(
    `${census.deleteRanges} delete ranges in one update, at most ${bounds.maxDeleteRangesPerUpdate} allowed`,
  )
}

/** The shape of an update Yjs decoded (for the bytes {@link readUpdateShape} leaves to Yjs). */
export function shapeOf(decoded: ReturnType<typeof Y.decodeUpdate>): UpdateShape {
  const structs: StructShape[] = decoded.structs.map((struct) => {
    const { client, clock } = struct.id
    if (struct instanceof Y.Skip) return { client, clock, length: struct.length, kind: 'skip', refs: [] }
    if (!(struct instanceof Y.Item)) return { client, clock, length: struct.length, kind: 'gc', refs: [] }
    const refs: number[] = []
    for (const id of [struct.origin, struct.rightOrigin, struct.parent]) {
      if (id instanceof Y.ID) refs.push(id.client, id.clock)
    }
    return { client, clock, length: struct.length, kind: 'item', refs }
  })
  const deletes = new Map<number, number[]>()
  let deleteRanges = 0
  let emptyDeleteRange = false
  for (const [client, ranges] of decoded.ds.clients) {
    const list: number[] = []
    for (const range of ranges) {
      list.push(range.clock, range.len)
      if (range.len === 0) emptyDeleteRange = true
    }
    deleteRanges += ranges.length
    deletes.set(client, list)
  }
  return { structs, deletes, deleteRanges, emptyDeleteRange }
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
    const { client, clock } = struct
    const known = reachOf(client)
    if (tombstone && clock < (tombstone.get(client) ?? 0) && struct.kind !== 'skip') {
      return { ok: false, refusal: { kind: 'deleted', reason: 'the update carries content of a deleted document' } }
    }
    if (struct.kind === 'skip' || clock > known) {
      gap ??= `content of client ${client} from clock ${known} is missing`
      continue
    }
    if (clock < known && clock + struct.length > known) overlaps = true
    reach.set(client, Math.max(known, clock + struct.length))
  }
  if (gap) return missing(gap)
  for (const struct of decoded.structs) {
    const refs = struct.refs
    for (let i = 0; i < refs.length; i += 2) {
      const client = refs[i] as number
      const clock = refs[i + 1] as number
      // A client's content can only refer to its own earlier content: Yjs does not check, and throws halfway
      // through integrating such an update, after part of it is in the document.
      if (client === struct.client && clock >= struct.clock) {
        return {
          ok: false,
          refusal: {
            kind: 'invalid',
            reason: `struct ${struct.client}:${struct.clock} refers to later content of its own client`,
          },
        }
      }
      if (clock >= reachOf(client)) {
        return missing(`the update refers to ${client}:${clock}, which this document lacks`)
      }
    }
  }
  for (const [client, ranges] of decoded.deletes) {
    let end = 0
    for (let i = 0; i < ranges.length; i += 2) end = Math.max(end, (ranges[i] as number) + (ranges[i + 1] as number))
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
