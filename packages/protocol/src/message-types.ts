/**
 * Top-level message types: the first varUint of every binary WebSocket message.
 * 0-3 are y-websocket's; 100 and up are our extensions, sent by the server only to clients that announced
 * them with a `Hello` message, so a stock y-websocket client never receives one (docs/PROTOCOL.md, [EX1]).
 */
export const MessageType = {
  Sync: 0,
  Awareness: 1,
  Auth: 2,
  QueryAwareness: 3,
  /** Extension: the sender lists the capabilities it understands. */
  Hello: 100,
  /** Extension: liveness probe; the receiver answers with `Pong` at once. */
  Ping: 101,
  /** Extension: answer to `Ping`. */
  Pong: 102,
  /** Extension: server to client, "the first N document messages you sent on this connection are stored". */
  Saved: 103,
  /**
   * Extension: a @codemirror/collab (operational transformation) message, one JSON object in a varString. A client
   * opts in by sending `{"t":"join"}`; only then does the server send it these, and no Yjs sync or awareness
   * messages (docs/PROTOCOL.md, [OT1]).
   */
  Collab: 104,
  /**
   * Extension: server to client, the id of the incarnation of the document it serves (a varString), sent before
   * its sync step 1 to clients that announced `incarnation` (docs/PROTOCOL.md, [IN1]).
   */
  Incarnation: 105,
} as const

/** Second varUint of a `Sync` message (y-protocols/sync). */
export const SyncMessageType = {
  Step1: 0,
  Step2: 1,
  Update: 2,
} as const

/** Capabilities a peer can announce in `Hello`. */
export const Capability = {
  /** Understands `Ping`/`Pong`. */
  Heartbeat: 'heartbeat',
  /** Wants `Saved` acknowledgements. */
  SaveAck: 'save-ack',
  /** Server to client only: this connection may read but not write; its updates are dropped ([AU3]). */
  ReadOnly: 'read-only',
  /** Client to server: wants the `Incarnation` message before the server's sync step 1 ([IN1]). */
  Incarnation: 'incarnation',
} as const

/** One of the values of {@link Capability}; unknown capability strings are kept as plain strings. */
export type CapabilityName = (typeof Capability)[keyof typeof Capability]
