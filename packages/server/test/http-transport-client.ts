import { randomBytes } from 'node:crypto'
import { type IncomingMessage, type RequestListener, request, type ServerResponse } from 'node:http'
import {
  Capability,
  decodeFrames,
  decodeMessage,
  encodeAwareness,
  encodeFrames,
  encodeHello,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
  isTerminalCloseCode,
  type Message,
} from '@collab/protocol'
import type { Teardown } from '@collab/test-support'
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate } from 'y-protocols/awareness'
import * as Y from 'yjs'

// A Node client of the HTTP transport, written from docs/PROTOCOL.md ([HT1]-[HT10]) for tests: a poll always open,
// sends one at a time beside it, save acknowledgements per request, a new session after any failed request.

/** One HTTP exchange: the status, and the framed messages or the close ([HT9]). */
export interface HttpExchange {
  status: number
  messages: Uint8Array[]
  close: { code: number; reason: string } | null
}

/** POSTs `messages` to the transport's endpoint; `null` when the request failed or timed out (no answer). */
export function postFrames(
  base: string,
  docName: string,
  query: string,
  messages: readonly Uint8Array[],
  options: { headers?: Record<string, string>; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<HttpExchange | null> {
  const body = encodeFrames(messages)
  const url = `${base.replace(/^ws/, 'http')}/api/docs/${encodeURIComponent(docName)}/http?${query}`
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/octet-stream',
          'content-length': String(body.length),
          ...options.headers,
        },
        signal: options.signal,
        timeout: options.timeoutMs ?? 40_000,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('error', () => resolve(null))
        res.on('end', () => {
          const bytes = new Uint8Array(Buffer.concat(chunks))
          const status = res.statusCode ?? 0
          const header = res.headers['collab-close']
          if (status === 200) {
            const frames = decodeFrames(bytes)
            resolve(frames.ok ? { status, messages: frames.messages, close: null } : null)
          } else if (header !== undefined) {
            const parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as { code: number; reason: string }
            resolve({ status, messages: [], close: { code: Number(header), reason: parsed.reason } })
          } else {
            resolve({ status, messages: [], close: status === 403 ? { code: 4403, reason: 'guard' } : null })
          }
        })
      },
    )
    req.on('timeout', () => req.destroy(new Error('timed out')))
    req.on('error', () => resolve(null))
    req.end(body)
  })
}

/** A fresh session id ([HT1]): 128 random bits. */
export function newSessionId(): string {
  return randomBytes(16).toString('base64url')
}

export interface HttpSyncClientOptions {
  /** Base URLs (`http://` or `ws://`), taken in turn by every request: a round-robin balancer. */
  bases: string[]
  docName: string
  token?: string
  origin?: string
  /** How long a poll may be held ([HT1]). */
  waitMs?: number
  /** The client abandons a request not answered in this long ([HT8]). */
  requestTimeoutMs?: number
  /** Pause before a new session after a failed request or a retryable close. */
  retryMs?: number
  user?: { name: string; color: string }
  /** How long a base whose request failed is skipped. */
  failedBaseMs?: number
}

/** A Yjs document kept in sync over the HTTP transport. */
export class HttpSyncClient {
  readonly doc = new Y.Doc()
  readonly text = this.doc.getText('codemirror')
  readonly awareness = new Awareness(this.doc)
  session = newSessionId()
  /** Sessions started, the first included. */
  sessions = 1
  /** The terminal close the server ended the session with ([HT9]), if any. */
  closed: { code: number; reason: string } | null = null
  /** Every close answer received, terminal or not. */
  readonly closes: Array<{ code: number; reason: string }> = []
  /** Document messages the server acknowledged, over all requests. */
  acknowledged = 0
  /** Local updates not acknowledged yet. */
  unsaved = 0
  /** Requests answered with 200. */
  answered = 0
  private outbox: Uint8Array[] = []
  /** Whether each local update, in the order they were made, is acknowledged as stored. */
  readonly saved: boolean[] = []
  /** Messages that carry a local change, with its index in {@link saved}. */
  private readonly local = new WeakMap<Uint8Array, number>()
  /** Sync step 2 messages, with how many local updates each carries (all made before it). */
  private readonly step2Covers = new WeakMap<Uint8Array, number>()
  private sending = false
  private running = true
  private paused = false
  private turn = 0
  private readonly polls = new Set<AbortController>()
  private readonly failedUntil = new Map<string, number>()

  constructor(
    private readonly options: HttpSyncClientOptions,
    teardown: Teardown,
  ) {
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === this) return
      this.unsaved++
      const message = encodeSyncUpdate(update)
      this.local.set(message, this.saved.length)
      this.saved.push(false)
      this.queue(message)
    })
    this.awareness.on(
      'update',
      ({ added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => {
        const mine = this.doc.clientID
        // A remote removal of our own state raised its clock: announce it again ([HT10]).
        const reannounce = origin === this && removed.includes(mine) && this.awareness.getLocalState() !== null
        if (origin === this && !reannounce) return
        const changed = origin === this ? [mine] : [...added, ...updated, ...removed]
        this.queue(encodeAwareness(encodeAwarenessUpdate(this.awareness, changed)))
      },
    )
    if (options.user) this.awareness.setLocalStateField('user', options.user)
    teardown.defer(() => this.stop())
    void this.pollLoop()
  }

  /** Stops polling (a suspended laptop, a network gone), keeping the session id; {@link resume} goes on. */
  pause(): void {
    this.paused = true
    for (const poll of this.polls) poll.abort()
  }

  resume(): void {
    if (!this.paused) return
    this.paused = false
    void this.pollLoop()
    void this.flush()
  }

  /** Stops polling and sending; the server notices within [HT8]'s bound. */
  stop(): void {
    if (!this.running) return
    this.running = false
    for (const poll of this.polls) poll.abort()
    this.awareness.destroy()
    this.doc.destroy()
  }

  private headers(): Record<string, string> {
    return {
      ...(this.options.token !== undefined && { authorization: `Bearer ${this.options.token}` }),
      ...(this.options.origin !== undefined && { origin: this.options.origin }),
    }
  }

  /**
   * The next base in turn, skipping for a while one whose request failed: a balancer's passive health check
   * (nginx's `max_fails=1 fail_timeout=10s`).
   */
  private nextBase(): string {
    const bases = this.options.bases
    const now = Date.now()
    for (let tried = 0; tried < bases.length; tried++) {
      const base = bases[this.turn++ % bases.length] as string
      if ((this.failedUntil.get(base) ?? 0) <= now) return base
    }
    return bases[this.turn++ % bases.length] as string
  }

  private hello(): Uint8Array {
    return encodeHello([Capability.Heartbeat, Capability.SaveAck])
  }

  private async pollLoop(): Promise<void> {
    while (this.running && !this.paused && !this.closed) {
      const own = this.awareness.getLocalState() === null ? [] : [this.doc.clientID]
      const messages = [this.hello(), encodeSyncStep1(Y.encodeStateVector(this.doc))]
      if (own.length > 0) messages.push(encodeAwareness(encodeAwarenessUpdate(this.awareness, own)))
      const abort = new AbortController()
      this.polls.add(abort)
      const session = this.session
      const waitMs = this.options.waitMs ?? 20_000
      const base = this.nextBase()
      const exchange = await postFrames(base, this.options.docName, this.query(waitMs), messages, {
        headers: this.headers(),
        timeoutMs: this.options.requestTimeoutMs ?? waitMs + 10_000,
        signal: abort.signal,
      })
      this.polls.delete(abort)
      if (!this.running || this.paused) return
      await this.handleExchange(exchange, session, 0, base)
    }
  }

  private query(waitMs: number): string {
    return `session=${this.session}&wait=${waitMs}`
  }

  private queue(message: Uint8Array): void {
    if (!this.running) return
    this.outbox.push(message)
    void this.flush()
  }

  /** Sends what is queued, one request at a time ([HT4]). */
  private async flush(): Promise<void> {
    if (this.sending) return
    this.sending = true
    try {
      while (this.running && !this.paused && !this.closed && this.outbox.length > 0) {
        const batch = this.outbox
        this.outbox = []
        const docMessages = batch.filter((m) => m[0] === 0 && (m[1] === 1 || m[1] === 2)).length
        const locals = batch.filter((m) => this.local.has(m)).length
        const step2 = batch.some((m) => m[0] === 0 && m[1] === 1)
        const session = this.session
        const base = this.nextBase()
        const exchange = await postFrames(base, this.options.docName, this.query(0), [this.hello(), ...batch], {
          headers: this.headers(),
          timeoutMs: this.options.requestTimeoutMs ?? 30_000,
        })
        if (!this.running) return
        const saved = await this.handleExchange(exchange, session, docMessages, base)
        this.markSaved(batch, saved)
        if (docMessages > 0 && saved === docMessages) {
          // A step 2 carries every change made before it ([SA1]); updates carry their own.
          this.unsaved = step2 ? this.outbox.filter((m) => this.local.has(m)).length : this.unsaved - locals
        }
      }
    } finally {
      this.sending = false
    }
  }

  /** The first `count` document messages of `batch` are stored: so are the local updates they carry. */
  private markSaved(batch: readonly Uint8Array[], count: number): void {
    let left = count
    for (const message of batch) {
      if (left === 0) return
      if (message[0] !== 0 || (message[1] !== 1 && message[1] !== 2)) continue
      left--
      const index = this.local.get(message)
      if (index !== undefined) this.saved[index] = true
      const covers = this.step2Covers.get(message)
      if (covers !== undefined) this.saved.fill(true, 0, covers)
    }
  }

  /** Handles an answer; after a failed request or a retryable close, starts a new session ([HT6], [HT9]). */
  private async handleExchange(
    exchange: HttpExchange | null,
    session: string,
    docMessages: number,
    base: string,
  ): Promise<number> {
    if (exchange && exchange.status === 200) {
      this.answered++
      let saved = 0
      for (const data of exchange.messages) {
        const decoded = decodeMessage(data)
        if (!decoded.ok) continue
        if (decoded.message.type === 'saved') saved = Math.min(decoded.message.count, docMessages)
        this.receive(decoded.message)
      }
      this.acknowledged += saved
      return saved
    }
    if (exchange?.close) {
      this.closes.push(exchange.close)
      if (isTerminalCloseCode(exchange.close.code)) {
        this.closed = exchange.close
        return 0
      }
    }
    if (exchange === null) this.failedUntil.set(base, Date.now() + (this.options.failedBaseMs ?? 10_000))
    if (this.session === session) {
      // What the failed request carried may or may not be applied: a new session resends it in its step 2.
      this.session = newSessionId()
      this.sessions++
    }
    await new Promise((resolve) => setTimeout(resolve, this.options.retryMs ?? 100))
    return 0
  }

  private receive(message: Message): void {
    switch (message.type) {
      case 'sync-step-1': {
        const step2 = encodeSyncStep2(Y.encodeStateAsUpdate(this.doc, message.stateVector))
        this.step2Covers.set(step2, this.saved.length)
        this.queue(step2)
        return
      }
      case 'sync-step-2':
      case 'sync-update':
        Y.applyUpdate(this.doc, message.update, this)
        return
      case 'awareness':
        applyAwarenessUpdate(this.awareness, message.update, this)
        return
      default:
        return
    }
  }
}

/** What the engine needs to answer the transport's requests; @collab/server's SyncServer has it. */
interface HttpSyncEngine {
  handleHttpSync(request: {
    req: IncomingMessage
    docName: string
    body: Uint8Array
    signal: AbortSignal
  }): Promise<{ ok: true; body: Uint8Array } | { ok: false; code: number; reason: string; status: number } | null>
}

/**
 * Serves `POST /api/docs/<name>/http` with `engine` the way the app server does (apps/server/src/http-sync-api.ts),
 * for tests of the engine without the app.
 */
export function serveHttpTransport(engine: HttpSyncEngine): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const match = /^\/api\/docs\/([^/?]+)\/http(?:\?|$)/.exec(req.url ?? '')
    if (req.method !== 'POST' || !match) {
      res.writeHead(404).end()
      return
    }
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const left = new AbortController()
      res.once('close', () => {
        if (!res.writableFinished) left.abort()
      })
      const docName = decodeURIComponent(match[1] as string)
      void engine
        .handleHttpSync({ req, docName, body: new Uint8Array(Buffer.concat(chunks)), signal: left.signal })
        .then((answer) => {
          if (answer === null || res.destroyed) return
          if (answer.ok) {
            res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(answer.body)
            return
          }
          res
            .writeHead(answer.status, { 'content-type': 'application/json', 'collab-close': String(answer.code) })
            .end(JSON.stringify({ code: answer.code, reason: answer.reason }))
        })
    })
  }
}
