import { encodeAwareness, encodeAwarenessEntries, encodeSyncStep1 } from '@collab/protocol'
import { type Awareness, encodeAwarenessUpdate } from 'y-protocols/awareness'
import * as Y from 'yjs'

/**
 * What a Yjs client restates at the start of every HTTP poll ([HT3]): sync step 1 with its state vector, and its
 * own awareness entry (state and clock), so that any instance can answer the poll without having seen the session.
 */
export function yjsPollState(doc: Y.Doc, awareness: Awareness): Uint8Array[] {
  const messages = [encodeSyncStep1(Y.encodeStateVector(doc))]
  if (awareness.getLocalState() !== null) {
    messages.push(encodeAwareness(encodeAwarenessUpdate(awareness, [awareness.clientID])))
  }
  return messages
}

/**
 * The message with which a connection that is being replaced (HTTP by WebSocket) lets go of this client's presence,
 * or none when it has none. Without it the server would keep the client ID owned by the old session until that
 * session times out, and drop the cursor moves the new connection sends meanwhile ([AW2]). It removes the state at
 * the next clock, and the local clock moves past it, so the state the new connection announces (one clock later)
 * takes over whichever of the two reaches the server first ([AW5]). Locally the state stays as it is.
 */
export function presenceHandOver(awareness: Awareness): Uint8Array[] {
  const meta = awareness.meta.get(awareness.clientID)
  if (!meta || awareness.getLocalState() === null) return []
  meta.clock++
  return [encodeAwareness(encodeAwarenessEntries([{ clientID: awareness.clientID, clock: meta.clock, state: null }]))]
}
