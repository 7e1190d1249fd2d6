/** One entry of an awareness update: a client's presence state, or `null` when the client left. */
export interface AwarenessEntry {
  clientID: number
  clock: number
  /** The parsed JSON state; `null` means "removed". */
  state: unknown
}

/** A decoded protocol message. Binary payloads are views into the received buffer. */
export type Message =
  | { type: 'sync-step-1'; stateVector: Uint8Array }
  | { type: 'sync-step-2'; update: Uint8Array }
  | { type: 'sync-update'; update: Uint8Array }
  | { type: 'awareness'; update: Uint8Array; entries: AwarenessEntry[] }
  | { type: 'auth-denied'; reason: string }
  | { type: 'query-awareness' }
  | { type: 'hello'; capabilities: string[] }
  | { type: 'ping' }
  | { type: 'pong' }
  | { type: 'saved'; count: number }
  /** Which incarnation of the document the server serves ([IN1]); a new id means the document was deleted or lost. */
  | { type: 'incarnation'; id: string }
  /** A @codemirror/collab message: its JSON text, parsed and checked by whoever handles it (@collab/ot). */
  | { type: 'collab'; json: string }

/** The result of decoding untrusted bytes: a message, or a description of what was wrong with them. */
export type DecodeResult = { ok: true; message: Message } | { ok: false; error: string }
