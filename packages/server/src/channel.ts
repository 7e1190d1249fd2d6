/**
 * A connection's transport, as the engine sees it: a duplex channel of binary messages with a close code, a way to
 * probe liveness and a way to stop reading (backpressure). The WebSocket is one adapter (websocket-channel.ts);
 * rooms and the protocol never see the transport.
 */
export interface Channel {
  /** Whether messages can still be sent. */
  readonly isOpen: boolean
  /** Bytes handed to {@link Channel.send} that the transport has not written to the network yet. */
  readonly queuedBytes: number
  /** Sends one binary message. Never throws; does nothing once the channel is closing. */
  send(message: Uint8Array): void
  /** Stops reading from the peer, so that the transport's own flow control holds it back. */
  pauseReading(): void
  resumeReading(): void
  /** Asks the peer for a sign of life; the adapter reports the answer as {@link ChannelEvents.alive}. */
  probe(): void
  /** Closes with a code and a reason (at most 123 bytes) the peer can read. */
  close(code: number, reason: string): void
  /** Drops the transport at once, without a closing handshake (the peer is dead or will not read). */
  terminate(): void
}

/** What a channel reports to the engine. */
export interface ChannelEvents {
  /** A message arrived: its bytes, or `null` for a message that is not binary (not part of the protocol). */
  message(data: Uint8Array | null, bytes: number): void
  /** The peer showed it is alive without sending a message (a WebSocket pong). */
  alive(): void
  /** The channel closed, for whatever reason; called once. */
  closed(code: number): void
  /** A transport error; the channel closes afterwards. */
  error(err: Error): void
  /**
   * What the peer sent next cannot be read (a message over the size limit, a malformed frame): the channel closes
   * (1009, 1002, 1007) as soon as this returns. The messages reported before it are handled now, in order, so that
   * the first of them that closes the connection decides its close code, as on any other read ([SU4]).
   */
  unreadable?(): void
}
