/**
 * An in-process model of the OT authority ([OT1]-[OT6]): a server holding the Y.Doc (the one truth) and an OtLog
 * derived from it by a Y.Text observer, real @codemirror/collab clients talking JSON to it over message queues
 * that can be cut, and Yjs clients exchanging updates with the server's Y.Doc after random delays. Everything is
 * driven by one seeded PRNG, so a failing seed replays exactly.
 *
 * Two switches reproduce the pitfall of [OT4]: `serverRebase: 'composition'` rebases pushes with
 * @codemirror/collab's own `rebaseUpdates` (over the composition of the entries), and `clientDelivery: 'batch'`
 * gives a client all entries of a message in one `receiveUpdates` call. A third, `clientApplied: 'ignore'`, makes
 * clients ignore a welcome's `applied` ([OT7]): a client whose confirmations were lost and that gets the whole text
 * then pushes updates the document already holds. And `serverStalePushes: 'apply'` makes the server apply pushes a
 * client sent before it got a welcome with the whole text.
 *
 * Every update an OT client makes has an identity the harness follows beside the protocol (never on the wire): the
 * server fails the run at once when it applies an update a second time, and at the end every update must have been
 * applied exactly once, or have been made empty by rebasing before it was ever applied.
 */
import {
  collab,
  getClientID,
  getSyncedVersion,
  rebaseUpdates,
  receiveUpdates,
  sendableUpdates,
  type Update,
} from '@codemirror/collab'
import { ChangeSet, EditorState, type Text } from '@codemirror/state'
import { createRandom } from '@collab/test-support'
import * as Y from 'yjs'
import {
  applyChangesToYText,
  changesBetween,
  checkPushedChanges,
  clientIdForSecret,
  deltaToChanges,
  encodeMessage,
  isSecret,
  newSecret,
  type OtClientMessage,
  type OtEntryJSON,
  OtLog,
  type OtLogOptions,
  type OtServerMessage,
  parseClientMessage,
  parseServerMessage,
  reconcileWithYText,
  splitsSurrogatePair,
  textOf,
} from '../src/index.js'

export interface SimulationOptions {
  seed: number
  otClients?: number
  yjsClients?: number
  steps?: number
  initialDoc?: string
  serverRebase?: 'per-entry' | 'composition'
  clientDelivery?: 'one' | 'batch'
  /** `'drop'` (the protocol): drop the updates a welcome's `applied` says are in its `doc`; `'ignore'`: the bug. */
  clientApplied?: 'drop' | 'ignore'
  /** `'ignore'` (the protocol): pushes sent before a welcome with the whole text are not applied ([OT6]). */
  serverStalePushes?: 'ignore' | 'apply'
  log?: OtLogOptions
}

export interface SimulationResult {
  /** Every document at quiescence: server Y.Text, log, OT clients, Yjs clients. */
  docs: Array<{ who: string; text: string }>
  converged: boolean
  /** Entries appended, over every epoch. */
  entries: number
  /** Welcomes with the whole text that made a client drop unconfirmed updates the document already held ([OT7]). */
  lostConfirmations: number
  /** Unconfirmed updates dropped that way. */
  droppedUpdates: number
  /** Welcomes with the whole text sent to a connection that was already welcomed (it fell below the floor). */
  resets: number
  /** Server restarts, each a new epoch ([OT3]). */
  restarts: number
  /** Pushes the server ignored because they were sent before a welcome with the whole text ([OT6]). */
  stalePushes: number
}

const emoji = ['😀', '👍🏽', '🇩🇪', '𝄞']
const fragments = ['a', 'b', 'xy', ' ', '\n', '\r\n', 'é', 'hello', ...emoji]

/** Where a push applied by the server came from, so the Y.Text observer can name the entry. */
class PushOrigin {
  constructor(readonly clientID: string) {}
}

/** A client message in flight, with the identities of the updates a push carries (harness only). */
interface Outgoing {
  json: string
  ids: readonly number[]
}

interface Connection {
  client: OtClient
  open: boolean
  toServer: Outgoing[]
  toClient: string[]
  /** Entries appended since the last `updates` message, sent in batches of random size. */
  unsent: OtEntryJSON[]
  unsentFrom: number
  clientID: string | null
  secret: string | null
  /** The version the client last reported (join or push), which trimming must keep ([OT6]). */
  reported: number
  /** After a `welcome` with the whole text, pushes based on older versions are stale: the client pushes again. */
  minPushVersion: number
  welcomed: boolean
}

class Server {
  readonly ydoc = new Y.Doc()
  readonly ytext = this.ydoc.getText('codemirror')
  log: OtLog
  readonly connections: Connection[] = []
  readonly yjsLinks: YjsClient[] = []
  now = 0
  /** Entries appended over every epoch. */
  entries = 0
  resets = 0
  restarts = 0
  stalePushesIgnored = 0
  /** How many updates of each OT client ID the document holds, over every epoch ([OT7]). */
  readonly applied = new Map<string, number>()
  /** The identities of the updates applied, as `clientName:id` (harness only). */
  readonly appliedIds = new Set<string>()

  constructor(
    initialDoc: string,
    readonly logOptions: OtLogOptions,
    readonly serverRebase: 'per-entry' | 'composition',
    readonly stalePushes: 'ignore' | 'apply' = 'ignore',
  ) {
    // Yjs orders concurrent insertions by client ID: fixed IDs make a seed replay exactly.
    this.ydoc.clientID = 1
    this.ytext.insert(0, initialDoc)
    this.log = new OtLog({ epoch: 'e1', doc: textOf(initialDoc), version: 0 }, logOptions)
    // [OT3]: one Yjs transaction that changes the text is one entry.
    this.ytext.observe((event, transaction) => {
      const clientID = transaction.origin instanceof PushOrigin ? transaction.origin.clientID : 'yjs'
      const before = this.log.doc
      const changes = reconcileWithYText(deltaToChanges(event.delta, before.length), before, this.ytext, transaction)
      this.appendEntry(clientID, changes)
    })
    this.ydoc.on('update', (update: Uint8Array, origin: unknown) => {
      for (const link of this.yjsLinks) if (link !== origin) link.toClient.push(update)
    })
  }

  appendEntry(clientID: string, changes: ChangeSet): void {
    this.log.append({ clientID, changes, at: this.now })
    this.entries++
    if (clientID !== 'yjs') this.applied.set(clientID, (this.applied.get(clientID) ?? 0) + 1)
    for (const conn of this.connections) {
      if (conn.open && conn.clientID !== null) conn.unsent.push({ clientID, changes: changes.toJSON() })
    }
  }

  connect(client: OtClient): Connection {
    const conn: Connection = {
      client,
      open: true,
      toServer: [],
      toClient: [],
      unsent: [],
      unsentFrom: 0,
      clientID: null,
      secret: null,
      reported: 0,
      minPushVersion: 0,
      welcomed: false,
    }
    this.connections.push(conn)
    return conn
  }

  /** Sends a connection's unsent entries, up to `count` of them, as one `updates` message. */
  flush(conn: Connection, count: number): void {
    if (!conn.open || conn.unsent.length === 0) return
    const updates = conn.unsent.splice(0, count)
    conn.toClient.push(encodeMessage({ t: 'updates', version: conn.unsentFrom, updates }))
    conn.unsentFrom += updates.length
  }

  receive(conn: Connection, { json, ids }: Outgoing): void {
    const parsed = parseClientMessage(json)
    if (!parsed.ok) throw new Error(`server could not parse ${json}: ${parsed.error}`)
    const message = parsed.message
    if (message.t === 'join') this.join(conn, message)
    else if (message.t === 'push') this.push(conn, message, ids)
  }

  /**
   * A restart after an unclean stop ([OT3]): every OT connection is gone, and the log starts a new epoch at the
   * current text. Nothing is lost here (the simulation stores everything); the counts of [OT7] survive.
   */
  restart(): void {
    this.restarts++
    for (const conn of this.connections) if (conn.open) conn.client.disconnect()
    this.log = new OtLog({ epoch: `e${this.restarts + 1}`, doc: this.log.doc, version: 0 }, this.logOptions)
  }

  join(conn: Connection, message: Extract<OtClientMessage, { t: 'join' }>): void {
    const secret = isSecret(message.secret) ? message.secret : newSecret()
    conn.clientID = clientIdForSecret(secret)
    conn.secret = secret
    const since =
      message.epoch === this.log.epoch && message.version !== null ? this.log.entriesSince(message.version) : null
    if (since !== null && message.version !== null) {
      conn.reported = message.version
      // [OT2]: `version` is the client's, before the entries, as in `updates`.
      this.send(conn, {
        t: 'welcome',
        clientID: conn.clientID,
        secret,
        epoch: this.log.epoch,
        version: message.version,
        applied: this.applied.get(conn.clientID) ?? 0,
        updates: since.map((e) => ({ clientID: e.clientID, changes: e.changes.toJSON() })),
      })
    } else {
      this.sendDoc(conn, secret)
    }
    conn.unsentFrom = this.log.version
    conn.unsent = []
    conn.welcomed = true
  }

  /**
   * Sends a connected client the whole text, as the server does when it falls more than `maxEntries` behind
   * ([OT6]); the simulation also does it at random, whatever the client holds. The entries already announced go
   * first, as they would on a socket.
   */
  reset(conn: Connection): void {
    if (!conn.open || !conn.welcomed) return
    this.flush(conn, conn.unsent.length)
    this.sendDoc(conn, conn.secret as string)
  }

  sendDoc(conn: Connection, secret: string): void {
    if (conn.welcomed) this.resets++
    conn.reported = this.log.version
    conn.minPushVersion = this.log.version
    conn.unsentFrom = this.log.version
    conn.unsent = []
    this.send(conn, {
      t: 'welcome',
      clientID: conn.clientID as string,
      secret,
      epoch: this.log.epoch,
      version: this.log.version,
      applied: this.applied.get(conn.clientID as string) ?? 0,
      doc: this.log.doc.toString(),
    })
  }

  push(conn: Connection, message: Extract<OtClientMessage, { t: 'push' }>, ids: readonly number[]): void {
    const clientID = conn.clientID
    if (clientID === null) throw new Error('push before join')
    if (message.updates.length !== ids.length) throw new Error('a push without the identities of its updates')
    if (message.version < conn.minPushVersion && this.stalePushes === 'ignore') {
      // Sent before the client got the whole text: it pushes again what is left ([OT6]).
      this.stalePushesIgnored++
      return
    }
    const length = this.log.lengthAt(message.version)
    if (length === null) {
      // Fell below the floor while connected (maxEntries): the whole text again ([OT6]).
      this.reset(conn)
      return
    }
    conn.reported = message.version
    const checked = checkPushedChanges(message.updates, length)
    if (!checked.ok) throw new Error(`honest push refused: ${checked.error}`)
    const rebased = this.rebase(clientID, message.version, checked.changes)
    // Deduplication drops updates from the front ([OT4]): the rest are the last ones of the push.
    const name = conn.client.name
    for (const id of ids.slice(ids.length - rebased.length)) {
      const key = `${name}:${id}`
      if (this.appliedIds.has(key)) {
        throw new Error(
          `update ${id} of ${name} applied twice (push based on ${message.version} at ${this.log.version})`,
        )
      }
      this.appliedIds.add(key)
    }
    for (const changes of rebased) {
      if (splitsSurrogatePair(changes, this.log.doc)) {
        // A real server closes the connection with 4400 ([OT5]); an honest client would resend forever, so fail.
        throw new Error(`honest push splits a surrogate pair after rebasing`)
      }
      const version = this.log.version
      this.ydoc.transact(() => applyChangesToYText(this.ytext, changes), new PushOrigin(clientID))
      // A change that changes no text makes no Yjs event, but the client counts on an entry to confirm it.
      if (this.log.version === version) this.appendEntry(clientID, changes)
    }
  }

  rebase(clientID: string, version: number, changes: ChangeSet[]): ChangeSet[] {
    if (this.serverRebase === 'per-entry') return this.log.rebase(clientID, version, changes) as ChangeSet[]
    const over = this.log.entriesSince(version) as Array<{ changes: ChangeSet; clientID: string }>
    const updates = changes.map((c) => ({ changes: c, clientID }))
    return rebaseUpdates(updates, over).map((u) => u.changes as ChangeSet)
  }

  send(conn: Connection, message: OtServerMessage): void {
    conn.toClient.push(encodeMessage(message))
  }

  /** Drops entries per [OT6], keeping what connected clients last reported. */
  trim(): number {
    let keepAbove = Number.POSITIVE_INFINITY
    for (const conn of this.connections)
      if (conn.open && conn.clientID !== null) keepAbove = Math.min(keepAbove, conn.reported)
    return this.log.trim(this.now, keepAbove)
  }
}

class OtClient {
  state: EditorState | null = null
  /** The text at the synced version, to rebase unconfirmed updates over a new whole text ([OT6]). */
  confirmed: Text | null = null
  secret: string | null = null
  epoch: string | null = null
  conn: Connection | null = null
  welcomed = false
  /** How many entries of its own this client has seen, or was told by `applied` the document holds ([OT7]). */
  confirmedCount = 0
  /** The identities of the unconfirmed updates, in the order of `sendableUpdates` (harness only). */
  unconfirmedIds: number[] = []
  /** Every update identity made, and those that rebasing made empty before they were ever applied. */
  made = 0
  readonly vanished = new Set<number>()
  lostConfirmations = 0
  droppedUpdates = 0

  constructor(
    readonly name: string,
    readonly server: Server,
    readonly delivery: 'one' | 'batch',
    readonly appliedMode: 'drop' | 'ignore',
  ) {}

  hasUnconfirmed(): boolean {
    return this.state !== null && sendableUpdates(this.state).length > 0
  }

  connect(): void {
    this.conn = this.server.connect(this)
    this.welcomed = false
    const version = this.state ? getSyncedVersion(this.state) : null
    this.send({ t: 'join', epoch: version === null ? null : this.epoch, version, secret: this.secret })
  }

  disconnect(): void {
    if (!this.conn) return
    this.conn.open = false
    this.conn.toClient.length = 0
    this.conn.toServer.length = 0
    this.conn = null
  }

  send(message: OtClientMessage, ids: readonly number[] = []): void {
    this.conn?.toServer.push({ json: encodeMessage(message), ids })
  }

  push(): void {
    if (!this.state || !this.welcomed) return
    const updates = sendableUpdates(this.state)
    if (updates.length === 0) return
    this.check()
    this.send(
      {
        t: 'push',
        version: getSyncedVersion(this.state),
        updates: updates.map((u) => ({ changes: u.changes.toJSON() })),
      },
      this.unconfirmedIds.slice(),
    )
  }

  /** The identities follow the unconfirmed updates one to one. */
  check(): void {
    const unconfirmed = this.state ? sendableUpdates(this.state).length : 0
    if (unconfirmed !== this.unconfirmedIds.length) {
      throw new Error(`${this.name}: ${unconfirmed} unconfirmed updates, ${this.unconfirmedIds.length} identities`)
    }
  }

  receive(json: string): void {
    const parsed = parseServerMessage(json)
    if (!parsed.ok) throw new Error(`${this.name} could not parse ${json}: ${parsed.error}`)
    const message = parsed.message
    if (message.t === 'welcome') {
      this.secret = message.secret
      this.epoch = message.epoch
      if (message.doc !== undefined) this.restart(message.doc, message.version, message.clientID, message.applied)
      else {
        this.apply(message.updates ?? [], message.version)
        // Caught up to the server's version: it holds exactly the entries of ours this client has seen.
        if (this.confirmedCount !== message.applied) {
          throw new Error(`${this.name} counts ${this.confirmedCount} own entries, the server ${message.applied}`)
        }
      }
      this.welcomed = true
      this.push()
    } else if (message.t === 'updates') {
      this.apply(message.updates, message.version)
    }
  }

  /** Applies entries that follow `from`, one per receiveUpdates call ([OT4]) unless the batch pitfall is on. */
  apply(entries: OtEntryJSON[], from: number): void {
    const state = this.state
    if (!state || !this.confirmed) throw new Error(`${this.name} got entries before a document`)
    if (getSyncedVersion(state) !== from)
      throw new Error(`${this.name} at ${getSyncedVersion(state)} got entries from ${from}`)
    const updates: Update[] = entries.map((e) => ({ clientID: e.clientID, changes: ChangeSet.fromJSON(e.changes) }))
    const own = getClientID(state)
    for (const u of updates) {
      this.confirmed = u.changes.apply(this.confirmed)
      if (u.clientID !== own) continue
      // receiveUpdates takes an entry of our own as the confirmation of the first unconfirmed update.
      this.confirmedCount++
      if (this.unconfirmedIds.shift() === undefined)
        throw new Error(`${this.name}: an own entry with nothing unconfirmed`)
    }
    if (this.delivery === 'batch') {
      this.state = receiveUpdates(state, updates).state
    } else {
      for (const u of updates) this.state = receiveUpdates(this.state as EditorState, [u]).state
    }
  }

  /**
   * A `welcome` with the whole text ([OT6]): the first `applied - confirmedCount` unconfirmed updates are in it
   * already ([OT7]) and go; the rest are rebased over what changed between the text after those and `doc`.
   */
  restart(doc: string, version: number, clientID: string, applied: number): void {
    this.check()
    const text = textOf(doc)
    let pending: ChangeSet[] = []
    let ids: number[] = []
    if (this.state && this.confirmed) {
      const unconfirmed = sendableUpdates(this.state)
      // A new client ID has seen nothing of its own.
      const seen = getClientID(this.state) === clientID ? this.confirmedCount : 0
      const drop = this.appliedMode === 'ignore' ? 0 : Math.min(Math.max(applied - seen, 0), unconfirmed.length)
      if (drop > 0) {
        this.lostConfirmations++
        this.droppedUpdates += drop
      }
      let base = this.confirmed
      for (const u of unconfirmed.slice(0, drop)) base = u.changes.apply(base)
      let diff = changesBetween(base, text)
      pending = unconfirmed.slice(drop).map((u) => {
        const moved = u.changes.map(diff)
        diff = diff.map(u.changes, true)
        return moved
      })
      ids = this.unconfirmedIds.slice(drop)
    }
    let state = EditorState.create({
      doc: text,
      extensions: [collab({ startVersion: version, clientID }), EditorState.lineSeparator.of('\n')],
    })
    this.unconfirmedIds = []
    for (const [i, changes] of pending.entries()) {
      const id = ids[i] as number
      // An update that what changed made empty is no update: it is never pushed and never applied.
      if (changes.empty) this.vanished.add(id)
      else {
        state = state.update({ changes }).state
        this.unconfirmedIds.push(id)
      }
    }
    this.state = state
    this.confirmed = text
    this.confirmedCount = applied
    this.check()
  }

  edit(random: () => number): void {
    const state = this.state
    if (!state) return
    const doc = state.doc
    const pos = safePosition(doc, Math.floor(random() * (doc.length + 1)))
    let changes: { from: number; to: number; insert: string }
    if (random() < 0.35 && doc.length > 0) {
      const to = safePosition(doc, Math.min(doc.length, pos + 1 + Math.floor(random() * 4)))
      changes = { from: pos, to, insert: random() < 0.3 ? pick(random, fragments) : '' }
    } else {
      changes = { from: pos, to: pos, insert: pick(random, fragments) }
    }
    const tr = state.update({ changes })
    this.state = tr.state
    if (!tr.changes.empty) this.unconfirmedIds.push(++this.made)
    if (getClientID(this.state) === '') throw new Error('no client ID')
  }
}

class YjsClient {
  readonly doc = new Y.Doc()
  readonly text = this.doc.getText('codemirror')
  readonly toServer: Uint8Array[] = []
  readonly toClient: Uint8Array[] = []

  constructor(
    readonly name: string,
    server: Server,
  ) {
    this.doc.clientID = 2 + server.yjsLinks.length
    Y.applyUpdate(this.doc, Y.encodeStateAsUpdate(server.ydoc), server)
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin !== server) this.toServer.push(update)
    })
    server.yjsLinks.push(this)
  }

  /** One transaction of 1-3 edits, anywhere, including between the halves of a surrogate pair. */
  edit(random: () => number): void {
    this.doc.transact(() => {
      const edits = 1 + Math.floor(random() * 3)
      for (let i = 0; i < edits; i++) {
        const length = this.text.length
        const pos = Math.floor(random() * (length + 1))
        if (random() < 0.35 && length > pos) this.text.delete(pos, Math.min(length - pos, 1 + Math.floor(random() * 4)))
        else this.text.insert(pos, pick(random, fragments))
      }
    })
  }
}

/** A position not between the halves of a surrogate pair, as a CodeMirror user's cursor would be. */
function safePosition(doc: Text, pos: number): number {
  if (pos <= 0 || pos >= doc.length) return pos
  const code = doc.sliceString(pos, pos + 1).charCodeAt(0)
  return code >= 0xdc00 && code <= 0xdfff ? pos - 1 : pos
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T
}

/** Runs one seeded simulation to quiescence and returns every document. */
export function runSimulation(options: SimulationOptions): SimulationResult {
  const random = createRandom(options.seed)
  const server = new Server(
    options.initialDoc ?? 'ab😀cd\r\nef',
    options.log ?? { keepEntries: 4, keepMs: 20, maxEntries: 40 },
    options.serverRebase ?? 'per-entry',
    options.serverStalePushes ?? 'ignore',
  )
  const delivery = options.clientDelivery ?? 'one'
  const appliedMode = options.clientApplied ?? 'drop'
  const otClients = Array.from(
    { length: options.otClients ?? 3 },
    (_, i) => new OtClient(`ot${i}`, server, delivery, appliedMode),
  )
  const yjsClients = Array.from({ length: options.yjsClients ?? 2 }, (_, i) => new YjsClient(`yjs${i}`, server))
  for (const client of otClients) client.connect()

  const deliverToServer = (conn: Connection, count: number) => {
    for (let i = 0; i < count && conn.open && conn.toServer.length > 0; i++)
      server.receive(conn, conn.toServer.shift() as Outgoing)
  }
  const deliverToClient = (client: OtClient, count: number) => {
    const conn = client.conn
    for (let i = 0; i < count && conn && conn.open && conn.toClient.length > 0; i++)
      client.receive(conn.toClient.shift() as string)
  }
  const syncYjs = (client: YjsClient, count: number) => {
    for (let i = 0; i < count && client.toServer.length > 0; i++)
      Y.applyUpdate(server.ydoc, client.toServer.shift() as Uint8Array, client)
    for (let i = 0; i < count && client.toClient.length > 0; i++)
      Y.applyUpdate(client.doc, client.toClient.shift() as Uint8Array, server)
  }

  const steps = options.steps ?? 150
  for (let step = 0; step < steps; step++) {
    server.now += 1 + Math.floor(random() * 5)
    const r = random()
    const ot = pick(random, otClients)
    const yjs = yjsClients.length > 0 ? pick(random, yjsClients) : null
    const count = 1 + Math.floor(random() * 4)
    if (r < 0.25) ot.edit(random)
    else if (r < 0.33 && yjs) yjs.edit(random)
    else if (r < 0.45) ot.push()
    else if (r < 0.57 && ot.conn) deliverToServer(ot.conn, count)
    else if (r < 0.67 && ot.conn) server.flush(ot.conn, count)
    else if (r < 0.8) deliverToClient(ot, count)
    else if (r < 0.9 && yjs) syncYjs(yjs, count)
    else if (r < 0.94) {
      if (ot.conn) ot.disconnect()
      else ot.connect()
    } else if (r < 0.97) server.trim()
    else if (r < 0.975) server.restart()
    else if (r < 0.985 && ot.conn) server.reset(ot.conn)
    else if (!ot.conn) ot.connect()
  }

  // Quiescence: everyone connected, every message delivered, nothing unconfirmed.
  for (let round = 0; ; round++) {
    if (round > 1000) throw new Error(`seed ${options.seed}: no quiescence`)
    let busy = false
    for (const client of otClients) {
      if (!client.conn) client.connect()
      const conn = client.conn as Connection
      if (client.welcomed && client.hasUnconfirmed() && conn.toServer.length === 0) client.push()
      if (conn.toServer.length || conn.toClient.length || conn.unsent.length) busy = true
      deliverToServer(conn, Number.POSITIVE_INFINITY)
      server.flush(conn, conn.unsent.length)
      deliverToClient(client, Number.POSITIVE_INFINITY)
      if (client.hasUnconfirmed() || !client.welcomed) busy = true
    }
    for (const client of yjsClients) {
      if (client.toServer.length || client.toClient.length) busy = true
      syncYjs(client, Number.POSITIVE_INFINITY)
    }
    if (!busy) break
  }

  const docs = [
    { who: 'server Y.Text', text: server.ytext.toString() },
    { who: 'log', text: server.log.doc.toString() },
    ...otClients.map((c) => ({ who: c.name, text: (c.state as EditorState).doc.toString() })),
    ...yjsClients.map((c) => ({ who: c.name, text: c.text.toString() })),
  ]
  // Exactly once: every update made was applied once (twice fails in Server.push), or made empty before it was.
  for (const client of otClients) {
    client.check()
    for (let id = 1; id <= client.made; id++) {
      const applied = server.appliedIds.has(`${client.name}:${id}`)
      if (applied === client.vanished.has(id)) {
        throw new Error(
          `seed ${options.seed}: update ${id} of ${client.name} ${applied ? 'applied and' : 'neither applied nor'} made empty`,
        )
      }
    }
  }
  return {
    docs,
    converged: docs.every((d) => d.text === docs[0]?.text),
    entries: server.entries,
    lostConfirmations: otClients.reduce((sum, c) => sum + c.lostConfirmations, 0),
    droppedUpdates: otClients.reduce((sum, c) => sum + c.droppedUpdates, 0),
    resets: server.resets,
    restarts: server.restarts,
    stalePushes: server.stalePushesIgnored,
  }
}
