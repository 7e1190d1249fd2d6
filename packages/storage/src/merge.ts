import * as Y from 'yjs'

/**
 * Merges updates by applying them to a Y.Doc and encoding its state. `Y.mergeUpdates` is quadratic on long
 * keystroke logs (16k updates: 2.6 s); this is linear.
 */
export function mergeUpdatesViaDoc(updates: readonly Uint8Array[]): Uint8Array {
  const doc = new Y.Doc({ gc: true })
  try {
    doc.transact(() => {
      for (const update of updates) Y.applyUpdate(doc, update)
    })
    return Y.encodeStateAsUpdate(doc)
  } finally {
    doc.destroy()
  }
}
