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
