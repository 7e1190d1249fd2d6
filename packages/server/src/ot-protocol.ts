import type { ChangeSet, Text } from '@codemirror/state'
import {
  applyChangesToYText,
  checkPushedChanges,
  clientIdForSecret,
  deltaToChanges,
  encodeMessage,
  isSecret,
  lightColor,
  newSecret,
  type OtClientMessage,
  type OtEntry,
  type OtEntryJSON,
  OtLog,
  type OtLogOptions,
  type OtPeer,
  type OtServerMessage,
  parseClientMessage,
  reconcileWithYText,
  splitsSurrogatePair,
  textOf,
} from '@collab/ot'
import { CloseCode, encodeAwareness, encodeAwarenessEntries, encodeCollab } from '@collab/protocol'
import type { SideWrite } from '@collab/storage'
import type * as Y from 'yjs'
import type { Connection } from './connection.js'
import { cssColor, cursorOffset, cursorPosition, parseUser, randomAwarenessId } from './ot-presence.js'
import {
  appliedPrefix,
  entryKey,
  entryPrefix,
  forgetClientAfterMs,
  type LogMeta,
  metaKey,
  newEpoch,
  parseApplied,
  parseMeta,
  restoreLog,
} from './ot-storage.js'
import type { ProtocolRoom } from './sync-protocol.js'
import { type RoomVersions, UserEditOrigin } from './versions/room-versions.js'

/** The text @codemirror/collab clients edit: the one y-codemirror.next binds (`@collab/editor`'s `textName`). */
export const otTextName = 'codemirror'

/** How often presence is sent to OT clients at most ([OT2]). */
const presenceEveryMs = 50
/**
 * How often the server renews the awareness entries it keeps for OT clients: y-protocols clients drop a remote state
 * not renewed for 30 s, and renew their own every 15 s.
 */
const renewPresenceEveryMs = 15_000
/** Trim the log every this many entries (and when a client leaves). */
const trimEvery = 100

/** What the OT handler needs from its room beyond what every protocol handler gets. */
export interface OtRoom extends ProtocolRoom {
  readonly connections: ReadonlySet<Connection>
  /** Writes side records of the document on their own (ordered after every append so far). */
  writeSide(writes: readonly SideWrite[]): Promise<void>
  /** Applies a push as its user's edit, under a client ID that user owns ([VH2]). */
  readonly versions: Pick<RoomVersions, 'editAs'>
}

/** One OT client's state, while its connection is open. */
interface OtClient {
  clientID: string
  /** What the client presents to get `clientID` back after a reconnect ([OT7]). */
  secret: string
  /** The awareness client ID the server keeps this client's presence under ([OT8]). */
  awarenessId: number
  awarenessClock: number
  /** The client's last presence state as sent to Yjs clients, renewed every {@link renewPresenceEveryMs}. */
  presence: unknown
  /** The highest version this client reported (join, push, presence): the log keeps entries above it ([OT6]). */
  knownVersion: number
  /** The version of the last welcome with the whole document: pushes based on older versions crossed it ([OT6]). */
  resetAt: number
}

/**
 * The origin of a Yjs transaction that applies a pushed OT update: its log entry is exactly the pushed change, and
 * its text is credited to the pushing connection's user ([VH2]).
 */
class PushOrigin extends UserEditOrigin {
  constructor(
    user: string | null,
    readonly clientID: string,
    readonly changes: ChangeSet,
  ) {
    super(user)
  }
}

/**
 * The @codemirror/collab authority of one room ([OT1]-[OT8]). The room's `Y.Text` is the one truth: accepted pushes
 * are applied to it as one Yjs transaction each, and every transaction that changes it becomes one entry of the OT
 * log, which OT clients receive. The log exists only for documents that have (or had) OT clients, so Yjs-only
 * documents pay nothing for it.
 */
export class OtProtocol {
  private readonly ytext: Y.Text
  private log: OtLog | null = null
  private readonly clients = new Map<Connection, OtClient>()
  /** Connections whose join waits for their own entries to be stored. */
  private readonly joining = new Set<Connection>()
  /** How many updates of each client ID the document holds, and when it last pushed ([OT7]). */
  private readonly applied = new Map<string, { n: number; at: number }>()
  /** Side writes of the entries made since the last stored update, written with it in one batch. */
  private pendingSide: SideWrite[] = []
  /**
   * Entries not yet durable, with the text before each. OT clients receive an entry only once it is stored
   * ([OT3]): a confirmation a client saw is never lost in a crash, so a client after a crash keeps exactly the
   * updates the store lacks ([OT7]).
   */
  private unpublished: Array<{ version: number; json: OtEntryJSON; docBefore: Text }> = []
  /** The latest version OT clients were sent (everything up to it is stored). */
  private published = 0
  private presenceTimer: NodeJS.Timeout | null = null
  private renewTimer: NodeJS.Timeout | null = null

  constructor(
    private readonly room: OtRoom,
    private readonly logOptions: OtLogOptions = {},
  ) {
    this.ytext = room.doc.getText(otTextName)
  }

  /** Whether this document keeps an OT log (some OT client joined it, now or in an earlier run). */
  get active(): boolean {
    return this.log !== null
  }

  /** The log, for tests and metrics. */
  get currentLog(): OtLog | null {
    return this.log
  }

  /**
   * The document was loaded with these side records (`ot/` prefix). A stored log continues when the room that wrote
   * it unloaded cleanly and it matches the text; otherwise a new epoch begins, so no version is ever reused with
   * different content ([OT3]). Returns the side writes that record the new state (to be written before any entry).
   */
  loaded(records: ReadonlyArray<[string, Uint8Array]>): SideWrite[] {
    if (records.length === 0) return []
    const writes: SideWrite[] = []
    const now = Date.now()
    for (const [key, value] of records) {
      if (!key.startsWith(appliedPrefix)) continue
      const count = parseApplied(value)
      if (count && now - count.at < forgetClientAfterMs) this.applied.set(key.slice(appliedPrefix.length), count)
      else writes.push({ key, value: null })
    }
    const meta = parseMeta(records.find(([key]) => key === metaKey)?.[1])
    const entries = records.filter(([key]) => key.startsWith(entryPrefix))
    const doc = textOf(this.ytext.toString())
    const continued = meta?.clean ? restoreLog(meta, entries, doc, this.logOptions) : null
    if (continued) this.log = continued
    else {
      this.log = new OtLog({ epoch: newEpoch(), doc, version: 0 }, this.logOptions)
      // The old epoch's entries can never be served again.
      writes.push({ from: entryPrefix, to: `${entryPrefix}\uffff` })
      this.room.logger.info(
        { doc: this.room.name, previousEpoch: meta?.epoch, epoch: this.log.epoch },
        'OT log: new epoch (the last run did not stop cleanly)',
      )
    }
    writes.push(this.metaWrite(false))
    this.published = this.log.version
    this.ytext.observe(this.onTextChange)
    return writes
  }

  private metaWrite(clean: boolean): SideWrite {
    const log = this.log
    if (!log) throw new Error('no OT log')
    const meta: LogMeta = { epoch: log.epoch, version: log.version, clean }
    return { key: metaKey, value: new TextEncoder().encode(JSON.stringify(meta)) }
  }

  /** Starts the log at the current text, for the first OT client of a document that has none. */
  private activate(): OtLog {
    if (this.log) return this.log
    this.log = new OtLog({ epoch: newEpoch(), doc: textOf(this.ytext.toString()), version: 0 }, this.logOptions)
    this.published = 0
    this.ytext.observe(this.onTextChange)
    this.room.writeSide([{ from: entryPrefix, to: `${entryPrefix}\uffff` }, this.metaWrite(false)]).catch(() => {
      // A failing store fails the room through its next append; nothing is acknowledged meanwhile.
    })
    return this.log
  }

  /** The side writes of the entries since the last call, for the update being stored now. */
  takeSideWrites(): SideWrite[] | undefined {
    if (this.pendingSide.length === 0) return undefined
    const writes = this.pendingSide
    this.pendingSide = []
    return writes
  }

  /** Every Yjs transaction that changes the text is one log entry ([OT3]). */
  private readonly onTextChange = (event: Y.YTextEvent, transaction: Y.Transaction): void => {
    const log = this.log
    if (!log) return
    const origin = transaction.origin
    let entry: OtEntry
    if (origin instanceof PushOrigin) {
      entry = { clientID: origin.clientID, changes: origin.changes, at: Date.now() }
    } else {
      const changes = reconcileWithYText(deltaToChanges(event.delta, log.doc.length), log.doc, this.ytext, transaction)
      if (changes.empty) return
      entry = { clientID: 'yjs', changes, at: Date.now() }
    }
    this.appendEntry(log, entry)
  }

  /** Appends an entry to the log, stores it with the update being written, and sends it to OT clients. */
  private appendEntry(log: OtLog, entry: OtEntry): void {
    const docBefore = log.doc
    const version = log.append(entry)
    const json: OtEntryJSON = { clientID: entry.clientID, changes: entry.changes.toJSON() }
    this.pendingSide.push({
      key: entryKey(version),
      value: new TextEncoder().encode(JSON.stringify({ ...json, at: entry.at })),
    })
    if (entry.clientID !== 'yjs') {
      const count = { n: (this.applied.get(entry.clientID)?.n ?? 0) + 1, at: entry.at }
      this.applied.set(entry.clientID, count)
      this.pendingSide.push({
        key: appliedPrefix + entry.clientID,
        value: new TextEncoder().encode(JSON.stringify(count)),
      })
    }
    this.unpublished.push({ version, json, docBefore })
    if (version % trimEvery === 0) this.trim()
  }

  /** The side writes taken last are being written by `write`: their entries go to OT clients once it is durable. */
  stored(write: Promise<void>): void {
    const log = this.log
    if (!log) return
    const upTo = log.version
    write.then(
      () => this.publish(upTo),
      // The room fails and closes every connection; nothing unstored is ever sent.
      () => undefined,
    )
  }

  private publish(upTo: number): void {
    let count = 0
    while (count < this.unpublished.length && (this.unpublished[count]?.version ?? Number.POSITIVE_INFINITY) <= upTo) {
      count++
    }
    if (count === 0) return
    const batch = this.unpublished.splice(0, count)
    const first = batch[0]?.version ?? upTo
    this.published = batch[batch.length - 1]?.version ?? this.published
    this.sendToJoined({ t: 'updates', version: first - 1, updates: batch.map((entry) => entry.json) })
  }

  /** The text at the published version. */
  private publishedDoc(log: OtLog): Text {
    return this.unpublished[0]?.docBefore ?? log.doc
  }

  /** Drops entries below the floor ([OT6]); clients left below it get the whole document. */
  private trim(): void {
    const log = this.log
    if (!log) return
    // Unpublished entries are not held by anyone yet, and a welcome starts from the published version.
    let keepAbove = this.published
    for (const client of this.clients.values()) keepAbove = Math.min(keepAbove, client.knownVersion)
    if (log.trim(Date.now(), keepAbove) === 0) return
    this.pendingSide.push({ from: entryPrefix, to: entryKey(log.floor + 1) })
    for (const [conn, client] of this.clients) {
      if (client.knownVersion < log.floor) this.welcome(conn, client, null)
    }
  }

  /** A connection that speaks OT arrived; it is greeted when it sends `join`. */
  add(_conn: Connection): void {}

  /** A connection left: its presence is gone (the room removed its awareness entries), its floor hold too. */
  remove(conn: Connection): void {
    this.joining.delete(conn)
    if (!this.clients.delete(conn)) return
    if (this.clients.size === 0) this.stopTimers()
    this.presenceChanged()
  }

  /** Handles a collab message from an OT connection, once the document is loaded. */
  handle(conn: Connection, json: string): void {
    const parsed = parseClientMessage(json)
    if (!parsed.ok) {
      this.refuse(conn, parsed.error)
      return
    }
    const message = parsed.message
    const client = this.clients.get(conn)
    if (message.t === 'join') {
      if (client || this.joining.has(conn)) this.refuse(conn, 'join sent twice')
      else this.join(conn, message)
      return
    }
    if (!client) {
      if (this.joining.has(conn)) {
        // Sent after join, before the welcome it waits for: a client follows the welcome, so this is a protocol error.
        this.refuse(conn, `${message.t} before the welcome`)
        return
      }
      this.refuse(conn, `${message.t} before join`)
      return
    }
    if (message.t === 'push') this.push(conn, client, message)
    else this.presence(conn, client, message)
  }

  private join(conn: Connection, message: Extract<OtClientMessage, { t: 'join' }>): void {
    let secret = message.secret
    if (secret !== null && !isSecret(secret)) {
      // A secret of the wrong shape is treated as none: the client gets a new identity ([OT7]).
      secret = null
    }
    secret ??= newSecret()
    const clientID = clientIdForSecret(secret)
    this.joining.add(conn)
    const log = this.activate()
    for (const [other, known] of this.clients) {
      // The same client on a newer connection: the old one is a leftover whose late pushes would cross the new
      // welcome, so it goes ([OT7]).
      if (known.clientID === clientID) this.room.drop(other, CloseCode.Normal, 'replaced by a newer connection')
    }
    const proceed = () => {
      if (conn.closed || !this.room.isReady) return
      // An entry of this client not yet stored would reach it after a welcome that does not count it: wait for it.
      if (this.unpublished.some((entry) => entry.json.clientID === clientID)) {
        this.room.written().then(proceed, () => undefined)
        return
      }
      this.joining.delete(conn)
      const client: OtClient = {
        clientID,
        secret,
        awarenessId: randomAwarenessId(this.room.awareness),
        awarenessClock: 0,
        presence: null,
        knownVersion: this.published,
        resetAt: 0,
      }
      this.clients.set(conn, client)
      const since =
        message.epoch === log.epoch && message.version !== null && message.version <= this.published
          ? log.entriesSince(message.version)
          : null
      if (since && message.version !== null) client.knownVersion = message.version
      this.welcome(conn, client, since, message.version)
      this.sendPresence(conn, client)
      this.startRenewing()
    }
    proceed()
  }

  /**
   * Greets (or re-greets) a client: with the entries after `fromVersion` when it can catch up, else with the whole
   * document ([OT2], [OT6]).
   */
  private welcome(
    conn: Connection,
    client: OtClient,
    since: OtEntry[] | null,
    fromVersion: number | null = null,
  ): void {
    const log = this.log
    if (!log) return
    const base = {
      t: 'welcome' as const,
      clientID: client.clientID,
      secret: client.secret,
      epoch: log.epoch,
      applied: this.applied.get(client.clientID)?.n ?? 0,
    }
    let message: OtServerMessage
    if (since && fromVersion !== null) {
      // Up to the published version; the rest arrives in `updates` once stored.
      const held = since.slice(0, Math.max(0, this.published - fromVersion))
      message = { ...base, version: fromVersion, updates: held.map(entryJSON) }
    } else {
      client.knownVersion = this.published
      client.resetAt = this.published
      message = { ...base, version: this.published, doc: this.publishedDoc(log).toString() }
    }
    conn.send(encodeCollab(encodeMessage(message)))
  }

  private push(conn: Connection, client: OtClient, message: Extract<OtClientMessage, { t: 'push' }>): void {
    const seq = conn.nextDocMessage()
    if (conn.access === 'read') {
      this.refuse(conn, 'a read-only connection may not push')
      return
    }
    const log = this.log
    if (!log) return
    if (message.version > log.version) {
      this.refuse(conn, `push based on version ${message.version}, the log is at ${log.version}`)
      return
    }
    if (message.version < client.resetAt) {
      // Sent before the client got the whole document: it pushes again what is left after rebasing ([OT6]).
      this.acknowledge(conn, seq)
      return
    }
    const baseLength = log.lengthAt(message.version)
    if (baseLength === null) {
      // Below the floor: the client rebases its edits over the whole document and pushes them again ([OT6]).
      this.welcome(conn, client, null)
      this.acknowledge(conn, seq)
      return
    }
    const checked = checkPushedChanges(message.updates, baseLength)
    if (!checked.ok) {
      this.refuse(conn, checked.error)
      return
    }
    const rebased = log.rebase(client.clientID, message.version, checked.changes)
    if (!rebased) {
      this.welcome(conn, client, null)
      this.acknowledge(conn, seq)
      return
    }
    // Every check before anything is applied: a refused push changes nothing ([OT5]).
    let doc: Text = log.doc
    for (const changes of rebased) {
      if (splitsSurrogatePair(changes, doc)) {
        this.refuse(conn, 'an edit splits a surrogate pair')
        return
      }
      doc = changes.apply(doc)
    }
    client.knownVersion = Math.max(client.knownVersion, message.version)
    for (const changes of rebased) {
      if (changes.empty) {
        // An update that a concurrent edit made empty (both deleted the same text) changes nothing in Yjs, so no
        // transaction would report it; it is still one entry, which confirms it to its client ([OT3]).
        this.appendEntry(log, { clientID: client.clientID, changes, at: Date.now() })
        continue
      }
      // One Yjs transaction per pushed update: one update for Yjs clients, one log entry, one version ([OT3]).
      const origin = new PushOrigin(conn.user ?? null, client.clientID, changes)
      this.room.versions.editAs(origin, () => applyChangesToYText(this.ytext, changes))
    }
    // Entries no Yjs update carried (empty ones) are stored on their own, in order with the rest.
    const leftover = this.takeSideWrites()
    if (leftover) this.stored(this.room.writeSide(leftover))
    this.acknowledge(conn, seq)
  }

  /** Acknowledges document message `seq` once everything appended so far is durable ([SA1]). */
  private acknowledge(conn: Connection, seq: number): void {
    if (!conn.wantsSaveAck) return
    this.room.written().then(
      () => {
        if (this.room.isReady && !conn.closed) conn.acknowledgeSaved(seq)
      },
      () => undefined,
    )
  }

  /** An OT client's name, colour and selection become a y-codemirror.next awareness state ([OT8]). */
  private presence(conn: Connection, client: OtClient, message: Extract<OtClientMessage, { t: 'presence' }>): void {
    const log = this.log
    if (!log) return
    if (message.version > log.version) {
      this.refuse(conn, `presence at version ${message.version}, the log is at ${log.version}`)
      return
    }
    client.knownVersion = Math.max(client.knownVersion, message.version)
    const color = cssColor(message.user.color)
    if (color === null) {
      this.refuse(conn, 'the presence colour is not a CSS colour')
      return
    }
    const user = { name: message.user.name, color, colorLight: lightColor(color) }
    let cursor: { anchor: unknown; head: unknown } | null = null
    if (message.selection) {
      const later = log.entriesSince(message.version) ?? []
      const toRelative = (offset: number) => {
        let pos = Math.min(Math.max(0, offset), log.lengthAt(message.version) ?? log.doc.length)
        for (const entry of later) pos = entry.changes.mapPos(pos, 1)
        pos = Math.min(pos, this.ytext.length)
        return cursorPosition(this.ytext, pos)
      }
      cursor = { anchor: toRelative(message.selection.anchor), head: toRelative(message.selection.head) }
    }
    client.presence = { user, cursor }
    this.announce(conn, client)
  }

  /** Sends an OT client's presence to everyone else as an awareness entry it owns. */
  private announce(conn: Connection, client: OtClient): void {
    const entries = [{ clientID: client.awarenessId, clock: ++client.awarenessClock, state: client.presence }]
    const relayed = this.room.awareness.apply(conn, entries, encodeAwarenessEntries(entries))
    if (!relayed) return
    this.room.broadcast(encodeAwareness(relayed), null)
    this.room.publishAwareness(relayed)
  }

  private startRenewing(): void {
    if (this.renewTimer) return
    this.renewTimer = setInterval(() => {
      for (const [conn, client] of this.clients) if (client.presence !== null) this.announce(conn, client)
    }, renewPresenceEveryMs)
    this.renewTimer.unref()
  }

  /** Someone's presence changed: OT clients hear about it within {@link presenceEveryMs}. */
  presenceChanged(): void {
    if (this.clients.size === 0 || this.presenceTimer) return
    this.presenceTimer = setTimeout(() => {
      this.presenceTimer = null
      for (const [conn, client] of this.clients) this.sendPresence(conn, client)
    }, presenceEveryMs)
    this.presenceTimer.unref()
  }

  private sendPresence(conn: Connection, client: OtClient): void {
    const log = this.log
    if (!log) return
    const peers: OtPeer[] = []
    for (const { clientID, state } of this.room.awareness.presentStates()) {
      if (clientID === client.awarenessId) continue
      peers.push(this.peerOf(clientID, state))
    }
    conn.send(encodeCollab(encodeMessage({ t: 'presence', version: this.published, peers })))
  }

  /** An awareness state as OT clients see it: Yjs relative positions resolved to offsets at the current version. */
  private peerOf(id: number, state: unknown): OtPeer {
    const fields = typeof state === 'object' && state !== null ? (state as Record<string, unknown>) : {}
    const user = parseUser(fields.user)
    let selection: OtPeer['selection'] = null
    const cursor = fields.cursor
    if (typeof cursor === 'object' && cursor !== null) {
      const anchor = this.offsetOf((cursor as Record<string, unknown>).anchor)
      const head = this.offsetOf((cursor as Record<string, unknown>).head)
      if (anchor !== null && head !== null) selection = { anchor, head }
    }
    return { id, user, selection }
  }

  private offsetOf(json: unknown): number | null {
    return cursorOffset(json, this.ytext, this.room.doc)
  }

  private sendToJoined(message: OtServerMessage): void {
    if (this.clients.size === 0) return
    const encoded = encodeCollab(encodeMessage(message))
    let sent = 0
    for (const conn of this.clients.keys()) if (conn.sendUncounted(encoded)) sent++
    if (sent > 0) this.room.observer.messagesSent?.('collab', encoded.length, sent)
  }

  private refuse(conn: Connection, reason: string): void {
    this.room.observer.updateRefused?.('invalid')
    this.room.logger.warn({ doc: this.room.name, conn: conn.id, reason }, 'collab message refused')
    this.room.drop(conn, CloseCode.BadMessage, `collab message refused: ${reason}`.slice(0, 120))
  }

  private stopTimers(): void {
    if (this.presenceTimer) clearTimeout(this.presenceTimer)
    if (this.renewTimer) clearInterval(this.renewTimer)
    this.presenceTimer = null
    this.renewTimer = null
  }

  /**
   * The room unloads. With `clean`, every entry is stored (the room waited for its writes), so the log may continue
   * in the next run: the meta record says so ([OT3]).
   */
  async finish(clean: boolean): Promise<void> {
    this.stopTimers()
    if (!this.log) return
    this.ytext.unobserve(this.onTextChange)
    if (!clean) return
    try {
      await this.room.written()
      await this.room.writeSide([this.metaWrite(true)])
    } catch (err) {
      this.room.logger.warn(
        { doc: this.room.name, err: err instanceof Error ? err.message : String(err) },
        'OT log: could not mark a clean stop; the next run starts a new epoch',
      )
    }
  }
}

function entryJSON(entry: OtEntry): OtEntryJSON {
  return { clientID: entry.clientID, changes: entry.changes.toJSON() }
}
