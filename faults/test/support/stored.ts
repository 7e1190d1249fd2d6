import { LevelDocStore } from '@collab/storage'
import * as Y from 'yjs'

/**
 * Reads a document the way the server would load it, straight from the LevelDB directory. The server must not be
 * running: a LevelDB directory can be open in one handle at a time.
 */
export async function readStoredDoc(dataDir: string, docName: string): Promise<Y.Doc> {
  const store = await LevelDocStore.open({ path: dataDir })
  try {
    const doc = new Y.Doc()
    const updates = await store.load(docName)
    doc.transact(() => {
      for (const update of updates) Y.applyUpdate(doc, update)
    })
    return doc
  } finally {
    await store.close()
  }
}

/**
 * How many of `updates` are not (entirely) in `doc`: applying an update that is already there changes nothing,
 * so any change (new content, a new deletion, or content left pending for lack of what it builds on) is an update
 * the document lost. The missing ones are applied to `doc` as a side effect.
 */
export function countMissing(doc: Y.Doc, updates: readonly Uint8Array[]): number {
  let changed = false
  const onUpdate = () => {
    changed = true
  }
  doc.on('update', onUpdate)
  let missing = 0
  try {
    for (const update of updates) {
      changed = false
      const pendingBefore = doc.store.pendingStructs !== null || doc.store.pendingDs !== null
      Y.applyUpdate(doc, update)
      const pendingAfter = doc.store.pendingStructs !== null || doc.store.pendingDs !== null
      if (changed || (pendingAfter && !pendingBefore)) missing++
    }
  } finally {
    doc.off('update', onUpdate)
  }
  return missing
}
