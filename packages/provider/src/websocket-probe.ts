import type { BackoffPolicy } from './backoff.js'
import type { Transport } from './transport.js'

/** How often a connection on HTTP tries WebSocket again: 3 s plus a random part doubling up to 30 s in all. */
export const defaultProbeBackoff: BackoffPolicy = { baseMs: 3_000, maxMs: 30_000 }

/** What a {@link WebSocketProbe} needs from its connection. */
export interface WebSocketProbeOptions {
  policy: BackoffPolicy
  /** A WebSocket that has not answered our hello this long after it was made is given up. */
  answerTimeoutMs: number
  /** Our hello, sent as soon as a WebSocket opens: its answer proves the path works both ways. */
  hello(): Uint8Array
  /** Makes a WebSocket whose events the connection passes on here; null when it cannot now (a token failed). */
  open(): Promise<Transport | null>
  /** A WebSocket answered: the connection moves to it. `first` is the server's first message (its hello). */
  answered(ws: Transport, first: Uint8Array): void
}

/**
 * Keeps trying WebSocket while a connection runs over HTTP ([HT1]), with growing delays. A WebSocket counts as
 * working once the server answered our hello over it, not merely when it opened: a proxy may complete an upgrade
 * and then hold every byte. The probe sends nothing else, so the server sees a connection with no document traffic
 * until the connection takes it over.
 */
export class WebSocketProbe {
  private readonly options: WebSocketProbeOptions
  private current: Transport | null = null
  private running = false
  private failures = 0
  /** Incremented by {@link WebSocketProbe.stop}, so a try still resolving its token knows it is stale. */
  private generation = 0
  private retryTimer: ReturnType<typeof setTimeout> | null = null
  private answerTimer: ReturnType<typeof setTimeout> | null = null

  constructor(options: WebSocketProbeOptions) {
    this.options = options
  }

  /** Starts trying (after a delay), unless it already is. */
  start(): void {
    if (this.running) return
    this.running = true
    this.failures = 0
    this.schedule()
  }

  /** Takes over a WebSocket still opening (the first attempt, outlasted by the HTTP fallback) and keeps trying. */
  adopt(ws: Transport): void {
    this.running = true
    this.clearRetry()
    this.current?.close(1000, 'not needed')
    this.watch(ws)
  }

  /** Stops trying and closes the WebSocket being tried. */
  stop(): void {
    this.running = false
    this.generation++
    this.clearRetry()
    this.clearAnswer()
    const current = this.current
    this.current = null
    current?.close(1000, 'not needed')
  }

  /** The WebSocket being tried opened: say hello. */
  opened(ws: Transport): void {
    if (ws === this.current) ws.send(this.options.hello())
  }

  /** The server answered over the WebSocket being tried: it works, and it is handed over. */
  message(ws: Transport, data: Uint8Array): void {
    if (ws !== this.current) return
    this.current = null
    this.running = false
    this.clearAnswer()
    this.clearRetry()
    this.options.answered(ws, data)
  }

  /** The WebSocket being tried closed (a refused upgrade, a closed port): try again later. */
  closed(ws: Transport): void {
    if (ws !== this.current) return
    this.current = null
    this.clearAnswer()
    this.failed()
  }

  /** Whether a WebSocket is being tried or a try is scheduled. */
  get isRunning(): boolean {
    return this.running
  }

  private watch(ws: Transport): void {
    this.current = ws
    this.clearAnswer()
    this.answerTimer = setTimeout(() => {
      this.answerTimer = null
      if (this.current !== ws) return
      this.current = null
      ws.close(4000, 'no answer')
      this.failed()
    }, this.options.answerTimeoutMs)
  }

  private failed(): void {
    this.failures++
    this.schedule()
  }

  private schedule(): void {
    if (!this.running || this.current || this.retryTimer) return
    const { baseMs, maxMs } = this.options.policy
    const spread = Math.min(Math.max(0, maxMs - baseMs), baseMs * 2 ** Math.min(this.failures, 30))
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = null
        void this.tryOnce()
      },
      baseMs + Math.floor(Math.random() * spread),
    )
  }

  private async tryOnce(): Promise<void> {
    const generation = this.generation
    const ws = await this.options.open()
    if (generation !== this.generation || !this.running) {
      ws?.close(1000, 'not needed')
      return
    }
    if (ws === null) this.failed()
    else this.watch(ws)
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer)
    this.retryTimer = null
  }

  private clearAnswer(): void {
    if (this.answerTimer) clearTimeout(this.answerTimer)
    this.answerTimer = null
  }
}
