import { randomBytes } from 'node:crypto'
import { Agent, request } from 'node:http'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import * as Y from 'yjs'
import { encodeAwarenessEntry } from './client.js'
import { currentMeasurement, type Measurement } from './health.js'

// A bare load-generator client of our HTTP transport, written from docs/PROTOCOL.md ([HT1]-[HT10]) as
// packages/server/test/http-transport-client.ts is, but like client.ts's SyncClient it keeps no Y.Doc: hundreds fit
// in one process and receiving costs the same as for a WebSocket reader. What it holds is a state vector, kept from
// the end clocks of every update it received or sent, which is all a poll's sync step 1 needs.

// Message type numbers of docs/PROTOCOL.md (the same bytes as over WebSocket).
const Msg = { Sync: 0, Awareness: 1, Hello: 100, Ping: 101, Pong: 102, Saved: 103 } as const
const Sync = { Step1: 0, Step2: 1, Update: 2 } as const
/** A Yjs update that changes nothing: the answer to the server's sync step 1 of a client holding nothing new. */
const emptyUpdate = new Uint8Array([0, 0])

/** One keep-alive agent for every HTTP client of the run: a poll and a send per client, reusing their sockets. */
const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY })

/** Our provider's hello ([HB1], [SA1]): the same bytes at the start of every request ([HT3]). */
const hello = message(Msg.Hello, (e) => {
  encoding.writeVarUint(e, 2)
  encoding.writeVarString(e, 'heartbeat')
  encoding.writeVarString(e, 'save-ack')
})

/**
 * A client of one document over the HTTP transport: one poll always open (`wait`, 20 s by default), every poll
 * beginning with hello, sync step 1 (its state vector) and its own awareness entry ([HT3]); what it has to send goes
 * one request at a time beside the poll ([HT4]), with save acknowledgements per request ([HT6]). A request that
 * fails or is answered with a close is reported to the measurement like a WebSocket closed by the server (a failed
 * request as 1006), and the client stops: a benchmark whose connection broke measures nothing.
 */
export class HttpSyncClient {
  /** Requests answered with 200 (polls and sends). */
  answered = 0
  /** Polls answered with 200. */
  pollsAnswered = 0
  /** Document updates received (sync step 2 and update messages). */
  updatesReceived = 0
  /** The last request's `saved` counts added up: document messages the server acknowledged as stored. */
  acks = 0
  /** Sync step 2 and update messages sent: what `acks` counts up to once the server has them all. */
  docMessagesSent = 0
  /** Set once the transport failed or the server closed the session: the code ([HT9], 1006 for no answer). */
  closeCode: number | null = null
  closeReason = ''
  /** Called for every document update the server sends, with the time its answer was read in full. */
  onUpdate: ((update: Uint8Array, kind: 'step2' | 'update', at: number) => void) | null = null
  private readonly session = randomBytes(16).toString('base64url')
  private readonly endpoint: string
  private readonly port: number
  /** What this client holds: the end clock of each client's updates it received or sent. */
  private readonly stateVector = new Map<number, number>()
  /** This client's awareness entry, the same in every poll (clock 1: the state set once, as a provider does). */
  private readonly awarenessEntry: Uint8Array
  private outbox: Uint8Array[] = []
  private sending = false
  private running = true
  private synced = false
  private syncWaiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = []
  private readonly requests = new Set<AbortController>()
  private readonly measurement: Measurement | null = currentMeasurement()

  constructor(
    baseUrl: string,
    readonly docName: string,
    private readonly waitMs = 20_000,
  ) {
    const http = baseUrl.replace(/^ws/, 'http')
    this.port = Number(new URL(http).port)
    this.endpoint = `${http}/api/docs/${encodeURIComponent(docName)}/http?session=${this.session}`
    const clientId = randomBytes(4).readUInt32LE(0) >>> 1
    this.awarenessEntry = encodeAwarenessEntry(clientId, 1, { user: { name: `bench ${clientId}`, color: '#30bced' } })
    void this.pollLoop()
  }

  /** Resolves once the server has answered this client's first sync step 1 (the greeting of [SY1]). */
  whenSynced(): Promise<void> {
    if (this.synced) return Promise.resolve()
    if (this.closeCode !== null) return Promise.reject(this.closedError())
    // A session refused at its first request never syncs: it rejects with the close rather than hang.
    return new Promise((resolve, reject) => this.syncWaiters.push({ resolve, reject }))
  }

  /** Sends one document update (a keystroke) in the next request beside the poll. */
  sendUpdate(update: Uint8Array): void {
    this.note(update)
    this.docMessagesSent++
    this.queue(message(Msg.Sync, (e) => writeSync(e, Sync.Update, update)))
  }

  /** Throws if the transport failed or the server closed the session. */
  assertOpen(): void {
    if (this.closeCode !== null) throw this.closedError()
  }

  private closedError(): Error {
    return new Error(`HTTP session on ${this.docName} closed: ${this.closeCode} ${this.closeReason}`)
  }

  /** Stops polling and sending; the server ends the session within [HT8]'s bound. */
  stop(): void {
    this.running = false
    for (const controller of this.requests) controller.abort()
    this.requests.clear()
  }

  private async pollLoop(): Promise<void> {
    while (this.running) {
      const body = [hello, message(Msg.Sync, (e) => writeSync(e, Sync.Step1, this.encodeStateVector()))]
      body.push(message(Msg.Awareness, (e) => encoding.writeVarUint8Array(e, this.awarenessEntry)))
      const answer = await this.post(this.waitMs, body)
      if (!answer) return
      this.pollsAnswered++
    }
  }

  private queue(bytes: Uint8Array): void {
    if (!this.running) return
    this.outbox.push(bytes)
    void this.flush()
  }

  /** Sends what is queued, one request at a time ([HT4]); what is queued meanwhile goes in the next one. */
  private async flush(): Promise<void> {
    if (this.sending) return
    this.sending = true
    try {
      while (this.running && this.outbox.length > 0) {
        const batch = this.outbox
        this.outbox = []
        if (!(await this.post(0, [hello, ...batch]))) return
      }
    } finally {
      this.sending = false
    }
  }

  /** One request; handles its answer and returns true, or records the failure or close and returns false. */
  private async post(waitMs: number, messages: readonly Uint8Array[]): Promise<boolean> {
    const controller = new AbortController()
    this.requests.add(controller)
    const answer = await exchange(`${this.endpoint}&wait=${waitMs}`, frames(messages), controller.signal, waitMs)
    this.requests.delete(controller)
    if (!this.running) return false
    if (answer.ok) {
      this.answered++
      for (const data of answer.messages) this.receive(data, answer.at)
      return true
    }
    this.closed(answer.code, answer.reason)
    return false
  }

  private closed(code: number, reason: string): void {
    if (this.closeCode !== null) return
    this.closeCode = code
    this.closeReason = reason
    this.measurement?.connectionClosed(this.port, code, false)
    this.stop()
    const waiters = this.syncWaiters
    this.syncWaiters = []
    for (const waiter of waiters) waiter.reject(this.closedError())
  }

  private receive(data: Uint8Array, at: number): void {
    const decoder = decoding.createDecoder(data)
    switch (decoding.readVarUint(decoder)) {
      case Msg.Sync: {
        const sub = decoding.readVarUint(decoder)
        const payload = decoding.readVarUint8Array(decoder)
        if (sub === Sync.Step1) {
          // Nothing of ours is missing from the server but what is in flight: an empty step 2 ([SY1]).
          this.docMessagesSent++
          this.queue(message(Msg.Sync, (e) => writeSync(e, Sync.Step2, emptyUpdate)))
          return
        }
        this.updatesReceived++
        this.note(payload)
        if (sub === Sync.Step2 && !this.synced) {
          this.synced = true
          const waiters = this.syncWaiters
          this.syncWaiters = []
          for (const waiter of waiters) waiter.resolve()
        }
        this.onUpdate?.(payload, sub === Sync.Step2 ? 'step2' : 'update', at)
        return
      }
      case Msg.Saved:
        this.acks += decoding.readVarUint(decoder)
        if (this.measurement) this.measurement.acknowledgements++
        return
      case Msg.Ping:
        this.queue(message(Msg.Pong, () => undefined))
        return
      default:
        // Awareness, hello, pong: nothing the load generator acts on.
        return
    }
  }

  /** Adds what `update` holds to the state vector (the updates of this workload arrive without gaps). */
  private note(update: Uint8Array): void {
    for (const [client, clock] of Y.parseUpdateMeta(update).to) {
      if (clock > (this.stateVector.get(client) ?? 0)) this.stateVector.set(client, clock)
    }
  }

  /** The state vector in Yjs's encoding (what `Y.encodeStateVector` writes). */
  private encodeStateVector(): Uint8Array {
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, this.stateVector.size)
    for (const [client, clock] of this.stateVector) {
      encoding.writeVarUint(encoder, client)
      encoding.writeVarUint(encoder, clock)
    }
    return encoding.toUint8Array(encoder)
  }
}

type Answer = { ok: true; messages: Uint8Array[]; at: number } | { ok: false; code: number; reason: string; at: number }

/**
 * POSTs `body`; the answer's messages ([HT2]) and the time it was read in full, or the close of [HT9] (1006 when no
 * answer came within `waitMs` + 10 s, as [HT8]'s client gives up, or the request failed).
 */
function exchange(url: string, body: Uint8Array, signal: AbortSignal, waitMs: number): Promise<Answer> {
  return new Promise((resolve) => {
    const failed = (reason: string) => resolve({ ok: false, code: 1006, reason, at: performance.now() })
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        signal,
        timeout: waitMs + 10_000,
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(body.length) },
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('error', (err) => failed(err.message))
        res.on('end', () => {
          const at = performance.now()
          // A copy of its own: lib0 reads frames as views of the underlying buffer, which Node may share (its pool).
          const bytes = new Uint8Array(Buffer.concat(chunks))
          const status = res.statusCode ?? 0
          const close = res.headers['collab-close']
          if (status === 200) {
            const messages = unframe(bytes)
            if (messages) resolve({ ok: true, messages, at })
            else failed('answer does not split into whole frames')
          } else if (close !== undefined) {
            let reason = ''
            try {
              reason = (JSON.parse(Buffer.from(bytes).toString('utf8')) as { reason?: string }).reason ?? ''
            } catch {
              reason = Buffer.from(bytes).toString('utf8')
            }
            resolve({ ok: false, code: Number(close), reason, at })
          } else {
            failed(`HTTP ${status} without Collab-Close`)
          }
        })
      },
    )
    req.on('timeout', () => req.destroy(new Error('no answer in time')))
    req.on('error', (err) => failed(err.message))
    req.end(body)
  })
}

/** Messages framed as [HT2] says: each a lib0 varUint8Array. */
function frames(messages: readonly Uint8Array[]): Uint8Array {
  const encoder = encoding.createEncoder()
  for (const m of messages) encoding.writeVarUint8Array(encoder, m)
  return encoding.toUint8Array(encoder)
}

/** The messages of an answer's body, or null when it does not split into whole frames. */
function unframe(body: Uint8Array): Uint8Array[] | null {
  const decoder = decoding.createDecoder(body)
  const messages: Uint8Array[] = []
  try {
    while (decoding.hasContent(decoder)) messages.push(decoding.readVarUint8Array(decoder))
  } catch {
    return null
  }
  return messages
}

function message(type: number, write: (encoder: encoding.Encoder) => void): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, type)
  write(encoder)
  return encoding.toUint8Array(encoder)
}

function writeSync(encoder: encoding.Encoder, sub: number, payload: Uint8Array): void {
  encoding.writeVarUint(encoder, sub)
  encoding.writeVarUint8Array(encoder, payload)
}
