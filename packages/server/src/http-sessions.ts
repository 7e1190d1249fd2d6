import type { IncomingMessage } from 'node:http'
import { CloseCode, decodeFrames, docNameError } from '@collab/protocol'
import type { Logger } from 'pino'
import type { Admission, Refusal } from './admission.js'
import type { AuthResult } from './auth.js'
import type { ChannelEvents } from './channel.js'
import type { Connection } from './connection.js'
import { closeAnswer, HttpChannel, type HttpChannelHooks, type HttpSyncAnswer } from './http-channel.js'
import type { SyncObserver } from './observer.js'

// The sessions of the HTTP transport on this instance ([HT1]-[HT10] in docs/PROTOCOL.md): which requests may reach
// a session, the table of live session copies, and the closes remembered for requests that arrive after them.

/** One request of the HTTP transport, its body already read (the app reads it within its body limit). */
export interface HttpSyncRequest {
  /** For the query (`session`, `wait`), the `Origin`, `Host` and `Authorization` headers and the client address. */
  req: IncomingMessage
  /** The document, percent-decoded. */
  docName: string
  body: Uint8Array
  /** Aborted when the client goes away: its request is forgotten, its messages stay handled. */
  signal: AbortSignal
}

/** The longest a poll is held ([HT1]): well below the 60-75 s proxies wait for an answer. */
export const maxPollWaitMs = 20_000
/** How long the close of a session is remembered for later requests naming it ([HT9]). */
export const endedSessionMemoryMs = 60_000

const sessionPattern = /^[A-Za-z0-9_-]{16,64}$/

/** What the query of a request says ([HT1], [HT8]). */
export interface HttpSyncQuery {
  session: string
  /** How long the request may be held while there is nothing to send. */
  waitMs: number
  /** `end=1`: the client ends the session with this request ([HT8]). */
  end: boolean
}

/** The query of a request ([HT1]): the session, how long it may be held and whether it ends the session. */
export function parseHttpSyncQuery(url: string): HttpSyncQuery | { error: string } {
  const query = new URLSearchParams(url.split('?')[1] ?? '')
  const session = query.get('session')
  if (session === null || !sessionPattern.test(session)) {
    return { error: 'session must be 16 to 64 characters of A-Z, a-z, 0-9, _ and -' }
  }
  const end = query.get('end')
  if (end !== null && end !== '0' && end !== '1') return { error: 'end must be 0 or 1' }
  const wait = query.get('wait')
  let waitMs = 0
  if (wait !== null && wait !== '') {
    if (!/^\d{1,9}$/.test(wait)) return { error: 'wait must be a number of milliseconds' }
    waitMs = Math.min(Number(wait), maxPollWaitMs)
  }
  // A request that ends its session is answered at once.
  return { session, waitMs: end === '1' ? 0 : waitMs, end: end === '1' }
}

/** The close reason of a session its client ended ([HT8]). */
const endedByClient = 'session ended by the client'

/** The `Authorization: Bearer` token of a request, the only place the HTTP transport takes one from ([HT1]). */
export function bearerTokenOf(req: IncomingMessage): string | null {
  const header = req.headers.authorization
  if (!header?.startsWith('Bearer ')) return null
  return header.slice('Bearer '.length).trim() || null
}

/** What the session table needs from the engine. */
export interface HttpSessionHost {
  readonly closing: boolean
  readonly admission: Admission
  readonly logger: Logger
  readonly observer: SyncObserver
  readonly limits: HttpChannelHooks['limits']
  /**
   * Opens a connection over the channel `channelFor` makes and lets it into its document's room with `grant`,
   * giving the channel the hooks only the engine can answer: the connection's messages handled and stored, and the
   * removals its client missed.
   */
  open(
    docName: string,
    address: string,
    grant: Extract<AuthResult, { ok: true }>,
    channelFor: (events: ChannelEvents, hooks: Pick<HttpChannelHooks, 'settled' | 'missedRemovals'>) => HttpChannel,
  ): Connection
}

interface LiveSession {
  channel: HttpChannel
  conn: Connection
}

/** The HTTP sessions of one engine ([HT3]). */
export class HttpSessions {
  private readonly live = new Map<string, LiveSession>()
  /** Closes of sessions, oldest first, remembered for {@link endedSessionMemoryMs} ([HT9]). */
  private readonly ended = new Map<string, { code: number; reason: string; at: number }>()

  constructor(private readonly host: HttpSessionHost) {}

  /** Sessions open on this instance. */
  get size(): number {
    return this.live.size
  }

  /** Answers one request: `null` when the client left before its answer. */
  async handle(request: HttpSyncRequest): Promise<HttpSyncAnswer | null> {
    const { req, docName } = request
    const { admission } = this.host
    if (this.host.closing) return closeAnswer(CloseCode.GoingAway, 'server shutting down')
    const query = parseHttpSyncQuery(req.url ?? '')
    if ('error' in query) return closeAnswer(CloseCode.BadMessage, query.error)
    const nameError = docNameError(docName)
    if (nameError) return closeAnswer(CloseCode.UnknownDocument, nameError)
    const origin = admission.checkOrigin(req)
    if (origin) return this.refused(origin, req)
    const frames = decodeFrames(request.body)
    if (!frames.ok) return closeAnswer(CloseCode.BadMessage, frames.error)
    const key = `${docName}\n${query.session}`
    const ended = this.endedSession(key)
    if (ended) return closeAnswer(ended.code, ended.reason)
    const address = admission.addressOf(req)
    const verdict = await admission.authenticate(req, docName, address, bearerTokenOf(req))
    if (request.signal.aborted) return null
    const refusal = refusalOf(verdict)
    let session = this.live.get(key)
    if (session?.conn.closed) session = undefined
    if (refusal) {
      // The session is over, as a connection whose credentials expired ([AU4]) or whose hook failed ([AU7]).
      if (session) session.conn.close(refusal.code, refusal.message)
      return this.refused(refusal, req)
    }
    const grant = verdict as Extract<AuthResult, { ok: true }>
    if (session && session.conn.user !== grant.user) {
      return closeAnswer(CloseCode.Forbidden, 'the session belongs to another user')
    }
    if (query.end && !session) {
      // Nothing of it here (yet): a request of it that was overtaken by this one must not open it afterwards. What
      // such a request carried rides in the client's next connection, as after any closed connection ([DU3]).
      this.remember(key, CloseCode.Normal, endedByClient)
      return { ok: true, body: new Uint8Array(0) }
    }
    if (session) {
      // The latest credentials apply, their expiry included ([AU4]).
      session.conn.admit(grant)
    } else {
      const limit = admission.checkUpgrade(req, null, address)
      if (limit) return this.refused(limit, req)
      session = this.openSession(key, docName, address, grant)
    }
    if (!query.end) return session.channel.request(frames.messages, query.waitMs, request.signal)
    // Its messages are handled (and stored, as for any request) first; then the session closes like a WebSocket
    // closed by its client: its presence goes for everyone at once instead of after the liveness bound.
    const answer = await session.channel.request(frames.messages, 0, request.signal)
    session.conn.close(CloseCode.Normal, endedByClient)
    return answer
  }

  private openSession(key: string, docName: string, address: string, grant: Extract<AuthResult, { ok: true }>) {
    let channel: HttpChannel | undefined
    const conn = this.host.open(docName, address, grant, (events, engineHooks) => {
      channel = new HttpChannel(
        {
          ...events,
          closed: (code) => {
            if (this.live.get(key)?.channel === channel) this.live.delete(key)
            events.closed(code)
          },
        },
        {
          ...engineHooks,
          limits: this.host.limits,
          closed: (code, reason) => this.remember(key, code, reason),
        },
      )
      return channel
    })
    if (!channel) throw new Error('HttpSessionHost.open did not make the channel')
    const session = { channel, conn }
    if (!conn.closed) this.live.set(key, session)
    return session
  }

  private refused(refusal: Refusal, req: IncomingMessage): HttpSyncAnswer {
    this.host.logger.info(
      { url: req.url?.split('?')[0], error: refusal.message, code: refusal.code },
      'http request refused',
    )
    this.host.observer.connectionRefused?.(refusal.reason, refusal.code)
    return closeAnswer(refusal.code, refusal.message)
  }

  private remember(key: string, code: number, reason: string): void {
    this.ended.delete(key)
    this.ended.set(key, { code, reason, at: Date.now() })
  }

  /** The close a session ended with, if remembered; forgets closes older than {@link endedSessionMemoryMs}. */
  private endedSession(key: string): { code: number; reason: string } | undefined {
    const now = Date.now()
    for (const [oldKey, ended] of this.ended) {
      if (now - ended.at <= endedSessionMemoryMs) break
      this.ended.delete(oldKey)
    }
    return this.ended.get(key)
  }
}

/** A verdict of the auth hook that refuses, as a refusal. */
function refusalOf(verdict: AuthResult | Refusal): Refusal | null {
  if ('reason' in verdict && 'message' in verdict) return verdict
  if (!verdict.ok) return { reason: 'auth', code: verdict.code, message: verdict.reason }
  return null
}
