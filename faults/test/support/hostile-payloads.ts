import { encodeAwareness } from '@collab/protocol'
import { deleteSetUpdate } from '@collab/test-support'
import * as encoding from 'lib0/encoding'
import * as Y from 'yjs'

// Messages a hostile client sends, built from bytes where a well-behaved encoder would refuse to build them (or
// would itself fail on them, as JSON.stringify does on deeply nested values).

/** JSON text of `depth` arrays nested in each other: `[[[...]]]`, two bytes per level. */
export function nestedJson(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth)
}

/**
 * An awareness message (type 1) with one entry whose state is `stateJson`, written as given: never parsed or
 * re-encoded here, so it can be as deep or as large as the attack needs.
 */
export function rawAwarenessMessage(clientID: number, clock: number, stateJson: string): Uint8Array {
  const update = encoding.createEncoder()
  encoding.writeVarUint(update, 1)
  encoding.writeVarUint(update, clientID)
  encoding.writeVarUint(update, clock)
  encoding.writeVarString(update, stateJson)
  return encodeAwareness(encoding.toUint8Array(update))
}

/**
 * A delete set of `count` one-clock ranges of `client`, every other clock from `firstClock` on: the most ranges a
 * delete set of that span can have, since adjacent ranges would merge into one.
 */
export function scatteredDeleteUpdate(client: number, count: number, firstClock = 0): Uint8Array {
  const list: Array<[number, number]> = []
  for (let i = 0; i < count; i++) list.push([firstClock + 2 * i, 1])
  return deleteSetUpdate(new Map([[client, list]]))
}

/**
 * A valid update of `count` structs: one character each, every one typed before the previous one, so that Yjs
 * cannot merge them into one. About 11 bytes per struct.
 */
export function manyStructsUpdate(count: number): Uint8Array {
  const doc = new Y.Doc()
  const text = doc.getText('codemirror')
  doc.transact(() => {
    for (let i = 0; i < count; i++) text.insert(0, 'x')
  })
  const update = Y.encodeStateAsUpdate(doc)
  doc.destroy()
  return update
}
