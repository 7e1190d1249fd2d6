import type { Channel } from './channel.js'
import type { Limits } from './limits.js'
import { TokenBucket } from './rate-limiter.js'

/** Why a connection's messages wait instead of being handled. */
export type InboundHold = 'admission' | 'budget' | 'queue' | 'turn'

/** What {@link InboundFlow} hands messages to, and tells when a connection abuses its budget. */
export interface InboundSink {
  /** Handles one message, in arrival order; `null` for a message that is not binary. */
  deliver(data: Uint8Array | null, bytes: number): void
  /** The connection was held back by its budget for longer than `limits.maxThrottledMs` in all ([LM2]). */
  overBudgetTooLong(): void
}

/** How often a connection held back by its own send queue checks whether the queue drained. */
const queuePollMs = 20
/**
 * How long one connection's messages may hold the event loop before the others get a turn, and how many messages at
 * most: one socket read can hold thousands of keystroke-sized messages, and handling them all at once would delay
 * everyone else's by as long. Measured on this project's 2-core machine with one connection flooding as fast as it
 * could, other clients' keystroke p99 went from 5 ms to 18 ms with turns of 128 messages, to 11-17 ms with turns of
 * 32 or 64; smaller turns cost more (each turn is one transaction, one relay and one stored record).
 */
const turnMs = 2
const messagesPerTurn = 64
/** How long after another connection's last message it still counts as active (see InboundFlow.othersActive). */
const othersActiveMs = 100

/** What the connections of one server share to take turns fairly: a count of the messages all of them handled. */
export class LoopShare {
  delivered = 0
}

/**
 * A connection held back by its budget resumes once it has this long's worth of budget, rather than as soon as it is
 * out of debt: woken up for every message, a flood at the rate limit would cost a timer, a transaction, a relayed
 * message, a stored record and an acknowledgement per message ([SU4] batches only what is handled in one go).
 */
const resumeAfterMs = 10

/**
 * The inbound side of one connection: limits slow a connection down, they do not cut it off ([LM2], [LM6]).
 * Messages are handled in arrival order, and wait in an inbox while
 * - the connection is not admitted yet (the auth hook decides),
 * - its message or byte budget is in debt (token buckets; a message is charged once read, so one large message
 *   costs the time its bytes are worth afterwards),
 * - or the bytes queued for sending to it are over `limits.maxQueuedBytes`: a client that does not read is not
 *   answered further (the answers to its own requests would pile up in this process).
 * While anything waits, the channel is not read, so TCP holds the client back; nothing it sent is lost or reordered.
 */
export class InboundFlow {
  private inbox: Array<{ data: Uint8Array | null; bytes: number }> = []
  /** Index of the next message to handle in {@link InboundFlow.inbox} (shifting one by one is quadratic). */
  private head = 0
  private hold: InboundHold | null = 'admission'
  private paused = false
  private lastResumedAt = 0
  private timer: { kind: 'timeout'; handle: NodeJS.Timeout } | { kind: 'immediate'; handle: NodeJS.Immediate } | null =
    null
  private throttledSince = 0
  /** Total time held back by the budget. */
  private throttledMs = 0
  private readonly messages: TokenBucket
  private readonly byteBudget: TokenBucket
  private stopped = false
  /** Messages this connection handled. */
  private ownDelivered = 0
  /** Messages handled in the current task, and when it started handling them ({@link turnMs}). */
  private handledThisTurn = 0
  private turnStartedAt = 0

  /** Messages handled from other connections, as last seen at the end of this one's turn. */
  private othersSeen = 0
  private othersActiveAt = Number.NEGATIVE_INFINITY

  constructor(
    private readonly channel: Channel,
    private readonly limits: Limits,
    private readonly sink: InboundSink,
    now: number,
    /** Shared by every connection of a server: how many messages all of them handled. */
    private readonly loop: LoopShare = new LoopShare(),
  ) {
    this.messages = new TokenBucket(limits.messagesPerSecond, limits.messageBurst, now)
    this.byteBudget = new TokenBucket(limits.bytesPerSecond, limits.byteBurst, now)
  }

  /**
   * Whether the connection only yielded its turn with messages of the same read still waiting ([SU4]), and nobody
   * else is being served: the room may then keep collecting its updates into one transaction rather than apply them
   * at the end of every turn. While other connections are active, a turn's updates (at most 64) are applied at its
   * end: applying a whole 64 KiB read at once (about 2,000 keystrokes, 5-30 ms on this 2-core machine) is what made
   * other people's keystrokes wait behind a flooding connection ([LM2]).
   */
  get midRead(): boolean {
    return this.hold === 'turn' && this.waiting > 0 && !this.othersActive()
  }

  /** Whether the channel is not being read (something holds its messages back): the peer cannot be heard. */
  get readingPaused(): boolean {
    return this.paused
  }

  /** When reading last resumed after a pause (0: never paused). */
  get resumedAt(): number {
    return this.lastResumedAt
  }

  /** Messages waiting in the inbox. */
  get waiting(): number {
    return this.inbox.length - this.head
  }

  /** Takes a message from the channel: handled now, or after those waiting before it. */
  push(data: Uint8Array | null, bytes: number): void {
    if (this.stopped) return
    if (this.hold === null && this.waiting === 0) {
      this.handle(data, bytes, Date.now())
      this.afterDelivery()
      return
    }
    this.inbox.push({ data, bytes })
    // Whatever holds the messages back, the client waits at the socket rather than in this process's memory.
    this.pause()
  }

  /** Hands one message to the sink, charging its bytes and counting it against the turn and the loop's share. */
  private handle(data: Uint8Array | null, bytes: number, now: number): void {
    this.byteBudget.charge(bytes, now)
    this.countTurn()
    this.loop.delivered++
    this.ownDelivered++
    this.sink.deliver(data, bytes)
  }

  /** Counts a message against the current turn; the count starts again in the next task. */
  private countTurn(): void {
    if (this.handledThisTurn++ > 0) return
    this.turnStartedAt = performance.now()
    queueMicrotask(() => (this.handledThisTurn = 0))
  }

  private turnUsedUp(): boolean {
    return (
      this.handledThisTurn >= messagesPerTurn ||
      (this.handledThisTurn > 0 && performance.now() - this.turnStartedAt >= turnMs)
    )
  }

  /** The connection was admitted: its waiting messages are handled now. */
  admit(): void {
    if (this.hold !== 'admission') return
    this.hold = null
    this.drain()
  }

  /** Charges messages against the budget; `0` for one that costs nothing (an awareness echo, see [LM2]). */
  chargeMessages(count: number): void {
    if (count > 0) this.messages.charge(count, Date.now())
  }

  /** Stops everything: the connection is closing. Reading resumes, so that the closing handshake can complete. */
  stop(): void {
    if (this.stopped) return
    this.stopped = true
    if (this.paused) {
      this.paused = false
      this.channel.resumeReading()
    }
    this.inbox = []
    this.head = 0
    this.cancelTimer()
  }

  /** Decides, after a message was handled directly, whether the next ones must wait. */
  private afterDelivery(): void {
    if (this.stopped) return
    const blocked = this.blocker(Date.now())
    if (blocked) this.wait(blocked.hold, blocked.ms)
  }

  private blocker(now: number): { hold: InboundHold; ms: number } | null {
    if (this.channel.queuedBytes > this.limits.maxQueuedBytes) return { hold: 'queue', ms: queuePollMs }
    if (this.messages.waitMs(now) > 0 || this.byteBudget.waitMs(now) > 0) {
      const ms = Math.max(
        this.messages.waitForMs((this.limits.messagesPerSecond * resumeAfterMs) / 1000, now),
        this.byteBudget.waitForMs((this.limits.bytesPerSecond * resumeAfterMs) / 1000, now),
      )
      return { hold: 'budget', ms }
    }
    return this.turnUsedUp() ? { hold: 'turn', ms: 0 } : null
  }

  private wait(hold: InboundHold, ms: number): void {
    const now = Date.now()
    if (hold === 'budget' && this.hold !== 'budget') this.throttledSince = now
    this.hold = hold
    this.pause()
    this.cancelTimer()
    const resume = () => {
      this.timer = null
      this.handledThisTurn = 0
      this.drain()
    }
    this.timer =
      ms === 0 && !this.othersActive()
        ? { kind: 'immediate', handle: setImmediate(resume) }
        : { kind: 'timeout', handle: setTimeout(resume, ms) }
  }

  /**
   * Whether other connections handled messages lately. Then a turn ends with a timer, which leaves the event loop at
   * least a millisecond for them (a third of the time when this connection's turns take two); otherwise with
   * setImmediate, so that a client alone on the server is not slowed by turns it takes from nobody.
   */
  private othersActive(): boolean {
    const now = performance.now()
    const others = this.loop.delivered - this.ownDelivered
    if (others !== this.othersSeen) {
      this.othersSeen = others
      this.othersActiveAt = now
    }
    return now - this.othersActiveAt < othersActiveMs
  }

  private cancelTimer(): void {
    if (this.timer?.kind === 'immediate') clearImmediate(this.timer.handle)
    else if (this.timer?.kind === 'timeout') clearTimeout(this.timer.handle)
    this.timer = null
  }

  /** Handles waiting messages until one must wait again, then resumes reading when none waits. */
  private drain(): void {
    while (!this.stopped) {
      const now = Date.now()
      const blocked = this.blocker(now)
      if (this.hold === 'budget' && blocked?.hold !== 'budget') {
        this.throttledMs += now - this.throttledSince
        this.hold = null
      }
      if (blocked) {
        if (blocked.hold === 'budget' && this.overBudgetTooLong(now)) return
        this.wait(blocked.hold, blocked.ms)
        return
      }
      this.hold = null
      const next = this.inbox[this.head]
      if (!next) {
        this.inbox = []
        this.head = 0
        break
      }
      this.head++
      this.handle(next.data, next.bytes, now)
    }
    if (!this.stopped && this.paused) {
      this.paused = false
      this.lastResumedAt = Date.now()
      this.channel.resumeReading()
    }
  }

  /**
   * Handles every waiting message now, whatever its turn, budget or the send queue say: the channel is about to
   * close for what the peer sent after them, and they come first ([SU4]). At most what one socket read held, once
   * per connection. Messages of a connection not yet admitted stay unhandled (the auth hook has not let it in).
   */
  deliverAllNow(): void {
    if (this.stopped || this.hold === 'admission') return
    this.cancelTimer()
    this.hold = null
    const now = Date.now()
    while (!this.stopped) {
      const next = this.inbox[this.head]
      if (!next) break
      this.head++
      this.handle(next.data, next.bytes, now)
    }
    this.inbox = []
    this.head = 0
  }

  private overBudgetTooLong(now: number): boolean {
    const total = this.throttledMs + (this.hold === 'budget' ? now - this.throttledSince : 0)
    if (total <= this.limits.maxThrottledMs) return false
    this.sink.overBudgetTooLong()
    return true
  }

  private pause(): void {
    if (this.paused) return
    this.paused = true
    this.channel.pauseReading()
  }
}
