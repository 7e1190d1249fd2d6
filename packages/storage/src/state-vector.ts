import * as Y from 'yjs'

/** A Yjs state vector as a map: client ID to the clock after its last known struct. */
export type Clocks = Map<number, number>

/**
 * The clocks of everything in `updates`: per client, the end of its highest struct. For stored records this is
 * the state vector of the document they make up (and, for records with gaps, covers the structs past the gap
 * too, which is what a tombstone wants). Reads struct headers only; no Y.Doc is built.
 */
export function clocksOfUpdates(updates: Iterable<Uint8Array>): Clocks {
  const clocks: Clocks = new Map()
  for (const update of updates) raiseClocks(clocks, Y.parseUpdateMeta(update).to)
  return clocks
}

/** Raises each clock of `into` to the one in `from` where that is larger (the merge of two tombstones). */
export function raiseClocks(into: Clocks, from: ReadonlyMap<number, number>): Clocks {
  for (const [client, clock] of from) {
    if (clock > (into.get(client) ?? 0)) into.set(client, clock)
  }
  return into
}

/** Decodes a state vector handed to `DocStore.delete`; a malformed one is the caller's error. */
export function decodeClocks(name: string, stateVector: Uint8Array): Clocks {
  try {
    return Y.decodeStateVector(stateVector)
  } catch (err) {
    throw new RangeError(
      `Invalid state vector (${stateVector.length} bytes) for deleting ${JSON.stringify(name)}: ${err instanceof Error ? err.message : err}`,
    )
  }
}

/** The Yjs encoding of `clocks`, as Y.encodeStateVector writes it (clients in descending order). */
export function encodeClocks(clocks: Clocks): Uint8Array {
  return Y.encodeStateVector(clocks)
}
