/** Limits that protect the server and the other people in a document from one connection. */
export interface Limits {
  /** Largest message in bytes; larger ones close the connection with 1009. Default 16 MiB. */
  maxMessageBytes: number
  /** Sustained messages per second per connection, with bursts up to `messageBurst`. Default 300 and 3,000. */
  messagesPerSecond: number
  messageBurst: number
  /** Sustained bytes per second per connection, with bursts up to `byteBurst`. Default 4 MiB/s and 32 MiB. */
  bytesPerSecond: number
  byteBurst: number
  /** Open connections per client address (the first X-Forwarded-For entry with `trustProxy`). Default 64. */
  connectionsPerAddress: number
  /** Awareness client IDs one connection may introduce; entries for more are dropped. Default 4. */
  clientIdsPerConnection: number
  /** Largest awareness message in bytes; a larger one closes the connection with 4400. Default 64 KiB. */
  maxAwarenessBytes: number
}

export const defaultLimits: Limits = {
  maxMessageBytes: 16 * 1024 * 1024,
  messagesPerSecond: 300,
  messageBurst: 3_000,
  bytesPerSecond: 4 * 1024 * 1024,
  byteBurst: 32 * 1024 * 1024,
  connectionsPerAddress: 64,
  clientIdsPerConnection: 4,
  maxAwarenessBytes: 64 * 1024,
}
