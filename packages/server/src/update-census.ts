import * as decoding from 'lib0/decoding'

/** What an update holds, counted without building it. */
export interface UpdateCensus {
  structs: number
  deleteRanges: number
}

// Bits of a struct's info byte in Yjs' update format (v1), as yjs/src/structs/Item.js writes them.
const hasOrigin = 0b1000_0000
const hasRightOrigin = 0b0100_0000
const hasParentSub = 0b0010_0000
const contentKind = 0b0001_1111
const gcKind = 0
const skipKind = 10
// Type references (yjs/src/types/*.js) whose content carries a name.
const xmlElementType = 3
const xmlHookType = 5

/**
 * Counts the structs and delete ranges of a Yjs update (v1 encoding) by walking its bytes, stopping as soon as one
 * count passes its bound: refusing an oversized update then costs at most the bound's worth of reading, where
 * `Y.decodeUpdate` would first build every struct (about 1.2 s for a million) while everyone else waits ([LM7]).
 * Returns `null` when the bytes are not a well-formed update; the full decode that follows reports why.
 */
export function countUpdate(
  update: Uint8Array,
  bounds: { structs: number; deleteRanges: number },
): UpdateCensus | null {
  const decoder = decoding.createDecoder(update)
  const census: UpdateCensus = { structs: 0, deleteRanges: 0 }
  try {
    const clients = decoding.readVarUint(decoder)
    for (let c = 0; c < clients; c++) {
      const structs = decoding.readVarUint(decoder)
      census.structs += structs
      if (census.structs > bounds.structs) return census
      decoding.readVarUint(decoder) // client
      decoding.readVarUint(decoder) // first clock
      for (let s = 0; s < structs; s++) skipStruct(decoder)
    }
    const deleteClients = decoding.readVarUint(decoder)
    for (let c = 0; c < deleteClients; c++) {
      decoding.readVarUint(decoder) // client
      const ranges = decoding.readVarUint(decoder)
      census.deleteRanges += ranges
      if (census.deleteRanges > bounds.deleteRanges) return census
      for (let r = 0; r < ranges; r++) {
        decoding.readVarUint(decoder) // clock
        decoding.readVarUint(decoder) // length
      }
    }
  } catch {
    // Truncated or malformed: not ours to explain.
    return null
  }
  return census
}

/**
 * One struct of an update, as admission ([SY4], [DL2]) needs it: where it sits in its client's clocks, and the IDs it
 * refers to. What Yjs would build as an `Item`, `GC` or `Skip`, without its content.
 */
export interface StructShape {
  readonly client: number
  readonly clock: number
  readonly length: number
  readonly kind: 'item' | 'gc' | 'skip'
  /**
   * The IDs an item refers to, as client/clock pairs in one array: its origin, its right origin and its parent when
   * that is an item rather than a root type. Empty for GC structs and skips.
   */
  readonly refs: readonly number[]
}

/** An update's structs (in encoding order) and delete set (ranges by client, as `[clock, length]` pairs). */
export interface UpdateShape {
  readonly structs: readonly StructShape[]
  readonly deletes: ReadonlyMap<number, readonly number[]>
  /** Delete ranges in all. */
  readonly deleteRanges: number
  /** Whether a delete range has length 0. */
  readonly emptyDeleteRange: boolean
}

/**
 * What {@link readUpdateShape} found: the shape of an update, a count past a bound (as {@link countUpdate} reports
 * it), or `null` when the walk cannot vouch for the bytes (malformed, or content it leaves to Yjs to read).
 */
export type ShapeReading = { kind: 'shape'; shape: UpdateShape } | { kind: 'over'; census: UpdateCensus } | null

/** Contents whose bytes the walk reads exactly as Yjs does; the others (JSON, embeds, formats, subdocuments) it leaves to Yjs. */
const deletedContent = 1
const binaryContent = 3
const stringContent = 4
const typeContent = 7
const anyContent = 8
/** The type references Yjs knows (yjs/src/types/*.js: YArray 0 ... YXmlText 6). */
const lastTypeRef = 6

/**
 * Reads an update (v1 encoding) once for everything admission needs, where `Y.decodeUpdate` would build every struct
 * with its content (issue 12: each update was read three times, by the census, by `Y.decodeUpdate` and by
 * `Y.applyUpdate`). It stops as soon as a count passes its bound, at the same point as {@link countUpdate}. It
 * reports `null` for anything it does not read exactly as Yjs would, so that the caller can ask Yjs itself: bytes
 * Yjs would refuse (truncated, an unknown content or type), and the rare contents whose reading Yjs could refuse
 * beyond the bytes (JSON strings, embeds and formats, which Yjs parses; subdocuments, whose options it reads into a
 * document).
 */
export function readUpdateShape(update: Uint8Array, bounds: { structs: number; deleteRanges: number }): ShapeReading {
  const decoder = decoding.createDecoder(update)
  const census: UpdateCensus = { structs: 0, deleteRanges: 0 }
  const structs: StructShape[] = []
  try {
    const clients = decoding.readVarUint(decoder)
    for (let c = 0; c < clients; c++) {
      const count = decoding.readVarUint(decoder)
      census.structs += count
      if (census.structs > bounds.structs) return { kind: 'over', census }
      const client = decoding.readVarUint(decoder)
      let clock = decoding.readVarUint(decoder)
      for (let s = 0; s < count; s++) {
        const struct = readStruct(decoder, client, clock)
        if (!struct) return null
        structs.push(struct)
        clock += struct.length
      }
    }
    const deletes = new Map<number, number[]>()
    let emptyDeleteRange = false
    const deleteClients = decoding.readVarUint(decoder)
    for (let c = 0; c < deleteClients; c++) {
      const client = decoding.readVarUint(decoder)
      const ranges = decoding.readVarUint(decoder)
      census.deleteRanges += ranges
      if (census.deleteRanges > bounds.deleteRanges) return { kind: 'over', census }
      if (ranges === 0) continue
      let list = deletes.get(client)
      if (!list) {
        list = []
        deletes.set(client, list)
      }
      for (let r = 0; r < ranges; r++) {
        const clock = decoding.readVarUint(decoder)
        const length = decoding.readVarUint(decoder)
        if (length === 0) emptyDeleteRange = true
        list.push(clock, length)
      }
    }
    return { kind: 'shape', shape: { structs, deletes, deleteRanges: census.deleteRanges, emptyDeleteRange } }
  } catch {
    return null
  }
}

/** One struct as Yjs' lazy struct reader reads it (yjs/src/utils/updates.js), or `null` to leave it to Yjs. */
function readStruct(decoder: decoding.Decoder, client: number, clock: number): StructShape | null {
  const info = decoding.readUint8(decoder)
  // Yjs reads exactly 10 as a skip; a skip's number with other bits set is content it refuses.
  if (info === skipKind) return { client, clock, length: decoding.readVarUint(decoder), kind: 'skip', refs: [] }
  const kind = info & contentKind
  if (kind === gcKind) return { client, clock, length: decoding.readVarUint(decoder), kind: 'gc', refs: [] }
  const refs: number[] = []
  if (info & hasOrigin) refs.push(decoding.readVarUint(decoder), decoding.readVarUint(decoder))
  if (info & hasRightOrigin) refs.push(decoding.readVarUint(decoder), decoding.readVarUint(decoder))
  if ((info & (hasOrigin | hasRightOrigin)) === 0) {
    if (decoding.readVarUint(decoder) === 1) decoding.readVarString(decoder)
    else refs.push(decoding.readVarUint(decoder), decoding.readVarUint(decoder))
    if (info & hasParentSub) decoding.readVarString(decoder)
  }
  let length: number
  switch (kind) {
    case deletedContent:
      length = decoding.readVarUint(decoder)
      break
    case binaryContent:
      decoding.readVarUint8Array(decoder)
      length = 1
      break
    case stringContent:
      length = decoding.readVarString(decoder).length
      break
    case typeContent: {
      const type = decoding.readVarUint(decoder)
      if (type > lastTypeRef) return null
      if (type === xmlElementType || type === xmlHookType) decoding.readVarString(decoder)
      length = 1
      break
    }
    case anyContent: {
      length = decoding.readVarUint(decoder)
      for (let i = 0; i < length; i++) decoding.readAny(decoder)
      break
    }
    default:
      return null
  }
  return { client, clock, length, kind: 'item', refs }
}

function skipStruct(decoder: decoding.Decoder): void {
  const info = decoding.readUint8(decoder)
  const kind = info & contentKind
  if (kind === gcKind || kind === skipKind) {
    decoding.readVarUint(decoder)
    return
  }
  if (info & hasOrigin) skipId(decoder)
  if (info & hasRightOrigin) skipId(decoder)
  // Without origins the item names its parent: a root type's name or the ID of the type item it belongs to.
  if ((info & (hasOrigin | hasRightOrigin)) === 0) {
    if (decoding.readVarUint(decoder) === 1) decoding.readVarString(decoder)
    else skipId(decoder)
    if (info & hasParentSub) decoding.readVarString(decoder)
  }
  skipContent(decoder, kind)
}

function skipId(decoder: decoding.Decoder): void {
  decoding.readVarUint(decoder)
  decoding.readVarUint(decoder)
}

function skipContent(decoder: decoding.Decoder, kind: number): void {
  switch (kind) {
    case 1: // deleted: a length
      decoding.readVarUint(decoder)
      return
    case 2: {
      // JSON: a count of JSON strings
      const count = decoding.readVarUint(decoder)
      for (let i = 0; i < count; i++) decoding.readVarString(decoder)
      return
    }
    case 3: // binary
      decoding.readVarUint8Array(decoder)
      return
    case 4: // string
    case 5: // embed (JSON string)
      decoding.readVarString(decoder)
      return
    case 6: // format: key and JSON value
      decoding.readVarString(decoder)
      decoding.readVarString(decoder)
      return
    case 7: {
      // type: its reference, and a name for XML elements and hooks
      const type = decoding.readVarUint(decoder)
      if (type === xmlElementType || type === xmlHookType) decoding.readVarString(decoder)
      return
    }
    case 8: {
      // any: a count of lib0 values
      const count = decoding.readVarUint(decoder)
      for (let i = 0; i < count; i++) decoding.readAny(decoder)
      return
    }
    case 9: // subdocument: guid and options
      decoding.readVarString(decoder)
      decoding.readAny(decoder)
      return
    default:
      throw new RangeError(`unknown content kind ${kind}`)
  }
}
