import {
  type AwarenessEntry,
  type DecodeLimits,
  decodeMessage,
  encodeAwareness,
  encodeAwarenessEntries,
  encodeFrames,
  encodeSaved,
  encodeSyncUpdate,
} from '@collab/protocol'
import * as Y from 'yjs'
import type { Channel, ChannelEvents } from './channel.js'

// The HTTP long-poll adapter of a connection ([HT1]-[HT10] in docs/PROTOCOL.md): one session's copy on this
// instance, as a Channel. The engine sends into a queue; requests take what is queued when they are answered. The
// requests themselves (admission, the session table) are http-sessions.ts.

/** How the engine answers one request of the HTTP transport: its messages, or the close the session ended with. */
export type HttpSyncAnswer =
  | { ok: true; body: Uint8Array }
  | {
      ok: false
      /** The close code a WebSocket would have been closed with ([HT9]). */
      code: number
      reason: string
      /** The HTTP status that carries it. */
      status: number
    }

/** The HTTP status that carries a close code ([HT9]): 4xxx is its last three digits; 1001 is 503; 1009 is 413. */
export function httpStatusOfClose(code: number): number {
  if (code >= 4400 && code < 4600) return code - 4000
  if (code === 1009) return 413
  return 503
}

/** A close answer for `code` ([HT9]). */
export function closeAnswer(code: number, reason: string): HttpSyncAnswer {
  return { ok: false, code, reason, status: httpStatusOfClose(code) }
}

/** Requests of one session that may be open at once ([HT4]); the poll and a send, with room for a retry. */
export const maxOpenRequests = 4

/** One open request: what it carried and what its answer waits for. */
interface OpenRequest {
  poll: boolean
  waitMs: number
  /** Document messages of the session on this instance before this request's, and this request's own ([HT6]). */
  docFirst: number
  docCount: number
  /** The awareness entries it carried. */
  awareness: AwarenessEntry[]
  /** Its messages are handled and their updates stored: it may be answered. */
  handled: boolean
  /** Answer as soon as handled, even a poll with nothing queued (a newer poll replaced it). */
  answerNow: boolean
  timer: NodeJS.Timeout | null
  resolve(answer: HttpSyncAnswer | null): void
}

/** What the channel needs from the engine besides the channel events. */
export interface HttpChannelHooks {
  /**
   * Resolves once every message handed over so far is handled and, with `stored`, its updates are stored (or
   * failed). A request without document messages (most polls) does not wait for writes it has no part in.
   */
  settled(stored: boolean): Promise<void>
  /** The channel was closed with a code (not terminated): later requests of the session get that close. */
  closed(code: number, reason: string): void
  /** Bounds for decoding the state vectors and awareness entries of requests. */
  limits: DecodeLimits
  /** Removals of the client's own awareness entries it missed while it had no copy here ([HT10]). */
  missedRemovals(entries: readonly AwarenessEntry[]): AwarenessEntry[]
}

const syncType = 0
const syncStep1 = 0
const syncStep2 = 1
const syncUpdate = 2
const awarenessType = 1
const helloType = 100
const savedType = 103

/**
 * One HTTP session's copy on this instance ([HT3]), as the engine's {@link Channel}. Messages sent to it wait in a
 * queue for a request to carry them; `saved` is kept apart and answered per request ([HT6]); the poll's sync step 1
 * reduces the queued updates to what the client lacks ([HT7]); liveness is whether a request is open ([HT8]).
 */
export class HttpChannel implements Channel {
  private queue: Uint8Array[] = []
  private queueBytes = 0
  /** The highest `saved` count the engine sent: the first `acked` document messages of the session here are stored. */
  private acked = 0
  /** Document messages handed to the engine so far; the engine numbers the same messages ([SA1]). */
  private docHandedOver = 0
  private readonly open = new Set<OpenRequest>()
  private poll: OpenRequest | null = null
  private paused = false
  private drainWaiters: Array<() => void> = []
  private ended: { code: number; reason: string } | null = null
  private helloHandedOver = false
  /** Once a sync step 1 was answered with step 2 here, a poll's step 1 reduces the queue instead ([HT7]). */
  private step1Answered = false
  /** The latest state vector the client sent: queued updates are reduced to what it lacks ([HT7]). */
  private stateVector: Uint8Array | null = null
  private answerScheduled = false

  constructor(
    private readonly events: ChannelEvents,
    private readonly hooks: HttpChannelHooks,
  ) {}

  get isOpen(): boolean {
    return this.ended === null
  }

  /**
   * What waits for the client while it has no request open. While one is open the queue leaves with its answer, so
   * it does not count: a session's own send must not wait for a queue only its answer can empty ([LM6]).
   */
  get queuedBytes(): number {
    return this.open.size > 0 ? 0 : this.queueBytes
  }

  /** Requests of the session open on this instance. */
  get openRequests(): number {
    return this.open.size
  }

  send(message: Uint8Array): void {
    if (this.ended) return
    if (message[0] === savedType) {
      const decoded = decodeMessage(message)
      if (decoded.ok && decoded.message.type === 'saved') this.acked = Math.max(this.acked, decoded.message.count)
      return
    }
    this.queue.push(message)
    this.queueBytes += message.length
    this.scheduleAnswer()
  }

  pauseReading(): void {
    this.paused = true
  }

  resumeReading(): void {
    this.paused = false
    const waiters = this.drainWaiters
    this.drainWaiters = []
    for (const resume of waiters) resume()
  }

  /** A request held open is the client waiting for us: alive for as long as it waits ([HT8]). */
  probe(): void {
    if (this.open.size > 0) this.events.alive()
  }

  close(code: number, reason: string): void {
    this.end(code, reason)
    this.hooks.closed(code, reason)
  }

  /** Ended without a close the client must see: a later request of the session opens a new copy ([HT8]). */
  terminate(): void {
    this.end(1006, 'session ended')
  }

  /**
   * Handles one request's messages ([HT3]-[HT7]) and resolves with its answer, or with `null` when `signal` aborted
   * it (the client left; nobody reads an answer).
   */
  async request(messages: readonly Uint8Array[], waitMs: number, signal: AbortSignal): Promise<HttpSyncAnswer | null> {
    if (this.ended) return closeAnswer(this.ended.code, this.ended.reason)
    if (this.open.size >= maxOpenRequests) {
      return closeAnswer(4429, `at most ${maxOpenRequests} requests of a session may be open at once`)
    }
    this.events.alive()
    let resolve: (answer: HttpSyncAnswer | null) => void = () => undefined
    const answered = new Promise<HttpSyncAnswer | null>((r) => (resolve = r))
    const request: OpenRequest = {
      poll: waitMs > 0,
      waitMs,
      docFirst: this.docHandedOver,
      docCount: 0,
      awareness: [],
      handled: false,
      answerNow: false,
      timer: null,
      resolve,
    }
    this.open.add(request)
    if (request.poll) {
      const previous = this.poll
      this.poll = request
      if (previous) {
        previous.answerNow = true
        this.tryAnswer(previous)
      }
    }
    const onAbort = () => {
      if (!this.open.delete(request)) return
      if (request.timer) clearTimeout(request.timer)
      if (this.poll === request) this.poll = null
      this.events.alive()
      request.resolve(null)
    }
    signal.addEventListener('abort', onAbort, { once: true })
    for (const message of messages) {
      if (this.ended) break
      if (!this.handOver(message, request)) continue
      this.events.message(message, message.length)
    }
    await this.drained()
    await this.hooks.settled(request.docCount > 0)
    if (this.open.has(request) && request.awareness.length > 0) {
      const missed = this.hooks.missedRemovals(request.awareness)
      if (missed.length > 0) this.send(encodeAwareness(encodeAwarenessEntries(missed)))
    }
    if (this.open.has(request)) {
      request.handled = true
      if (request.poll && !request.answerNow) {
        request.timer = setTimeout(() => this.answer(request), request.waitMs)
      }
      this.tryAnswer(request)
    }
    const answer = await answered
    signal.removeEventListener('abort', onAbort)
    return answer
  }

  /** Whether a message goes to the engine: repeated hellos and, once answered, a poll's step 1 do not ([HT3], [HT7]). */
  private handOver(message: Uint8Array, request: OpenRequest): boolean {
    const type = message[0]
    if (type === helloType) {
      if (this.helloHandedOver) return false
      this.helloHandedOver = true
      return true
    }
    if (type === awarenessType) {
      const decoded = decodeMessage(message, this.hooks.limits)
      if (decoded.ok && decoded.message.type === 'awareness') request.awareness.push(...decoded.message.entries)
      return true
    }
    if (type !== syncType) return true
    const sub = message[1]
    if (sub === syncStep1) {
      const decoded = decodeMessage(message, this.hooks.limits)
      // A malformed step 1 goes to the engine, which closes the session with 4400 as it would a WebSocket.
      if (!decoded.ok || decoded.message.type !== 'sync-step-1') return true
      this.stateVector = decoded.message.stateVector
      if (this.step1Answered) return false
      this.step1Answered = true
      return true
    }
    if (sub === syncStep2 || sub === syncUpdate) {
      request.docCount++
      this.docHandedOver++
    }
    return true
  }

  /** Resolves once nothing the engine was handed waits in its inbox (budget, turn: [LM2]). */
  private drained(): Promise<void> {
    if (!this.paused || this.ended) return Promise.resolve()
    return new Promise((resolve) => this.drainWaiters.push(resolve))
  }

  /** Messages sent in one task go out together: answers wait for the end of the task. */
  private scheduleAnswer(): void {
    if (this.answerScheduled) return
    this.answerScheduled = true
    setImmediate(() => {
      this.answerScheduled = false
      if (this.poll && this.queue.length > 0) this.tryAnswer(this.poll)
    })
  }

  private tryAnswer(request: OpenRequest): void {
    if (!request.handled || !this.open.has(request)) return
    if (!request.poll || request.answerNow || this.queue.length > 0) this.answer(request)
  }

  /** Answers a request with everything queued, reduced to what the client lacks, and its own acknowledgement. */
  private answer(request: OpenRequest): void {
    if (!this.open.delete(request)) return
    if (request.timer) clearTimeout(request.timer)
    if (this.poll === request) this.poll = null
    const messages = this.takeQueue()
    const saved = Math.min(this.acked - request.docFirst, request.docCount)
    if (saved > 0) messages.push(encodeSaved(saved))
    // The 6 s of [HT8] count from the end of the client's last request.
    this.events.alive()
    request.resolve({ ok: true, body: encodeFrames(messages) })
  }

  /**
   * Empties the queue. Once the client sent a state vector, the queued sync updates become one update holding only
   * what it lacks, in the place of the first of them ([HT7]); sync step 2 answers stay as they are.
   */
  private takeQueue(): Uint8Array[] {
    const queued = this.queue
    this.queue = []
    this.queueBytes = 0
    const stateVector = this.stateVector
    if (stateVector === null || !this.step1Answered) return queued
    const updates: Uint8Array[] = []
    let first = -1
    for (const [index, message] of queued.entries()) {
      if (message[0] !== syncType || message[1] !== syncUpdate) continue
      const decoded = decodeMessage(message)
      if (!decoded.ok || decoded.message.type !== 'sync-update') continue
      if (first < 0) first = index
      updates.push(decoded.message.update)
    }
    if (first < 0) return queued
    const merged = updates.length === 1 ? (updates[0] as Uint8Array) : Y.mergeUpdates(updates)
    const lacking = Y.diffUpdate(merged, stateVector)
    const rest = queued.filter((message) => message[0] !== syncType || message[1] !== syncUpdate)
    if (!isEmptyUpdate(lacking)) rest.splice(first, 0, encodeSyncUpdate(lacking))
    return rest
  }

  private end(code: number, reason: string): void {
    if (this.ended) return
    this.ended = { code, reason }
    this.queue = []
    this.queueBytes = 0
    for (const request of [...this.open]) {
      this.open.delete(request)
      if (request.timer) clearTimeout(request.timer)
      request.resolve(closeAnswer(code, reason))
    }
    this.poll = null
    this.resumeReading()
    // As a WebSocket's close event, after the code that closed it has returned.
    queueMicrotask(() => this.events.closed(code))
  }
}

/** An update without structs or deletions: what `Y.diffUpdate` leaves when the client lacks nothing. */
function isEmptyUpdate(update: Uint8Array): boolean {
  return update.length === 2 && update[0] === 0 && update[1] === 0
}
