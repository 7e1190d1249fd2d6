import { collab, getSyncedVersion, receiveUpdates, sendableUpdates } from '@codemirror/collab'
import { ChangeSet, Compartment, EditorState, type Extension, Prec, type Text, Transaction } from '@codemirror/state'
import { EditorView, ViewPlugin, type ViewUpdate } from '@codemirror/view'
import {
  changesBetween,
  encodeMessage,
  type OtClientMessage,
  type OtEntryJSON,
  type OtPeer,
  type OtServerMessage,
  parseServerMessage,
  rebaseOnto,
  textOf,
} from '@collab/ot'
import { type OtClient, OtProvider, type OtProviderOptions, type ProviderStatus } from '@collab/provider'
import { type Presence, type PresentUser, readUser, sortPresentUsers, whenUsersChange } from './presence.js'
import { type RemoteCursor, remoteCursors, setRemoteCursors } from './remote-cursors.js'
import { type AwarenessUser, type CollabUser, toAwarenessUser } from './user.js'

/** Options of {@link OtSession}: where to connect (as for `OtProvider`) and who is typing. */
export interface OtSessionOptions extends OtProviderOptions {
  /** Who is typing, as shown to everyone else. Change it later with {@link OtSession.setUser}. */
  user: CollabUser
  /** Least time between two `presence` messages, in ms. Default 100. */
  presenceThrottleMs?: number
}

/** At most this many updates go in one push ([OT2]); the rest follow once these are confirmed. */
const maxUpdatesPerPush = 1000

/**
 * One editor's @codemirror/collab session with the collab server ([OT1]-[OT9]): joins (and rejoins after every
 * reconnect with the epoch, version and secret it holds), applies the log one entry per `receiveUpdates` call,
 * pushes local updates (one push in flight), rebases unconfirmed edits over a fresh document instead of dropping
 * them, shares the selection and draws everyone else's. Bind it to an editor with {@link otCollab}.
 */
export class OtSession implements OtClient {
  /** The connection; its status is the session's status. */
  readonly provider: OtProvider
  /** Who is here, for an online list. */
  readonly presence: Presence
  private readonly collabConfig = new Compartment()
  private readonly access = new Compartment()
  private readonly presenceThrottleMs: number
  private readonly presenceListeners = new Set<(users: PresentUser[]) => void>()
  private user: AwarenessUser
  private view: EditorView | null = null
  private destroyed = false
  private stopWatchingStatus: () => void

  /** The server's name for this client and the secret that proves it ([OT7]); null until the first welcome. */
  private clientID: string | null = null
  private secret: string | null = null
  /** The log's epoch the state follows ([OT3]); null before the first welcome and after a resync request. */
  private epoch: string | null = null
  /** Whether the editor holds the server's document (a welcome arrived). */
  private loaded = false
  /** The document at the synced version: what the server confirmed, without local unconfirmed updates. */
  private confirmed: Text | null = null
  /**
   * How many updates of ours the document holds as far as this client knows ([OT7]): the entries of our client ID
   * it received, counted from the last welcome's `applied`. A welcome with the whole text that says more were
   * applied means confirmations were lost: those updates are in its text already and must not be pushed again.
   */
  private confirmedCount = 0
  /** A push was sent and none of its updates came back yet. */
  private inFlight = false
  private peers: readonly OtPeer[] = []
  private peersVersion = 0
  private lastPresenceAt = 0
  private presenceTimer: ReturnType<typeof setTimeout> | null = null
  private editable = false
  /** A reset is dispatching its transactions: its rebased edits are pushed once the welcome is handled. */
  private resetting = false

  constructor(options: OtSessionOptions) {
    this.user = toAwarenessUser(options.user)
    this.presenceThrottleMs = options.presenceThrottleMs ?? 100
    this.provider = new OtProvider(options)
    this.presence = {
      users: () => this.presentUsers(),
      onChange: (listener) => {
        // Presence messages carry cursors too; the list goes out only when who is here changed.
        const forward = whenUsersChange(listener)
        this.presenceListeners.add(forward)
        this.emitPresenceTo(forward)
        return () => this.presenceListeners.delete(forward)
      },
    }
    this.stopWatchingStatus = this.provider.onStatus(() => this.refreshAccess())
  }

  /** Connection state and whether local changes are not yet stored by the server. */
  get status(): ProviderStatus {
    return this.provider.status
  }

  /** Calls `listener` on every status change; returns the function that unsubscribes. */
  onStatus(listener: (status: ProviderStatus) => void): () => void {
    return this.provider.onStatus(listener)
  }

  /** Changes the name and colour others see on this user's cursor and in their presence lists. */
  setUser(user: CollabUser): void {
    this.user = toAwarenessUser(user)
    this.emitPresence()
    this.schedulePresence()
  }

  /** Closes the connection and releases every timer. The editor stays as it is, read-only. Idempotent. */
  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    this.clearPresenceTimer()
    this.stopWatchingStatus()
    this.provider.destroy()
    this.presenceListeners.clear()
  }

  /** The extension that binds an editor to this session; see {@link otCollab}. */
  extension(): Extension {
    return [
      // [OT5]: offsets count "\r\n" as the two characters it is in the Y.Text; this must win over the host's.
      Prec.highest(EditorState.lineSeparator.of('\n')),
      this.collabConfig.of(collab({ startVersion: 0 })),
      this.access.of(accessExtension(false)),
      remoteCursors(),
      ViewPlugin.define((view) => {
        this.bind(view)
        return {
          update: (update: ViewUpdate) => this.viewUpdated(update),
          destroy: () => this.unbind(view),
        }
      }),
    ]
  }

  // --- OtClient: called by the provider ---

  /** @internal */
  connected(): void {
    const version = this.loaded && this.epoch !== null && this.view ? getSyncedVersion(this.view.state) : null
    this.send({ t: 'join', epoch: version === null ? null : this.epoch, version, secret: this.secret })
  }

  /** @internal */
  received(json: string): void {
    if (!this.view) return
    const parsed = parseServerMessage(json)
    if (!parsed.ok) {
      // Skipping it is safe: a lost `updates` shows as a gap in the next one, which rejoins.
      report(`ignoring a collab message the server sent: ${parsed.error}`)
      return
    }
    this.handle(this.view, parsed.message)
  }

  /** @internal */
  disconnected(): void {
    this.inFlight = false
    this.setPeers([], 0)
  }

  // --- messages from the server ---

  private handle(view: EditorView, message: OtServerMessage): void {
    switch (message.t) {
      case 'welcome':
        this.welcome(view, message)
        return
      case 'updates':
        this.applyEntries(view, message.version, message.updates)
        return
      case 'presence':
        this.setPeers(message.peers, message.version)
        return
    }
  }

  private welcome(view: EditorView, message: Extract<OtServerMessage, { t: 'welcome' }>): void {
    this.secret = message.secret
    if (message.doc !== undefined) {
      this.epoch = message.epoch
      this.reset(view, textOf(message.doc), message.version, message.clientID, message.applied)
    } else {
      // Entries after what we hold: only valid for a client that holds this epoch under this ID ([OT2]).
      if (!this.loaded || message.epoch !== this.epoch || message.clientID !== this.clientID) {
        report('the server sent entries for a state this client does not hold; rejoining')
        this.resync()
        return
      }
      const entries = message.updates ?? []
      // [OT2]: `version` is the one the entries start from (the one we sent in `join`), as in `updates`.
      const base = message.version
      if (!this.applyEntries(view, base, entries)) return
      if (getSyncedVersion(view.state) !== base + entries.length) {
        report(`welcome with entries from ${base} left the editor at ${getSyncedVersion(view.state)}; rejoining`)
        this.resync()
        return
      }
      // Now at the server's version: its count of our updates is exactly what we hold ([OT7]).
      this.confirmedCount = message.applied
    }
    this.inFlight = false
    this.provider.markSynced()
    this.refreshAccess()
    this.push(view, true)
    this.sendPresence()
  }

  /**
   * Applies log entries `base+1`, `base+2`, ... one per `receiveUpdates` call ([OT4]): composing them would
   * diverge from the server's rebasing. Entries the editor already has are skipped; a gap, or an entry that does
   * not fit the document, means this state cannot follow the log any more, and the session rejoins.
   */
  private applyEntries(view: EditorView, base: number, entries: readonly OtEntryJSON[]): boolean {
    if (!this.loaded || this.confirmed === null) return false
    let version = getSyncedVersion(view.state)
    if (base > version) {
      report(`entries from version ${base} arrived at version ${version}; rejoining`)
      this.resync()
      return false
    }
    let ownConfirmed = false
    for (const [index, entry] of entries.entries()) {
      if (base + index < version) continue
      const changes = changeSetFromJSON(entry.changes)
      if (changes === null || changes.length !== this.confirmed.length) {
        report(`entry ${base + index + 1} does not fit the document; rejoining`)
        this.resync()
        return false
      }
      view.dispatch(receiveUpdates(view.state, [{ changes, clientID: entry.clientID }]))
      this.confirmed = changes.apply(this.confirmed)
      if (entry.clientID === this.clientID) {
        ownConfirmed = true
        this.confirmedCount++
      }
      version++
    }
    if (ownConfirmed) {
      this.inFlight = false
      this.push(view, false)
    }
    return true
  }

  /**
   * Puts the editor at `version` of a (possibly new) log with the text `doc`, keeping the unconfirmed local edits
   * `doc` does not hold yet. The first `applied - confirmedCount` of them are in it already: the server applied them,
   * but their confirmations were lost with a connection ([OT7]); they go. The rest are rebased over the difference
   * between the text after those (the confirmed text with them applied) and `doc` ([OT6]) and become the
   * unconfirmed updates of the new state, pushed again after the welcome.
   */
  private reset(view: EditorView, doc: Text, version: number, clientID: string, applied: number): void {
    const state = view.state
    const confirmed = this.confirmed ?? state.doc
    const unconfirmed = sendableUpdates(state)
    // A client ID other than ours (a new identity) has no updates we could have sent.
    const seen = clientID === this.clientID ? this.confirmedCount : 0
    const skip = Math.min(Math.max(applied - seen, 0), unconfirmed.length)
    let base = confirmed
    for (const update of unconfirmed.slice(0, skip)) base = update.changes.apply(base)
    const local = unconfirmed
      .slice(skip)
      .reduce((composed, update) => composed.compose(update.changes), ChangeSet.empty(base.length))
    if (local.newLength !== state.doc.length) {
      throw new RangeError(`Unconfirmed updates of length ${local.newLength} in a document of ${state.doc.length}`)
    }
    const remote = changesBetween(base, doc)
    // Each kept edit goes next to the text it was made beside, not only where the difference maps it ([OT6]).
    const rebased = rebaseOnto(local, base, doc)
    const selection = state.selection.map(remote.map(local, true))
    // Three steps, because @codemirror/collab's state only starts over when its field leaves the configuration:
    // back to the text without the updates we keep, moved to `doc`, without collab; collab anew at `version`; the
    // kept local edits again.
    view.dispatch({
      changes: local.invert(base).compose(remote),
      effects: this.collabConfig.reconfigure([]),
      annotations: [Transaction.remote.of(true), Transaction.addToHistory.of(false)],
      filter: false,
    })
    view.dispatch({ effects: this.collabConfig.reconfigure(collab({ startVersion: version, clientID })) })
    this.clientID = clientID
    this.confirmed = doc
    this.confirmedCount = applied
    this.loaded = true
    this.resetting = true
    try {
      view.dispatch({
        ...(!rebased.empty && { changes: rebased }),
        selection,
        annotations: Transaction.addToHistory.of(false),
        filter: false,
      })
    } finally {
      this.resetting = false
    }
  }

  /** This state cannot follow the log: join again as a client without a state, which gets the whole document. */
  private resync(): void {
    this.epoch = null
    this.provider.reconnect()
  }

  // --- local changes ---

  private bind(view: EditorView): void {
    if (this.view !== null && this.view !== view) {
      throw new RangeError('OtSession: bound to a second editor; create one session per editor')
    }
    this.view = view
    this.confirmed ??= view.state.doc
    if (!this.destroyed) this.provider.attach(this)
  }

  private unbind(view: EditorView): void {
    if (this.view !== view) return
    this.view = null
    this.clearPresenceTimer()
  }

  private viewUpdated(update: ViewUpdate): void {
    const localEdit = update.transactions.some((tr) => tr.docChanged && !tr.annotation(Transaction.remote))
    if (localEdit && this.loaded) {
      this.provider.localChange()
      // Dispatching from inside an update is not allowed, but sending is.
      if (!this.resetting) this.push(update.view, false)
    }
    if (localEdit || update.selectionSet) this.schedulePresence()
  }

  /**
   * Pushes the unconfirmed updates unless a push is in flight. `afterWelcome`: the first push of a connection; if
   * nothing is left to push but what the previous connection pushed was never acknowledged as stored, an empty
   * push asks the server to acknowledge that the log up to now is stored ([SA1]).
   */
  private push(view: EditorView, afterWelcome: boolean): void {
    if (!this.loaded || this.inFlight || this.provider.status.readOnly) return
    const updates = sendableUpdates(view.state)
    if (updates.length === 0 && !(afterWelcome && this.provider.status.unsaved)) return
    const carried = updates.slice(0, maxUpdatesPerPush)
    const sent = this.provider.sendPush(
      encodeMessage({
        t: 'push',
        version: getSyncedVersion(view.state),
        updates: carried.map((update) => ({ changes: update.changes.toJSON() })),
      }),
    )
    if (!sent) return
    this.inFlight = carried.length > 0
    if (carried.length < updates.length) this.provider.localChange()
  }

  // --- presence ---

  private schedulePresence(): void {
    if (this.presenceTimer !== null || this.destroyed) return
    const wait = this.lastPresenceAt + this.presenceThrottleMs - Date.now()
    if (wait <= 0) {
      this.sendPresence()
      return
    }
    this.presenceTimer = setTimeout(() => {
      this.presenceTimer = null
      this.sendPresence()
    }, wait)
  }

  private sendPresence(): void {
    const view = this.view
    if (!view || !this.loaded) return
    this.clearPresenceTimer()
    const { anchor, head } = view.state.selection.main
    const sent = this.send({
      t: 'presence',
      version: getSyncedVersion(view.state),
      user: { name: this.user.name, color: this.user.color },
      selection: { anchor, head },
    })
    if (sent) this.lastPresenceAt = Date.now()
  }

  private clearPresenceTimer(): void {
    if (this.presenceTimer !== null) clearTimeout(this.presenceTimer)
    this.presenceTimer = null
  }

  /** Takes the server's list of everyone else; their offsets are at `version`, before our unconfirmed updates. */
  private setPeers(peers: readonly OtPeer[], version: number): void {
    this.peers = peers
    this.peersVersion = version
    const view = this.view
    if (view && this.loaded) view.dispatch({ effects: setRemoteCursors.of(this.remoteCursors(view.state)) })
    this.emitPresence()
  }

  private remoteCursors(state: EditorState): RemoteCursor[] {
    // The server sends presence after the updates up to its version ([OT2]); only our own unconfirmed updates
    // lie between its offsets and our document. Anything else (a stale message) is clamped by the field.
    const unconfirmed = this.peersVersion === getSyncedVersion(state) ? sendableUpdates(state) : []
    const toLocal = (pos: number) => unconfirmed.reduce((mapped, update) => update.changes.mapPos(mapped, 1), pos)
    const cursors: RemoteCursor[] = []
    for (const peer of this.peers) {
      if (peer.selection === null) continue
      const { name, color } = readUser({ user: peer.user })
      cursors.push({
        id: peer.id,
        name,
        color,
        colorLight: peer.user?.colorLight || `${color}33`,
        anchor: toLocal(peer.selection.anchor),
        head: toLocal(peer.selection.head),
      })
    }
    return cursors
  }

  private presentUsers(): PresentUser[] {
    const users: PresentUser[] = [{ clientId: -1, name: this.user.name, color: this.user.color, isLocal: true }]
    for (const peer of this.peers) users.push({ clientId: peer.id, ...readUser({ user: peer.user }), isLocal: false })
    return sortPresentUsers(users)
  }

  private emitPresence(): void {
    for (const listener of [...this.presenceListeners]) this.emitPresenceTo(listener)
  }

  private emitPresenceTo(listener: (users: PresentUser[]) => void): void {
    try {
      listener(this.presentUsers())
    } catch (err) {
      report('a presence listener threw', err)
    }
  }

  // --- access ---

  /** Editable once the document is loaded, unless the server said read-only or refused us for good. */
  private refreshAccess(): void {
    const status = this.provider.status
    const editable = this.loaded && !status.readOnly && status.error === null
    if (editable === this.editable || !this.view) return
    this.editable = editable
    this.view.dispatch({ effects: this.access.reconfigure(accessExtension(editable)) })
  }

  private send(message: OtClientMessage): boolean {
    return this.provider.send(encodeMessage(message))
  }
}

/**
 * The extension that makes an editor the client of `session`: @codemirror/collab, `"\n"` line breaks ([OT5]),
 * remote cursors, and read-only until the document has arrived (and whenever the server says read-only). The
 * editor's initial document is replaced by the server's. One session per editor.
 */
export function otCollab(session: OtSession): Extension {
  return session.extension()
}

function accessExtension(editable: boolean): Extension {
  return [EditorView.editable.of(editable), EditorState.readOnly.of(!editable)]
}

/** A ChangeSet from the network, or null when the JSON is not one. */
function changeSetFromJSON(json: unknown): ChangeSet | null {
  try {
    return ChangeSet.fromJSON(json)
  } catch (err) {
    report('a log entry holds no valid change set', err)
    return null
  }
}

function report(message: string, err?: unknown): void {
  console.error(`[collab] ${message}`, ...(err === undefined ? [] : [err]))
}
