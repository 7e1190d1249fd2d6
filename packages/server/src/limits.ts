import type { UpdateBounds } from './update-admission.js'

/**
 * Limits that protect the server and the other people in a document from one connection. Over its message or byte
 * budget, or with too much queued for it, a connection is slowed down (its messages wait and it is not read), not
 * cut off; docs/SECURITY.md says what is slowed and what is closed, and why.
 */
export interface Limits extends UpdateBounds {
  /** Largest message in bytes; larger ones close the connection with 1009. Default 16 MiB. */
  maxMessageBytes: number
  /**
   * Sustained messages per second per connection, with bursts up to `messageBurst`. Default 20,000 and 20,000: a
   * stock client replaying 50,000 updates as fast as it can relays them in 1.5-1.7 s (the reference server: 1.7-2.1 s
   * on the same machine), while a flood is held to a share of the process ([LM2]).
   */
  messagesPerSecond: number
  messageBurst: number
  /** Sustained bytes per second per connection, with bursts up to `byteBurst`. Default 4 MiB/s and 32 MiB. */
  bytesPerSecond: number
  byteBurst: number
  /**
   * Total time a connection may be held back by its budget before it is closed with 4429. Default 5 minutes:
   * beyond any editor or import, which are not held back at all or for seconds ([LM2]).
   */
  maxThrottledMs: number
  /**
   * Bytes queued for sending to one connection beyond which its messages are not handled (it is not answered
   * further) until the queue drains. Default 4 MiB ([LM6]).
   */
  maxQueuedBytes: number
  /** A connection whose send queue stays over `maxQueuedBytes` this long does not read: it is dropped. Default 30 s. */
  queueStallMs: number
  /** Open connections per client address (see `trustedProxies`). Default 64. */
  connectionsPerAddress: number
  /** Awareness client IDs one connection may introduce; entries for more are dropped. Default 4. */
  clientIdsPerConnection: number
  /** Largest awareness message in bytes; a larger one closes the connection with 4400 unparsed. Default 64 KiB. */
  maxAwarenessBytes: number
  /** Largest @codemirror/collab message in bytes; a larger one closes the connection with 4400 unparsed ([OT5]). Default 4 MiB. */
  maxCollabBytes: number
}

export const defaultLimits: Limits = {
  maxMessageBytes: 16 * 1024 * 1024,
  messagesPerSecond: 20_000,
  messageBurst: 20_000,
  bytesPerSecond: 4 * 1024 * 1024,
  byteBurst: 32 * 1024 * 1024,
  maxThrottledMs: 5 * 60_000,
  maxQueuedBytes: 4 * 1024 * 1024,
  queueStallMs: 30_000,
  connectionsPerAddress: 64,
  clientIdsPerConnection: 4,
  maxAwarenessBytes: 64 * 1024,
  // A push holds at most 1 MiB of inserted UTF-16 text ([OT5]); its JSON (escapes, up to 3 bytes a unit) fits in 4 MiB.
  maxCollabBytes: 4 * 1024 * 1024,
  // The largest full state among the recorded traces has 15,092 structs and 3,402 delete ranges.
  maxStructsPerUpdate: 200_000,
  maxDeleteRangesPerUpdate: 50_000,
}
