import { loadTrace, replayTrace } from '@collab/test-support'
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
  replayTrace(trace, text)
  if (text.toString() !== trace.endContent) throw new Error(`replay of ${name} does not reproduce endContent`)
  doc.destroy()
  return { updates, endContent: trace.endContent, bytes: updates.reduce((sum, u) => sum + u.length, 0) }
}
