import { collab, getSyncedVersion, receiveUpdates, sendableUpdates } from '@codemirror/collab'
import { ChangeSet, EditorState, type Text } from '@codemirror/state'
import { encodeMessage, type OtPeer, type OtServerMessage, parseServerMessage, rebaseOnto, textOf } from '@collab/ot'
import { Capability, decodeMessage, encodeCollab, encodeHello } from '@collab/protocol'
import type { Teardown } from '@collab/test-support'
import { WebSocket } from 'ws'

/**
 * A @codemirror/collab client over the wire protocol of docs/PROTOCOL.md [OT1]-[OT8], on a headless EditorState:
 * what a third party would write from the spec, used by the tests to drive the server as OT clients do.
 */
export class OtTestClient {
  state: EditorState | null = null
  epoch: string | null = null
  secret: string | null = null
  clientID: string | null = null
  closeCode: number | null = null
  closeReason = ''
  saved = 0
  sentDocMessages = 0
  peers: OtPeer[] = []
  presenceVersion = 0
  readOnly = false
  /** Welcomes received with the whole document (resets). */
  resets = 0
  /** The text at the synced version: what the server confirmed. */
  confirmed: Text | null = null
  /** Own updates seen confirmed, over the client's life ([OT7]). */
  confirmedCount = 0
  /** Text inserted by the pushes the server acknowledged as stored ([SA1]), over the client's life. */
  readonly ackedInserts = new Set<string>()
  /** Text inserted by each push of the current connection, by its number. */
  private pushedInserts: string[][] = []
  /** What happened, for a failing test to print (pushes, own confirmations, resets). */
  readonly trace: string[] = []
  /** Errors while handling a message (a test failure: the client and the server disagree). */
  readonly errors: string[] = []
  /** While set, received messages are ignored: what a connection that is dying without knowing it does. */
  deaf = false
  private ws: WebSocket | null = null
  /** Document messages sent on this connection whose `saved` has not arrived: one push in flight at a time. */
  private inFlight = 0
  private readonly listeners = new Set<() => void>()

  constructor(
    private readonly url: string,
    private readonly teardown?: Teardown,
    /** Push automatically after each edit and each received batch. */
    private readonly autoPush = true,
  ) {}

  /** Open and welcomed. */
  get connected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN && this.welcomedOn === this.ws
  }

  /** Open or opening. */
  get active(): boolean {
    return this.ws !== null && this.ws.readyState <= WebSocket.OPEN
  }

  get text(): string {
    return this.state?.doc.toString() ?? ''
  }

  get version(): number {
    return this.state ? getSyncedVersion(this.state) : -1
  }

  get unconfirmed(): number {
    return this.state ? sendableUpdates(this.state).length : 0
  }

  /** Opens a connection and joins; resolves once welcomed. */
  connect(): Promise<void> {
    if (this.connecting) return this.connecting
    this.connecting = this.open().finally(() => {
      this.connecting = null
    })
    return this.connecting
  }

  private connecting: Promise<void> | null = null

  private open(): Promise<void> {
    this.deaf = false
    const ws = new WebSocket(`${this.url}${this.url.includes('?') ? '&' : '?'}sync=ot`)
    ws.binaryType = 'nodebuffer'
    this.ws = ws
    this.inFlight = 0
    this.closeCode = null
    this.saved = 0
    this.sentDocMessages = 0
    this.pushedInserts = []
    this.teardown?.defer(() => ws.terminate())
    ws.on('message', (data: Buffer) => {
      // A replaced connection's late messages mean nothing to the client now.
      if (this.ws === ws) this.receive(new Uint8Array(data))
    })
    ws.on('close', (code, reason) => {
      if (this.ws !== ws) return
      this.closeCode = code
      this.closeReason = reason.toString()
      this.notify()
    })
    ws.on('error', () => undefined)
    return new Promise((resolve, reject) => {
      ws.once('open', () => {
        ws.send(encodeHello([Capability.Heartbeat, Capability.SaveAck]))
        this.sendCollab({
          t: 'join',
          epoch: this.epoch,
          version: this.state ? this.version : null,
          secret: this.secret,
        })
      })
      const timer = setTimeout(() => {
        this.listeners.delete(welcomed)
        reject(new Error(`no welcome within 5 s (socket state ${ws.readyState}, errors: ${this.errors.join('; ')})`))
      }, 5_000)
      const welcomed = () => {
        if (this.clientID !== null && this.state && this.welcomedOn === ws) {
          this.listeners.delete(welcomed)
          clearTimeout(timer)
          resolve()
        } else if (this.closeCode !== null || this.ws !== ws) {
          this.listeners.delete(welcomed)
          clearTimeout(timer)
          reject(new Error(`closed with ${this.closeCode} ${this.closeReason}`))
        }
      }
      this.listeners.add(welcomed)
    })
  }

  private welcomedOn: WebSocket | null = null

  /** Drops the connection without a closing handshake, losing whatever is in flight. */
  drop(): void {
    const ws = this.ws
    this.ws = null
    ws?.terminate()
  }

  close(): void {
    const ws = this.ws
    this.ws = null
    ws?.close()
  }

  /** Sends raw JSON as a collab message (for hostile tests). */
  sendRaw(json: string): void {
    this.ws?.send(encodeCollab(json))
  }

  /** A local edit, pushed when possible. */
  edit(from: number, to: number, insert: string): void {
    if (!this.state) throw new Error('not welcomed')
    this.state = this.state.update({ changes: { from, to, insert } }).state
    if (this.autoPush) this.push()
  }

  /** Sends the unconfirmed updates unless a push is in flight. */
  push(): void {
    if (!this.state || !this.connected || this.inFlight > 0) return
    const updates = sendableUpdates(this.state)
    if (updates.length === 0) return
    this.inFlight++
    this.sentDocMessages++
    const inserted: string[] = []
    for (const update of updates) {
      update.changes.iterChanges((_fromA, _toA, _fromB, _toB, text) => {
        if (text.length > 0) inserted.push(text.toString())
      })
    }
    this.pushedInserts.push(inserted)
    this.trace.push(`push #${this.sentDocMessages} base ${getSyncedVersion(this.state)}: ${inserted.join(' ')}`)
    this.sendCollab({
      t: 'push',
      version: getSyncedVersion(this.state),
      updates: updates.map((update) => ({ changes: update.changes.toJSON() })),
    })
  }

  sendPresence(selection: { anchor: number; head: number } | null, user = { name: 'OT', color: '#aa3300' }): void {
    if (!this.state) return
    this.sendCollab({ t: 'presence', version: getSyncedVersion(this.state), user, selection })
  }

  /** Resolves when `condition` holds after a message (or at once). */
  until(what: string, condition: () => boolean, timeoutMs = 5_000): Promise<void> {
    if (condition()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(check)
        reject(new Error(`timed out waiting for ${what}`))
      }, timeoutMs)
      const check = () => {
        if (!condition()) return
        clearTimeout(timer)
        this.listeners.delete(check)
        resolve()
      }
      this.listeners.add(check)
    })
  }

  private sendCollab(message: Parameters<typeof encodeMessage>[0]): void {
    this.ws?.send(encodeCollab(encodeMessage(message)))
  }

  private receive(data: Uint8Array): void {
    if (this.deaf) return
    const decoded = decodeMessage(data)
    if (!decoded.ok) throw new Error(decoded.error)
    const message = decoded.message
    if (message.type === 'hello') this.readOnly = message.capabilities.includes(Capability.ReadOnly)
    if (message.type === 'saved') {
      this.trace.push(`saved ${message.count} unconfirmed ${this.unconfirmed}`)
      this.saved = message.count
      for (const inserted of this.pushedInserts.slice(0, message.count))
        for (const text of inserted) this.ackedInserts.add(text)
      this.inFlight = Math.max(0, this.sentDocMessages - this.saved)
      if (this.autoPush) this.push()
    }
    if (message.type === 'sync-step-1' || message.type === 'sync-update' || message.type === 'awareness') {
      throw new Error(`an OT connection received ${message.type}`)
    }
    if (message.type === 'collab') {
      const parsed = parseServerMessage(message.json)
      if (!parsed.ok) throw new Error(parsed.error)
      try {
        this.handle(parsed.message)
      } catch (err) {
        this.errors.push(
          `${err instanceof Error ? err.message : String(err)} handling ${message.json.slice(0, 300)} at ${this.version}`,
        )
        throw err
      }
    }
    this.notify()
  }

  private handle(message: OtServerMessage): void {
    switch (message.t) {
      case 'welcome':
        this.clientID = message.clientID
        this.secret = message.secret
        if (message.doc !== undefined && this.welcomedOn === this.ws) {
          // A whole document mid-connection: the server ignores (and still acknowledges) the pushes that crossed it
          // ([OT6]), so their acknowledgement says nothing about their text, which is pushed again after the reset.
          for (let i = this.saved; i < this.pushedInserts.length; i++) this.pushedInserts[i] = []
        }
        if (message.doc !== undefined) this.reset(message)
        else {
          this.epoch = message.epoch
          if (!this.state) throw new Error('welcome with updates for a client without a document')
          this.apply(message.version, message.updates ?? [])
        }
        this.welcomedOn = this.ws
        if (this.autoPush) this.push()
        return
      case 'updates':
        this.apply(message.version, message.updates)
        if (this.autoPush) this.push()
        return
      case 'presence':
        this.peers = message.peers
        this.presenceVersion = message.version
        return
    }
  }

  /** Entries after `version`, one per receiveUpdates call ([OT4]). */
  private apply(version: number, updates: ReadonlyArray<{ clientID: string; changes: unknown }>): void {
    if (!this.state) return
    let at = version
    for (const update of updates) {
      at++
      if (at <= getSyncedVersion(this.state)) continue
      if (at !== getSyncedVersion(this.state) + 1) throw new Error(`gap: at ${getSyncedVersion(this.state)}, got ${at}`)
      const changes = ChangeSet.fromJSON(update.changes)
      this.trace.push(`deleting entry ${at} from ${update.clientID}: ${JSON.stringify(update.changes).slice(0, 200)}`)
      if (update.clientID === this.clientID) {
        this.confirmedCount++
        this.trace.push(
          `own entry ${at}: ${JSON.stringify(update.changes)} for ${JSON.stringify(sendableUpdates(this.state)[0]?.changes.toJSON())}`,
        )
      }
      this.confirmed = changes.apply(this.confirmed ?? this.state.doc)
      this.state = receiveUpdates(this.state, [{ changes, clientID: update.clientID }]).state
    }
  }

  /**
   * A welcome with the whole document: rebuild at its version and keep the unconfirmed edits that are not in it
   * already ([OT7]: `applied` says how many are), rebased over the difference between the last confirmed text and
   * the new one ([OT6]).
   */
  private reset(message: Extract<OtServerMessage, { t: 'welcome' }>): void {
    const doc = textOf(message.doc ?? '')
    let pending: ChangeSet | null = null
    if (this.state && this.confirmed) {
      this.resets++
      const skip = Math.max(0, message.applied - this.confirmedCount)
      this.trace.push(
        `reset at ${message.version}: applied ${message.applied} confirmed ${this.confirmedCount} skip ${skip} of ${sendableUpdates(this.state).length}`,
      )
      const unconfirmed = sendableUpdates(this.state).slice(skip)
      if (unconfirmed.length > 0) {
        // The kept updates start where the skipped ones ended: rebase them onto the text after the skipped ones,
        // which is the confirmed text with the skipped updates applied.
        let base = this.confirmed
        for (const update of sendableUpdates(this.state).slice(0, skip)) base = update.changes.apply(base)
        let composed = unconfirmed[0]?.changes as ChangeSet
        for (const update of unconfirmed.slice(1)) composed = composed.compose(update.changes)
        pending = rebaseOnto(composed, base, doc)
      }
    }
    this.confirmedCount = message.applied
    this.confirmed = doc
    this.epoch = message.epoch
    this.state = EditorState.create({
      doc,
      extensions: [
        EditorState.lineSeparator.of('\n'),
        collab({ startVersion: message.version, clientID: message.clientID }),
      ],
    })
    if (pending && !pending.empty) this.state = this.state.update({ changes: pending }).state
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener()
  }
}
