import { encodeCollab, type Message } from '@collab/protocol'
import { Connection, type ConnectionOptions } from './connection.js'
import type { ProviderStatus } from './status.js'

/**
 * The @codemirror/collab side of an {@link OtProvider}: parses the collab messages and keeps the editor's OT
 * state. @collab/editor's `OtSession` is one.
 */
export interface OtClient {
  /** The socket opened and hello went out: send `join` now ([OT2]). */
  connected(): void
  /** The JSON text of one collab (104) message from the server, not yet parsed or checked. */
  received(json: string): void
  /** The socket is gone; a push in flight on it will never be answered. */
  disconnected(): void
}

/** Options of {@link OtProvider}. */
export type OtProviderOptions = ConnectionOptions

/**
 * The connection of a @codemirror/collab (operational transformation) client: the same hello, heartbeat,
 * reconnects, tokens, close codes and status as {@link CollabProvider}, on the document URL with `sync=ot`
 * ([OT1]), carrying collab messages for an {@link OtClient} instead of Yjs sync and awareness.
 *
 * Save accounting ([SA1]): every `push` is a document message. A push carries all unconfirmed updates, so local
 * edits are saved once the server acknowledges the last push that carried them.
 */
export class OtProvider {
  private readonly connection: Connection
  private readonly connectWhenAttached: boolean
  private client: OtClient | null = null

  /** Connects once a client is {@link OtProvider.attach | attached} (unless `connect: false`). */
  constructor(options: OtProviderOptions) {
    this.connectWhenAttached = options.connect !== false
    this.connection = new Connection(
      options,
      {
        opened: () => this.client?.connected(),
        received: (message) => this.handle(message),
        closed: () => this.client?.disconnected(),
      },
      { sync: 'ot' },
    )
  }

  /** The current status; {@link OtProvider.onStatus} tells when it changes. */
  get status(): ProviderStatus {
    return this.connection.status
  }

  /** Calls `listener` with every status change; returns a function that unsubscribes it. */
  onStatus(listener: (status: ProviderStatus) => void): () => void {
    return this.connection.onStatus(listener)
  }

  /** Hands this connection's collab messages to `client`, and connects. One client per provider. */
  attach(client: OtClient): void {
    if (this.client !== null && this.client !== client) {
      throw new RangeError('OtProvider: attach() with a second client; create one provider per editor')
    }
    this.client = client
    if (this.connectWhenAttached) this.connection.connect()
  }

  /** Connects, and keeps reconnecting until {@link OtProvider.disconnect}. Clears a terminal error. */
  connect(): void {
    this.connection.connect()
  }

  /** Closes the connection and stops reconnecting. Local edits are kept and pushed after `connect()`. */
  disconnect(): void {
    this.connection.disconnect()
  }

  /** Drops the socket and connects again at once: a `join` is the only way to ask the server for a fresh start. */
  reconnect(): void {
    this.connection.disconnect()
    this.connection.connect()
  }

  /** Refuses to connect for a problem on this side: status `offline` with `error: { code: 0, reason }`. */
  fail(reason: string): void {
    this.connection.fail(reason)
  }

  /** Closes the connection and releases every timer and listener. */
  destroy(): void {
    this.connection.destroy()
    this.client = null
  }

  /** Sends one collab message that is not a push (`join`, `presence`); false when no socket is open. */
  send(json: string): boolean {
    return this.connection.send(encodeCollab(json))
  }

  /**
   * Sends a `push` that carries every unconfirmed local update; counted for [SA1]. False when no socket is open
   * (the updates stay unsaved and go in the next push).
   */
  sendPush(json: string): boolean {
    if (!this.connection.send(encodeCollab(json))) return false
    this.connection.carrierSent()
    return true
  }

  /** A local edit was made and waits for a push: unsaved from now on. */
  localChange(): void {
    this.connection.changeNotSent()
  }

  /** The client received its `welcome`: the status becomes `synced`. */
  markSynced(): void {
    this.connection.markSynced()
  }

  private handle(message: Message): void {
    // The server never sends sync or awareness messages to an OT connection ([OT1]); ignore them if it did.
    if (message.type === 'collab') this.client?.received(message.json)
  }
}
