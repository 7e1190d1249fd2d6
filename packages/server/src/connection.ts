import { Capability, encodeSaved } from '@collab/protocol'
import type { WebSocket } from 'ws'
import type { Access } from './auth.js'
import { defaultLimits, type Limits } from './limits.js'
import { kindOfEncoded, type SyncObserver } from './observer.js'
import { TokenBucket } from './rate-limiter.js'

let nextConnectionId = 1

/**
 * One client's WebSocket, as the server sees it: what the client announced, which awareness client IDs it owns,
 * how many document messages it sent (for save acknowledgements) and when it was last heard from.
 */
export class Connection {
  /** Short id for log lines; unique within the process. */
  readonly id = nextConnectionId++
  readonly openedAt = Date.now()
  /** Last time anything (a message or a pong) arrived; drives the liveness sweep. */
  lastSeen = Date.now()
  /** Awareness client IDs this connection introduced; only it may change or remove them. */
  readonly clientIds = new Set<number>()
  /** Capabilities announced in `Hello`; empty for stock y-websocket clients. */
  capabilities: ReadonlySet<string> = new Set()
  /** Sync step 2 and update messages received so far; the numbering of save acknowledgements ([SA1]). */
  docMessages = 0
  private savedTarget = 0
  private savedSent = 0
  private ackScheduled = false
  closed = false
  /** What the connection may do; read-only connections' updates are dropped ([AU3]). */
  access: Access = 'write'
  /** Who this is, from the auth hook, for log lines. */
  user: string | undefined
  /** When the connection's credentials expire (ms since the epoch). */
  expiresAt: number | undefined
  /**
   * Awareness messages the server sent this connection that it may send back for free while they change nothing:
   * y-websocket clients echo every awareness change they apply ([LM2]).
   */
  echoCredit = 0
  /** Updates dropped because the connection may only read. */
  droppedUpdates = 0
  private readonly messageBudget: TokenBucket
  private readonly byteBudget: TokenBucket

  constructor(
    readonly ws: WebSocket,
    readonly docName: string,
    readonly remoteAddress: string,
    limits: Limits = defaultLimits,
    private readonly observer: SyncObserver = {},
  ) {
    const now = Date.now()
    this.messageBudget = new TokenBucket(limits.messagesPerSecond, limits.messageBurst, now)
    this.byteBudget = new TokenBucket(limits.bytesPerSecond, limits.byteBurst, now)
  }

  /** Charges one received message against the connection's rate limits; false once it exceeds them ([LM2]). */
  withinRate(bytes: number, now: number, messages = 1): boolean {
    return this.messageBudget.take(messages, now) && this.byteBudget.take(bytes, now)
  }

  /** The server sent an awareness message this connection may echo; echoes left are capped at `max`. */
  grantEcho(max: number): void {
    this.echoCredit = Math.min(this.echoCredit + 1, max)
  }

  /** Uses up one echo; false when none is left. */
  takeEcho(): boolean {
    if (this.echoCredit === 0) return false
    this.echoCredit--
    return true
  }

  get wantsSaveAck(): boolean {
    return this.capabilities.has(Capability.SaveAck)
  }

  /** Sends a binary message unless the socket is closing. Sending never throws into the room. */
  send(message: Uint8Array): void {
    if (!this.sendUncounted(message)) return
    this.observer.messagesSent?.(kindOfEncoded(message), message.length, 1)
  }

  /** Sends without telling the observer; for broadcasts, which count their copies once. */
  sendUncounted(message: Uint8Array): boolean {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return false
    this.ws.send(message, { binary: true })
    return true
  }

  /**
   * Records that the first `count` document messages are stored and sends one `Saved` for everything that
   * became durable in the same write (acknowledgements of one batch resolve together).
   */
  acknowledgeSaved(count: number): void {
    if (count <= this.savedTarget) return
    this.savedTarget = count
    if (this.ackScheduled) return
    this.ackScheduled = true
    queueMicrotask(() => {
      this.ackScheduled = false
      if (this.savedTarget > this.savedSent) {
        this.savedSent = this.savedTarget
        this.send(encodeSaved(this.savedSent))
      }
    })
  }

  /** Closes with a code; the room forgets the connection at once rather than when the close handshake ends. */
  close(code: number, reason: string): void {
    if (this.closed) return
    this.closed = true
    // Close reasons are limited to 123 bytes by the WebSocket protocol.
    this.ws.close(code, reason.slice(0, 120))
  }
}
