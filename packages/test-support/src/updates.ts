import * as encoding from 'lib0/encoding'

/**
 * A Yjs update (v1 encoding, as y-websocket sends) that adds nothing and deletes, for each client, the given
 * `[clock, length]` ranges: a valid update that can name clocks nobody has written yet.
 */
export function deleteSetUpdate(ranges: ReadonlyMap<number, ReadonlyArray<readonly [number, number]>>): Uint8Array {
  const encoder = encoding.createEncoder()
  // No structs.
  encoding.writeVarUint(encoder, 0)
  encoding.writeVarUint(encoder, ranges.size)
  for (const [client, list] of ranges) {
    encoding.writeVarUint(encoder, client)
    encoding.writeVarUint(encoder, list.length)
    for (const [clock, length] of list) {
      encoding.writeVarUint(encoder, clock)
      encoding.writeVarUint(encoder, length)
    }
  }
  return encoding.toUint8Array(encoder)
}
