import { loadTrace, utf16Index } from '@collab/test-support'
import * as Y from 'yjs'

/** A trace replayed into Yjs: one update per transaction, as a client would send them. */
export interface TraceUpdates {
  updates: Uint8Array[]
  endContent: string
  bytes: number
}

/** Replays a recorded editing trace into a Y.Doc and collects the update of every transaction. */
export function traceUpdates(name: string): TraceUpdates {
  const trace = loadTrace(name)
  const doc = new Y.Doc()
  const text = doc.getText('codemirror')
  const updates: Uint8Array[] = []
  doc.on('update', (update: Uint8Array) => updates.push(update))
  // Positions count code points; Yjs counts UTF-16 units. They agree unless a text has astral characters, and
  // only then is the current content tracked to translate (tracking it always would be quadratic).
  const astral = trace.txns.some((txn) => txn.patches.some(([, , ins]) => /[\uD800-\uDFFF]/.test(ins)))
  let content = trace.startContent
  for (const txn of trace.txns) {
    doc.transact(() => {
      for (const [pos, del, ins] of txn.patches) {
        const at = astral ? utf16Index(content, pos) : pos
        const end = astral ? utf16Index(content.slice(at), del) + at : pos + del
        if (end > at) text.delete(at, end - at)
        if (ins) text.insert(at, ins)
        if (astral) content = content.slice(0, at) + ins + content.slice(end)
      }
    })
  }
  if (text.toString() !== trace.endContent) throw new Error(`replay of ${name} does not reproduce endContent`)
  doc.destroy()
  return { updates, endContent: trace.endContent, bytes: updates.reduce((sum, u) => sum + u.length, 0) }
}
