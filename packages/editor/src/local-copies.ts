import { type LocalDatabaseOptions, listRecoveredCopies } from '@collab/provider'
import * as Y from 'yjs'
import { textName } from './editor-parts.js'

/** A recovered copy as an app shows it: the text of a document the server deleted while this browser held edits. */
export interface RecoveredText {
  /** Pass to `discardRecoveredCopy` to delete it. */
  id: number
  /** The name of the deleted document. */
  name: string
  /** When it was set aside (ms since the epoch). */
  savedAt: number
  text: string
}

/**
 * The recovered copies kept on this device, newest first, with their text: when the server deletes a document
 * while a local store holds it ([DL2]), the copy is set aside rather than sent back (which would resurrect it) or
 * dropped (which would lose offline edits).
 */
export async function recoveredTexts(options: LocalDatabaseOptions = {}): Promise<RecoveredText[]> {
  const copies = await listRecoveredCopies(options)
  return copies.map((copy) => {
    const doc = new Y.Doc()
    try {
      Y.applyUpdate(doc, copy.update)
      return { id: copy.id ?? 0, name: copy.name, savedAt: copy.savedAt, text: doc.getText(textName).toString() }
    } finally {
      doc.destroy()
    }
  })
}
