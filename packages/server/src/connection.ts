import { Capability, encodeSaved } from '@collab/protocol'
import type { Access, AuthResult } from './auth.js'
import type { Channel } from './channel.js'
import { InboundFlow, type InboundSink, type LoopShare } from './inbound-flow.js'
import { defaultLimits, type Limits } from './limits.js'
import { kindOfEncoded, type SyncObserver } from './observer.js'
import type { AwarenessOwner } from './room-awareness.js'
import { SaveAcks } from './save-acks.js'

let nextConnectionId = 1

/** The parts of a connection's creation that come from its transport and admission. */
export interface ConnectionInit {
  channel: Channel
  docName: string
  remoteAddress: string
  limits?: Limits
  observer?: SyncObserver
  /** Where its messages go, in order, once admitted (see {@link InboundFlow}). */
  sink: InboundSink
  /** Shared by the connections of one server, so they take turns fairly (see {@link InboundFlow}). */
  loop?: LoopShare
  /** The protocol the client speaks: Yjs sync (default), or @codemirror/collab when its URL says `sync=ot` ([OT1]). */
  sync?: SyncKind
}

/** Which protocol a connection speaks to its room ([OT1]). */
export type SyncKind = 'yjs' | 'ot'

/**
 * One client's connection, as the server sees it, whatever carries it: what the client announced, who it is,
 * which awareness client IDs it owns, its save acknowledgements, its inbound flow and when it was last heard from.
 * Its state changes only through these methods.
 */
export class Connection implements AwarenessOwner {
  /** Short id for log lines; unique within the process. */
  readonly id = nextConnectionId++
  readonly openedAt = Date.now()
  readonly docName: string
  readonly remoteAddress: string
  readonly sync: SyncKind
  /** Awareness client IDs this connection introduced; only it may change or remove them (RoomAwareness). */
  readonly clientIds = new Set<number>()
  private readonly channel: Channel
  private readonly observer: SyncObserver
  private readonly inbound: InboundFlow
  private readonly acks: SaveAcks
  private lastSeenAt = Date.now()
  /** When the last probe was sent that was not answered at the time (see {@link Connection.probe}). */
  private probedAt = 0
  private capabilitySet: ReadonlySet<string> = new Set()
  private accessGranted: Access = 'write'
  private userName: string | undefined
  private expiry: number | undefined
  private isClosed = false
  private echoes = 0
  private dropped = 0
  /** Bytes queued for sending at the last look, and since when they have been over the bound. */
  private queuedAtLastLook = 0
  private queueOverSince: number | null = null
  /** When the server last asked this client for content its updates depend on ([SY4]). */
  private askedForMissingAt = Number.NEGATIVE_INFINITY
  private resolveClosed: () => void = () => undefined
  /** Resolves when the channel has closed (the closing handshake ended, or the transport dropped). */
  readonly whenClosed = new Promise<void>((resolve) => {
    this.resolveClosed = resolve
  })

  constructor(init: ConnectionInit) {
    const limits = init.limits ?? defaultLimits
    this.channel = init.channel
    this.docName = init.docName
    this.remoteAddress = init.remoteAddress
    this.sync = init.sync ?? 'yjs'
    this.observer = init.observer ?? {}
    this.inbound = new InboundFlow(init.channel, limits, init.sink, this.openedAt, init.loop)
    this.acks = new SaveAcks((count) => this.send(encodeSaved(count)))
  }

  get closed(): boolean {
    return this.isClosed
  }

  /**
   * Last time anything arrived from the client (a message, a pong), or its send queue drained. While this server
   * does not read the socket (its messages are held back: admission, budget, turn, send queue), nothing could
   * arrive, so that time is not silence: it counts as heard, and the liveness timeout ([LV1]) runs from when
   * reading resumed. Under overload, paused readers whose pongs sat unread were terminated as dead (1006) and
   * reconnected, adding load to a saturated server.
   */
  get lastSeen(): number {
    if (this.inbound.readingPaused) return Date.now()
    return Math.max(this.lastSeenAt, this.inbound.resumedAt)
  }

  get access(): Access {
    return this.accessGranted
  }

  /** Who this is, from the auth hook, for log lines and presence ownership. */
  get user(): string | undefined {
    return this.userName
  }

  /** When the credentials expire (ms since the epoch), if they do. */
  get expiresAt(): number | undefined {
    return this.expiry
  }

  /** Capabilities announced in `Hello`; empty for stock y-websocket clients. */
  get capabilities(): ReadonlySet<string> {
    return this.capabilitySet
  }

  get wantsSaveAck(): boolean {
    return this.capabilitySet.has(Capability.SaveAck)
  }

  /** Updates dropped because the connection may only read ([AU3]). */
  get droppedUpdates(): number {
    return this.dropped
  }

  /** Awareness echoes the connection may still send for free ([LM2]). */
  get echoCredit(): number {
    return this.echoes
  }

  /** A message or a pong arrived from the channel. */
  heard(now = Date.now()): void {
    this.lastSeenAt = now
  }

  /** Takes a message from the channel; it is handled in order once admitted and within its limits. */
  receive(data: Uint8Array | null, bytes: number): void {
    this.lastSeenAt = Date.now()
    if (!this.isClosed) this.inbound.push(data, bytes)
  }

  /** The channel is about to close for something unreadable the peer sent: what came before it is handled now. */
  handleWaitingBeforeClose(): void {
    if (!this.isClosed) this.inbound.deliverAllNow()
  }

  /** The auth hook's grant; the connection's waiting messages are handled from now on. */
  admit(grant?: Extract<AuthResult, { ok: true }>): void {
    if (grant) {
      this.accessGranted = grant.access
      this.userName = grant.user
      this.expiry = grant.expiresAt
    }
    this.inbound.admit()
  }

  /** Whether the credentials have expired at `now` ([AU4]). */
  credentialsExpired(now: number): boolean {
    return this.expiry !== undefined && now >= this.expiry
  }

  /** Records the capabilities of the client's `Hello` ([EX1]). */
  announce(capabilities: readonly string[]): void {
    this.capabilitySet = new Set(capabilities)
  }

  /** Charges handled messages against the budget ([LM2]). */
  chargeMessages(count: number): void {
    this.inbound.chargeMessages(count)
  }

  /** Numbers the next document message (sync step 2 or update) for save acknowledgements ([SA1]). */
  nextDocMessage(): number {
    return this.acks.next()
  }

  /** Counts an update dropped from a read-only connection and returns how many were dropped so far. */
  countDroppedUpdate(): number {
    return ++this.dropped
  }

  /** The server sent an awareness message this connection may echo; echoes left are capped at `max`. */
  grantEcho(max: number): void {
    this.echoes = Math.min(this.echoes + 1, max)
  }

  /** Uses up one echo; false when none is left. */
  takeEcho(): boolean {
    if (this.echoes === 0) return false
    this.echoes--
    return true
  }

  /** Sends a binary message unless the connection is closing. Sending never throws into the room. */
  send(message: Uint8Array): void {
    if (!this.sendUncounted(message)) return
    this.observer.messagesSent?.(kindOfEncoded(message), message.length, 1)
  }

  /** Sends without telling the observer; for broadcasts, which count their copies once. */
  sendUncounted(message: Uint8Array): boolean {
    if (this.isClosed || !this.channel.isOpen) return false
    this.channel.send(message)
    return true
  }

  /** Whether more messages of the read being handled are waiting for the connection's next turn (InboundFlow). */
  get midRead(): boolean {
    return this.inbound.midRead
  }

  /** Bytes waiting to be sent to the client. */
  get queuedBytes(): number {
    return this.channel.queuedBytes
  }

  /** The first `count` document messages are stored; sends `Saved` once per write ([SA1]). */
  acknowledgeSaved(count: number): void {
    if (this.wantsSaveAck) this.acks.stored(count)
  }

  /** Whether the server may ask this client again for missing content at `now` (at most once per `intervalMs`). */
  mayAskForMissing(now: number, intervalMs: number): boolean {
    if (now - this.askedForMissingAt < intervalMs) return false
    this.askedForMissingAt = now
    return true
  }

  /** Document message `seq` was not stored (its dependencies are missing, [SY4]): acknowledgements stop below it. */
  holdSaveAcks(seq: number): void {
    this.acks.hold(seq)
  }

  /** Document message `seq`, a sync step 2, was applied: once stored, it ends a hold ([SY4]). */
  syncStep2Applied(seq: number): void {
    this.acks.answeredBy(seq)
  }

  /**
   * Looks at the send queue ([LM6]): a queue that shrank since the last look is a sign of life (the client reads,
   * slowly), and one that stayed over `maxQueuedBytes` for longer than `stallMs` means the client does not read.
   * Returns whether it stalled.
   */
  sendQueueStalled(now: number, maxQueuedBytes: number, stallMs: number): boolean {
    const queued = this.channel.queuedBytes
    if (queued < this.queuedAtLastLook) this.lastSeenAt = now
    this.queuedAtLastLook = queued
    if (queued <= maxQueuedBytes) {
      this.queueOverSince = null
      return false
    }
    this.queueOverSince ??= now
    return now - this.queueOverSince > stallMs
  }

  /** Sends a liveness probe (a WebSocket ping frame). */
  probe(now = Date.now()): void {
    // The first probe the client has not answered yet is the one its silence is measured against.
    if (!this.probeUnanswered) this.probedAt = now
    this.channel.probe()
  }

  /** When the oldest probe not answered yet was sent; 0 when none was. */
  get unansweredProbeAt(): number {
    return this.probeUnanswered ? this.probedAt : 0
  }

  private get probeUnanswered(): boolean {
    return this.probedAt > this.lastSeen
  }

  /** Closes with a code the client can read; the room forgets the connection at once, not after the handshake. */
  close(code: number, reason: string): void {
    if (this.isClosed) return
    this.markClosed()
    this.channel.close(code, reason)
  }

  /** Drops the connection without a closing handshake (it is dead or does not read). */
  terminate(): void {
    this.markClosed()
    this.channel.terminate()
  }

  /** The channel has closed, whichever side closed it. */
  channelClosed(): void {
    this.markClosed()
    this.resolveClosed()
  }

  private markClosed(): void {
    this.isClosed = true
    this.inbound.stop()
  }
}
