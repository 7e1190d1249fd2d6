import { decodeFrames, decodeMessage, encodeFrames, encodeSaved } from '@collab/protocol'
import type { Transport, TransportEvents } from './transport.js'

/** What an HTTP transport needs besides its event handlers. */
export interface HttpTransportOptions {
  /** The document's HTTP endpoint ({@link httpEndpoint}); the transport adds `session` and `wait`. */
  url: string
  /** Sent as `Authorization: Bearer <token>` on every request ([HT1]); never a cookie, never the URL. */
  token: string | undefined
  fetch: typeof fetch
  /** The client's hello, which begins every request ([HT3]). */
  hello: Uint8Array
  /** What the client holds, carried by every poll ([HT3]): sync step 1, its own presence. */
  pollState(): Uint8Array[]
  /** How long the server may hold a poll while it has nothing to send ([HT1]). Default (and at most) 20,000 ms. */
  pollWaitMs?: number
  /**
   * A request carrying messages that is not answered this long after it was sent ends the session ([HT6]). The
   * server answers once the request's updates are stored, normally within milliseconds. Default 15,000 ms.
   */
  sendTimeoutMs?: number
}

/**
 * The document's HTTP endpoint ([HT1]) under `base`: the server's WebSocket URL (`ws:` read as `http:`, `wss:` as
 * `https:`) or its HTTP URL, with any path prefix kept. `params` are further query parameters.
 */
export function httpEndpoint(base: string, docName: string, params: Readonly<Record<string, string>> = {}): string {
  const url = new URL(base)
  if (url.protocol === 'ws:') url.protocol = 'http:'
  else if (url.protocol === 'wss:') url.protocol = 'https:'
  else if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SyntaxError(`the HTTP transport needs a ws(s) or http(s) server URL, got ${base}`)
  }
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/api/docs/${encodeURIComponent(docName)}/http`
  url.search = ''
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value)
  return url.toString()
}

/**
 * Opens an HTTP long-polling session ([HT1]-[HT10]) and reports it as a {@link Transport}. The session lives in
 * its requests, not in a server instance: every request begins with hello and every poll restates what the client
 * holds, so any instance behind a balancer can answer any of them. One poll and one request carrying messages are
 * in flight at a time; messages sent meanwhile go together in the next request, in order. Every answer is complete
 * in itself, so a proxy that buffers responses delays nothing beyond the server's own answer.
 */
export function openHttpTransport(options: HttpTransportOptions, events: TransportEvents): Transport {
  return new HttpTransport(options, events)
}

/** The longest a server holds a poll ([HT1]). */
const maxPollWaitMs = 20_000
/** How much longer than its `wait` a poll may take before it is abandoned ([HT8]). */
const pollGraceMs = 10_000
/** Browsers refuse `keepalive` requests whose bodies (all in flight together) pass 64 KiB. */
const maxKeepaliveBytes = 60_000

class HttpTransport implements Transport {
  readonly kind = 'http'
  private readonly options: HttpTransportOptions
  private readonly events: TransportEvents
  private readonly session = newSessionId()
  /** Aborts the requests in flight when the transport ends. */
  private readonly abort = new AbortController()
  private ended = false
  private polling = false
  private sending = false
  /** Messages waiting for the next request that carries messages. */
  private outbox: Uint8Array[] = []
  /** Document messages carried by the session's earlier requests: `saved` counts per request ([HT6]). */
  private documentMessagesSent = 0

  constructor(options: HttpTransportOptions, events: TransportEvents) {
    this.options = options
    this.events = events
    // No handshake of its own: the connection's first messages (sync step 1, presence) make the first request,
    // whose answer is the server's greeting; polling starts once it came, so its sync step 1 is not answered twice.
    queueMicrotask(() => {
      if (this.ended) return
      this.events.opened()
      if (this.outbox.length === 0) this.poll()
    })
  }

  get isOpen(): boolean {
    return !this.ended
  }

  send(message: Uint8Array): void {
    if (this.ended) return
    this.outbox.push(message)
    // From a microtask, so that what one task sends (sync step 1 and presence, a burst of updates) is one request.
    if (this.outbox.length === 1 && !this.sending) queueMicrotask(() => this.flush())
  }

  close(_code: number, _reason: string): void {
    if (this.ended) return
    this.ended = true
    this.abort.abort()
    // A last request ends the session on the server at once ([HT8]: `end=1`), so it does not stay a connection with
    // this client's presence for the liveness bound (as it would beside the WebSocket the connection moves to).
    // What was queued goes with it (the presence removal of a provider being destroyed, say); `keepalive` lets it
    // outlive the page, for bodies within the 64 KiB browsers allow it. Its answer is not read: nothing waits for
    // it, and what it carried without an acknowledgement goes again with the next connection's sync step 2. Should
    // it fail, the server ends the session after the liveness bound anyway.
    const last = this.outbox.splice(0)
    this.request(last, 0, { last: true, timeoutMs: this.options.sendTimeoutMs ?? 15_000 }).catch((err: unknown) => {
      if (last.length > 0) console.warn('[collab] the last HTTP request of a session failed', err)
    })
  }

  private poll(): void {
    if (this.ended || this.polling) return
    this.polling = true
    const wait = Math.min(this.options.pollWaitMs ?? maxPollWaitMs, maxPollWaitMs)
    this.exchange(this.options.pollState(), wait, wait + pollGraceMs, () => {
      this.polling = false
      this.poll()
    })
  }

  private flush(): void {
    if (this.ended || this.sending || this.outbox.length === 0) return
    this.sending = true
    const messages = this.outbox.splice(0)
    const base = this.documentMessagesSent
    this.documentMessagesSent += messages.filter(isDocumentMessage).length
    this.exchange(
      messages,
      0,
      this.options.sendTimeoutMs ?? 15_000,
      // The first answer was the greeting: from now on a poll is always open.
      () => this.poll(),
      base,
      () => {
        // What waited for this answer goes before the answer is handled: typing behind the proxy reaches the
        // others one round trip sooner.
        this.sending = false
        this.flush()
      },
    )
  }

  /**
   * One request and its answer. `answered` runs first; then the answer's messages are delivered in order, a `saved
   * N` (which counts the request's own document messages, [HT6]) as the session-wide count the connection keeps;
   * then `next` runs.
   */
  private exchange(
    messages: Uint8Array[],
    wait: number,
    timeoutMs: number,
    next: () => void,
    base = 0,
    answered?: () => void,
  ): void {
    this.request(messages, wait, { timeoutMs }).then(
      (answer) => {
        if (this.ended) return
        answered?.()
        for (const message of answer) {
          if (this.ended) return
          this.events.message(base > 0 ? sessionCount(message, base) : message)
        }
        if (!this.ended) next()
      },
      (err: unknown) => {
        if (this.ended) return
        const { code, reason } = err instanceof RequestFailed ? err : { code: 1006, reason: String(err) }
        this.ended = true
        this.abort.abort()
        this.events.closed(code, reason)
      },
    )
  }

  /** Sends one request; resolves with the messages of its answer, or rejects with a {@link RequestFailed}. */
  private async request(
    messages: Uint8Array[],
    wait: number,
    extra: { timeoutMs?: number; last?: boolean },
  ): Promise<Uint8Array[]> {
    const url = new URL(this.options.url)
    url.searchParams.set('session', this.session)
    url.searchParams.set('wait', String(wait))
    if (extra.last) url.searchParams.set('end', '1')
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' }
    if (this.options.token !== undefined) headers.authorization = `Bearer ${this.options.token}`
    const what = wait > 0 ? 'poll' : 'request'
    // Aborted when the transport ends (except the last request, which must outlive it) or when it takes too long.
    const controller = new AbortController()
    const stop = () => controller.abort()
    if (!extra.last) this.abort.signal.addEventListener('abort', stop)
    const body = encodeFrames([this.options.hello, ...messages]) as Uint8Array<ArrayBuffer>
    let timedOut = false
    const timer =
      extra.timeoutMs === undefined
        ? null
        : setTimeout(() => {
            timedOut = true
            controller.abort()
          }, extra.timeoutMs)
    const failed = (err: unknown) =>
      new RequestFailed(
        timedOut ? 4000 : 1006,
        timedOut ? `no answer to an HTTP ${what} in ${extra.timeoutMs} ms` : `HTTP ${what} failed: ${String(err)}`,
      )
    try {
      let response: Response
      let answer: Uint8Array
      try {
        response = await this.options.fetch(url, {
          method: 'POST',
          headers,
          body,
          // The token is in a header: no cookie goes, so no page of another site can act in this session.
          credentials: 'omit',
          cache: 'no-store',
          keepalive: extra.last === true && body.length < maxKeepaliveBytes,
          signal: controller.signal,
        })
        answer = new Uint8Array(await response.arrayBuffer())
      } catch (err) {
        throw failed(err)
      }
      if (!response.ok) throw refusalOf(response, answer)
      const frames = decodeFrames(answer)
      if (!frames.ok) throw new RequestFailed(1006, `the server's answer does not split into messages: ${frames.error}`)
      return frames.messages
    } finally {
      if (timer) clearTimeout(timer)
      this.abort.signal.removeEventListener('abort', stop)
    }
  }
}

/** A request that failed or was refused, with the close code it stands for ([HT9]). */
class RequestFailed extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
  ) {
    super(reason)
  }
}

/**
 * The close code of a refused request ([HT9]): the server's `Collab-Close` header (its reason in the JSON body).
 * A status without it came from elsewhere (a proxy's 502): a failed request, 1006, retried with backoff; except a
 * 403, which is the server's Host/Origin guard, final as 4403.
 */
function refusalOf(response: Response, body: Uint8Array): RequestFailed {
  const header = Number(response.headers.get('collab-close'))
  const json = jsonOf(response, body)
  // The header is hidden from a page of another origin unless the server exposes it; the JSON body never is.
  const code = Number.isInteger(header) && header > 0 ? header : typeof json?.code === 'number' ? json.code : null
  const reason = typeof json?.reason === 'string' ? json.reason : ''
  if (code !== null) return new RequestFailed(code, reason || `refused with ${code}`)
  if (response.status === 403) return new RequestFailed(4403, reason || 'forbidden (Host/Origin not allowed)')
  return new RequestFailed(1006, `the HTTP transport was answered ${response.status}`)
}

function jsonOf(response: Response, body: Uint8Array): { code?: unknown; reason?: unknown } | null {
  if (!(response.headers.get('content-type') ?? '').startsWith('application/json')) return null
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(body))
    return typeof parsed === 'object' && parsed !== null ? parsed : null
  } catch (err) {
    console.warn('[collab] an HTTP refusal with unreadable JSON', err)
    return null
  }
}

/** A sync step 2 or update: the messages the server counts for `saved` ([SA1]). */
function isDocumentMessage(message: Uint8Array): boolean {
  return message[0] === 0 && (message[1] === 1 || message[1] === 2)
}

/** `saved N` of a request whose document messages follow `base` earlier ones, as `saved base + N`. */
function sessionCount(message: Uint8Array, base: number): Uint8Array {
  const decoded = decodeMessage(message)
  if (!decoded.ok || decoded.message.type !== 'saved') return message
  return encodeSaved(base + decoded.message.count)
}

/** 128 random bits as 22 characters of `A-Z a-z 0-9 _ -` ([HT1]). */
function newSessionId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '')
}
