/**
 * What carries a connection's messages: a WebSocket (websocket-transport.ts), or HTTP long-polling
 * (http-transport.ts) where a network refuses WebSocket. The connection (connection.ts) speaks the protocol (hello,
 * heartbeat, save acknowledgements, the sync) the same way over either; only this interface sits between.
 */
export type TransportKind = 'websocket' | 'http'

/** What a transport reports to its connection. None of these is called after {@link Transport.close}. */
export interface TransportEvents {
  /** The transport can carry messages both ways: the WebSocket opened, or the HTTP session's first poll went out. */
  opened(): void
  /** One protocol message from the server, in the order the server sent it. */
  message(data: Uint8Array): void
  /**
   * The transport is gone: the server closed it with `code` (a close code of docs/PROTOCOL.md, over HTTP too), or
   * it failed (1006). Called once.
   */
  closed(code: number, reason: string): void
}

/** One transport of one document's connection. A transport is used once: after it closes, a new one is made. */
export interface Transport {
  readonly kind: TransportKind
  /** Whether {@link Transport.send} carries messages now. */
  readonly isOpen: boolean
  /** Sends one protocol message; does nothing unless {@link Transport.isOpen}. */
  send(message: Uint8Array): void
  /**
   * Ends the transport from this side, without waiting: the server is told when that costs nothing (a close frame,
   * a last request), and no event follows. Also used to abandon a transport the server stopped answering.
   */
  close(code: number, reason: string): void
}

/** Builds a transport for one attempt; the connection passes its own event handlers. */
export type TransportFactory = (events: TransportEvents) => Transport
