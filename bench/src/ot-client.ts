import { collab, getSyncedVersion, receiveUpdates, sendableUpdates } from '@codemirror/collab'
import { ChangeSet, EditorState } from '@codemirror/state'
import { encodeMessage, type OtEntryJSON, type OtServerMessage, parseServerMessage, textOf } from '@collab/ot'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { WebSocket } from 'ws'
import { watchCloses } from './client.js'
import { currentMeasurement } from './health.js'

// Message types of docs/PROTOCOL.md: hello, ping/pong, saved and the collab (OT) message carrying one JSON object.
const Msg = { Hello: 100, Ping: 101, Pong: 102, Saved: 103, Collab: 104 } as const

type ClientMessage = Parameters<typeof encodeMessage>[0]

/**
 * A @codemirror/collab client of ours ([OT1]-[OT7] in docs/PROTOCOL.md) for the load generator, on a headless
 * EditorState: it announces `hello` (heartbeat, save-ack), joins, and applies received log entries one per
 * `receiveUpdates` call ([OT4]), as our editor's OT session does (packages/editor/src/ot-session.ts). The same
 * approach as the server tests' client (packages/server/test/ot-client.ts), without their reset and tracing.
 *
 * Two ways of following the log:
 * - `holdBack` off (an editor): every entry is applied as it arrives, one push is in flight at a time and it ends
 *   when the client's own entry comes back; then whatever was typed meanwhile goes in the next push.
 * - `holdBack` on (a client that lags): entries are kept and only applied when {@link catchUp} is called, so its
 *   pushes are based on an older version and the server rebases them ([OT4]); each push carries every unconfirmed
 *   update (the server skips the ones it already has), and the push ends with its `saved` acknowledgement ([SA1]),
 *   which comes once the server has applied and stored it.
 */
export class OtBenchClient {
  readonly ws: WebSocket
  readonly opened: Promise<void>
  readonly closed: Promise<void>
  state: EditorState | null = null
  clientID: string | null = null
  closeCode: number | null = null
  closeReason = ''
  /** Entries received and not applied yet (hold-back mode), from version `synced + 1` on. */
  readonly held: OtEntryJSON[] = []
  /** Push messages sent, and how many of them the server acknowledged as stored. */
  pushesSent = 0
  saved = 0
  /** A push was sent and has not ended yet (see the modes above). */
  inFlight = false
  /** When the push in flight was sent. */
  pushSentAt = 0
  /** Updates of the push in flight not yet seen as own entries (echo mode). */
  private awaitingOwn = 0
  /** Errors while handling messages: the client and the server disagree, and the measurement fails. */
  readonly errors: string[] = []
  /** Called when a push is sent, with when and how many updates it carries. */
  onPushSent: ((sentAt: number, updates: number) => void) | null = null
  /** Called for every log entry, at the time its message was read off the socket, with its version. */
  onEntry: ((entry: OtEntryJSON, version: number, at: number) => void) | null = null
  /** Called when a push ends (own entries back, or saved in hold-back mode), with when it was sent. */
  onPushDone: ((sentAt: number, at: number, updates: number) => void) | null = null
  /** Called after each `saved`. */
  onSaved: (() => void) | null = null
  private welcomeWaiters: Array<() => void> = []
  private pushUpdates = 0
  /** The measurement this client was created in: it hears of this client's close and acknowledgements. */
  private readonly measurement = currentMeasurement()

  constructor(
    baseUrl: string,
    readonly docName: string,
    readonly holdBack = false,
  ) {
    this.ws = new WebSocket(`${baseUrl}/${encodeURIComponent(docName)}?sync=ot`, { perMessageDeflate: false })
    this.ws.binaryType = 'nodebuffer'
    watchCloses(this.ws, baseUrl, this.measurement)
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => {
        this.ws.send(frame(Msg.Hello, (e) => writeStrings(e, ['heartbeat', 'save-ack'])))
        this.send({ t: 'join', epoch: null, version: null, secret: null })
        resolve()
      })
      this.ws.once('error', reject)
    })
    this.opened.catch(() => undefined)
    this.closed = new Promise((resolve) =>
      this.ws.once('close', (code: number, reason: Buffer) => {
        this.closeCode = code
        this.closeReason = reason.toString()
        for (const waiter of this.welcomeWaiters.splice(0)) waiter()
        resolve()
      }),
    )
    this.ws.on('error', () => undefined)
    this.ws.on('message', (data: Buffer) => {
      try {
        this.receive(data)
      } catch (err) {
        this.errors.push(err instanceof Error ? err.message : String(err))
      }
    })
  }

  /** Resolves once welcomed (the document is held); throws if the connection closed first. */
  async welcomed(): Promise<void> {
    if (!this.state) await new Promise<void>((resolve) => this.welcomeWaiters.push(resolve))
    this.assertOk()
  }

  /** The version the client's state is synced to. */
  get version(): number {
    return this.state ? getSyncedVersion(this.state) : -1
  }

  /** The latest version it has received (applied or held). */
  get receivedVersion(): number {
    return this.version + this.held.length
  }

  get text(): string {
    return this.state?.doc.toString() ?? ''
  }

  get unconfirmed(): number {
    return this.state ? sendableUpdates(this.state).length : 0
  }

  /** Throws if the server closed the connection or a message could not be handled. */
  assertOk(): void {
    if (this.errors.length > 0) throw new Error(`OT client ${this.clientID}: ${this.errors[0]}`)
    if (this.closeCode !== null) {
      throw new Error(`server closed an OT connection to ${this.docName}: ${this.closeCode} ${this.closeReason}`)
    }
  }

  /** A local edit; pushed at once unless a push is in flight. */
  edit(from: number, to: number, insert: string): void {
    if (!this.state) throw new Error('not welcomed')
    this.state = this.state.update({ changes: { from, to, insert } }).state
    this.push()
  }

  /** Sends every unconfirmed update, based on the synced version, unless a push is in flight. */
  push(): void {
    if (!this.state || this.inFlight || this.closeCode !== null) return
    const updates = sendableUpdates(this.state)
    if (updates.length === 0) return
    this.inFlight = true
    this.pushesSent++
    this.pushUpdates = updates.length
    this.awaitingOwn = updates.length
    const message = this.encode({
      t: 'push',
      version: getSyncedVersion(this.state),
      updates: updates.map((update) => ({ changes: update.changes.toJSON() })),
    })
    // Latency runs from just before the send, as in the relay workload.
    this.pushSentAt = performance.now()
    this.ws.send(message)
    this.onPushSent?.(this.pushSentAt, updates.length)
  }

  /** Applies every held entry, one per `receiveUpdates` call ([OT4]). */
  catchUp(): void {
    const state = this.state
    if (!state || this.held.length === 0) return
    let next = state
    for (const entry of this.held) {
      next = receiveUpdates(next, [{ changes: ChangeSet.fromJSON(entry.changes), clientID: entry.clientID }]).state
    }
    this.held.length = 0
    this.state = next
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve()
    this.ws.close()
    return this.closed
  }

  private send(message: ClientMessage): void {
    this.ws.send(this.encode(message))
  }

  private encode(message: ClientMessage): Uint8Array {
    const json = encodeMessage(message)
    return frame(Msg.Collab, (e) => encoding.writeVarString(e, json))
  }

  private receive(data: Buffer): void {
    const at = performance.now()
    const decoder = decoding.createDecoder(data)
    const type = decoding.readVarUint(decoder)
    switch (type) {
      case Msg.Ping:
        this.ws.send(frame(Msg.Pong, () => undefined))
        return
      case Msg.Saved:
        this.saved = decoding.readVarUint(decoder)
        if (this.measurement) this.measurement.acknowledgements++
        if (this.holdBack && this.inFlight && this.saved >= this.pushesSent) {
          this.inFlight = false
          this.onPushDone?.(this.pushSentAt, at, this.pushUpdates)
        }
        this.onSaved?.()
        return
      case Msg.Collab: {
        const parsed = parseServerMessage(decoding.readVarString(decoder))
        if (!parsed.ok) throw new Error(parsed.error)
        this.handle(parsed.message, at)
        return
      }
      case Msg.Hello:
      case Msg.Pong:
        return
      default:
        // [OT1]: an OT connection is sent no sync or awareness messages.
        throw new Error(`an OT connection received message type ${type}`)
    }
  }

  private handle(message: OtServerMessage, at: number): void {
    switch (message.t) {
      case 'welcome': {
        if (message.doc === undefined) throw new Error('a new client was welcomed without the document')
        this.clientID = message.clientID
        this.state = EditorState.create({
          doc: textOf(message.doc),
          extensions: [
            EditorState.lineSeparator.of('\n'),
            collab({ startVersion: message.version, clientID: message.clientID }),
          ],
        })
        for (const waiter of this.welcomeWaiters.splice(0)) waiter()
        return
      }
      case 'updates': {
        const expected = this.receivedVersion
        if (message.version > expected)
          throw new Error(`gap: holding version ${expected}, got entries after ${message.version}`)
        let version = message.version
        for (const entry of message.updates) {
          version++
          if (version <= expected) continue
          this.onEntry?.(entry, version, at)
          if (this.holdBack) this.held.push(entry)
          else this.applyOne(entry, at)
        }
        return
      }
      case 'presence':
        return
    }
  }

  /** Applies one entry as it arrives (echo mode); the push in flight ends with its last own entry. */
  private applyOne(entry: OtEntryJSON, at: number): void {
    const state = this.state
    if (!state) return
    const changes = ChangeSet.fromJSON(entry.changes)
    this.state = receiveUpdates(state, [{ changes, clientID: entry.clientID }]).state
    if (entry.clientID !== this.clientID || !this.inFlight) return
    if (--this.awaitingOwn > 0) return
    this.inFlight = false
    this.onPushDone?.(this.pushSentAt, at, this.pushUpdates)
    // Whatever was typed while the push was in flight goes now, as the editor does.
    this.push()
  }
}

function frame(type: number, write: (encoder: encoding.Encoder) => void): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, type)
  write(encoder)
  return encoding.toUint8Array(encoder)
}

function writeStrings(encoder: encoding.Encoder, values: readonly string[]): void {
  encoding.writeVarUint(encoder, values.length)
  for (const value of values) encoding.writeVarString(encoder, value)
}
