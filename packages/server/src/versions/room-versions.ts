import { randomInt } from 'node:crypto'
import type { SideWrite } from '@collab/storage'
import type { Logger } from 'pino'
import * as Y from 'yjs'
import { Connection } from '../connection.js'
import type { ExceptionSink } from '../exception-sink.js'
import type { StructShape } from '../update-census.js'
import { lineEdits } from './restore-diff.js'
import { deltaSince, emptyTip, isEmptyDelta, type VersionTip } from './version-delta.js'
import type { VersionRules } from './version-policy.js'
import { encodeJson, ownerWrite, pendingKey, type StoredRoomVersions } from './version-records.js'

/** What the versions of a room need from it. */
export interface VersionedRoom {
  readonly name: string
  readonly doc: Y.Doc
  readonly isReady: boolean
  readonly logger: Logger
  readonly sink: ExceptionSink
}

/** What a room's versions need from the server: the stored versions and the rules (version-history.ts). */
export interface VersionKeeper {
  readonly rules: VersionRules
  /** Reads what a loading room needs; throws when the records cannot be read. */
  readRoom(name: string): Promise<StoredRoomVersions>
  /** Makes a version of the room's document now; `null` when an automatic one would change nothing. */
  record(versions: RoomVersions, request: { auto: boolean; name?: string }): Promise<unknown>
  /** Resolves once every version operation on the document started so far has ended. */
  settled(name: string): Promise<void>
}

/**
 * The origin of a transaction the server applies on a user's behalf (a restore, an OT client's push): the user it
 * is credited to ([VH2]). Subclasses say more (ot-protocol.ts recognises its own pushes by theirs).
 */
export class UserEditOrigin {
  constructor(readonly user: string | null) {}
}

/** A cut of the room's edits into a version: its delta and authors, and how to take it back if storing it failed. */
export interface VersionCut {
  delta: Uint8Array
  tip: VersionTip
  authors: string[]
  /** Whether anything changed since the previous version. */
  changed: boolean
  /** Puts the cut edits back, to be cut again by the next version (storing this one failed). */
  undo(): void
}

/** The name of the Y.Text the editors bind (y-codemirror.next's convention in this project). */
export const textName = 'codemirror'

/**
 * A room's part of version history: who owns each Yjs client ID of the document ([VH2]), which edits the next
 * version will hold and by whom, and when the server makes one by itself ({@link VersionRules}). Disabled (every
 * method a no-op) when the store keeps no side records.
 */
export class RoomVersions {
  private owners = new Map<number, string | null>()
  /**
   * The client ID the server writes each user's OT pushes under, minted on their first push since the room loaded.
   * Reused only for that user, and only in this run: a client ID owned by a user may also be that user's Yjs client
   * (still editing), so an owned ID found in the store is never taken over.
   */
  private readonly minted = new Map<string, number>()
  private tip: VersionTip = emptyTip()
  /** When the first edit since the latest version was made; `null`: none since. */
  private pendingSince: number | null = null
  private pendingAuthors = new Set<string>()
  private updatesSince = 0
  private lastEditAt = 0
  private timer: NodeJS.Timeout | null = null
  private making: Promise<void> | null = null
  private stopped = false

  constructor(
    private readonly room: VersionedRoom,
    private readonly keeper: VersionKeeper | null,
  ) {}

  get enabled(): boolean {
    return this.keeper !== null && !this.stopped
  }

  get name(): string {
    return this.room.name
  }

  /** Whether the document has content (a document nobody wrote to does not exist). */
  get hasContent(): boolean {
    return this.room.doc.store.clients.size > 0
  }

  /** Who owns each client ID known so far. */
  get clientOwners(): ReadonlyMap<number, string | null> {
    return this.owners
  }

  /** What the room reads while it loads, or `null` without version history. */
  async read(): Promise<StoredRoomVersions | null> {
    return this.keeper ? this.keeper.readRoom(this.room.name) : null
  }

  /** Takes what {@link RoomVersions.read} found, in the same synchronous step as the stored updates are applied. */
  loaded(stored: StoredRoomVersions | null): void {
    if (!stored) return
    this.owners = stored.owners
    this.tip = stored.tip ?? emptyTip()
    if (stored.pending) {
      // Edits a server that ended without unloading (kill -9) left unversioned: the next version holds them.
      this.pendingSince = stored.pending.since
      this.pendingAuthors = new Set(stored.pending.authors)
      this.lastEditAt = stored.pending.since
      // A timer rather than a version now: the room is not ready until this synchronous step ends.
      this.armTimer(Date.now())
    }
  }

  /**
   * Why an update from `user` may not be applied, or `null`: its new content belongs to a client ID another user
   * owns ([VH2]). Content the document already has (a client relaying what it received) is not a claim.
   */
  claimRefusal(user: string | undefined, structs: readonly StructShape[]): string | null {
    if (!this.enabled || this.owners.size === 0) return null
    const claimant = user ?? null
    for (const struct of structs) {
      if (struct.kind === 'skip') continue
      if (struct.clock + struct.length <= Y.getState(this.room.doc.store, struct.client)) continue
      const owner = this.owners.get(struct.client)
      if (owner !== undefined && owner !== claimant) return `client ID ${struct.client} belongs to another user`
    }
    return null
  }

  /**
   * A transaction changed the document: records the owners of client IDs it brought content for, and the edit for
   * the next version. Returns the side records to store in the same batch as its update (the owners must never be
   * lost while their content is kept, or a `kill -9` would leave text nobody can be credited with).
   */
  edited(origin: unknown, transaction: Y.Transaction): SideWrite[] | undefined {
    if (!this.enabled) return undefined
    const user = userOf(origin)
    let writes: SideWrite[] | undefined
    for (const [client, clock] of transaction.afterState) {
      if (clock <= (transaction.beforeState.get(client) ?? 0) || this.owners.has(client)) continue
      this.owners.set(client, user)
      writes ??= []
      writes.push(ownerWrite(client, user))
    }
    const now = Date.now()
    let pendingChanged = false
    if (this.pendingSince === null) {
      this.pendingSince = now
      pendingChanged = true
    }
    if (user !== null && !this.pendingAuthors.has(user)) {
      this.pendingAuthors.add(user)
      pendingChanged = true
    }
    if (pendingChanged) {
      writes ??= []
      writes.push({
        key: pendingKey,
        value: encodeJson({ since: this.pendingSince, authors: [...this.pendingAuthors] }),
      })
    }
    this.updatesSince++
    this.lastEditAt = now
    this.schedule(now)
    return writes
  }

  /** The last connection left: a version of what changed, if anything did. */
  lastLeft(): void {
    if (this.keeper?.rules.whenLastLeaves && this.pendingSince !== null) this.makeAutomatic()
  }

  /** The room unloads: waits for a version in progress, then makes one of what is left. Never rejects. */
  async finish(): Promise<void> {
    this.clearTimer()
    await this.making
    if (this.keeper && !this.stopped && this.pendingSince !== null) {
      await this.keeper.record(this, { auto: true }).catch((err: unknown) => this.logFailure(err))
    }
    this.stopped = true
  }

  /**
   * The document is being deleted: no more versions, and resolves once no version operation can write anymore (a
   * version stored after the deletion would outlive it, and haunt the next document of that name).
   */
  async abandon(): Promise<void> {
    this.stop()
    await this.making
    await this.keeper?.settled(this.room.name)
  }

  /** Storage failed: no more versions from this copy of the document (the next load continues). */
  stop(): void {
    this.clearTimer()
    this.stopped = true
  }

  /**
   * Cuts the edits since the latest version into a new one, synchronously: whatever the document received before
   * this call is in it, whatever comes after is in the next. The caller stores it before anything else is written.
   */
  cut(): VersionCut {
    const before = {
      tip: this.tip,
      since: this.pendingSince,
      authors: this.pendingAuthors,
      updates: this.updatesSince,
    }
    const { delta, tip } = deltaSince(this.room.doc, this.tip)
    const authors = [...this.pendingAuthors].sort()
    this.tip = tip
    this.pendingSince = null
    this.pendingAuthors = new Set()
    this.updatesSince = 0
    this.clearTimer()
    return {
      delta,
      tip,
      authors,
      changed: !isEmptyDelta(delta),
      undo: () => {
        this.tip = before.tip
        if (before.since !== null) this.pendingSince = Math.min(before.since, this.pendingSince ?? before.since)
        for (const author of before.authors) this.pendingAuthors.add(author)
        this.updatesSince += before.updates
        if (this.pendingSince !== null) this.schedule(Date.now())
      },
    }
  }

  /**
   * Turns the document's text into `text` with one transaction by a new client ID owned by `user` ([VH3]). Only
   * the lines that differ are replaced, so the lines both share keep their identity (their authors, and everyone's
   * cursors in them). Returns whether anything changed.
   */
  replaceText(text: string, user: string | null): boolean {
    const doc = this.room.doc
    const ytext = doc.getText(textName)
    const edits = lineEdits(ytext.toString(), text)
    if (edits.length === 0) return false
    // The edit is the restoring user's own: a client ID of its own, bound to that user in the update's batch.
    this.transactUnder(this.unusedClientID(), new UserEditOrigin(user), () => {
      // Last first, so the positions of the edits before it still hold.
      for (const edit of [...edits].reverse()) {
        if (edit.to > edit.from) ytext.delete(edit.from, edit.to - edit.from)
        if (edit.insert !== '') ytext.insert(edit.from, edit.insert)
      }
    })
    return true
  }

  /**
   * Runs `edit` as one transaction with `origin`, under a client ID owned by `origin.user` ([VH2]): the same one for
   * every such edit of that user while the room is loaded, bound to the user in the batch of its first content (by
   * {@link RoomVersions.edited}). Without a user (credited to nobody) or without version history (nothing to credit),
   * under the document's own client ID. For edits the server applies on a user's behalf, as an OT client's push.
   */
  editAs(origin: UserEditOrigin, edit: () => void): void {
    const user = origin.user
    if (user === null || !this.enabled) {
      this.room.doc.transact(edit, origin)
      return
    }
    let clientID = this.minted.get(user)
    // Someone else's content under it first (a Yjs client that drew the same random ID): it is theirs now.
    if (clientID === undefined || (this.owners.has(clientID) && this.owners.get(clientID) !== user)) {
      clientID = this.unusedClientID()
      this.minted.set(user, clientID)
    }
    this.transactUnder(clientID, origin, edit)
  }

  /**
   * One transaction whose new content is written under `clientID`. Yjs writes under `doc.clientID`, read as each
   * item is made; setting it around a transaction is how Yjs itself changes IDs. The document's own ID is back
   * before anything else can run, so no other transaction writes under `clientID`.
   */
  private transactUnder(clientID: number, origin: UserEditOrigin, edit: () => void): void {
    const doc = this.room.doc
    const ownClientID = doc.clientID
    doc.clientID = clientID
    try {
      doc.transact(edit, origin)
    } finally {
      doc.clientID = ownClientID
    }
  }

  /** A client ID nobody has written under, owns, or was given: not even the server's own. */
  private unusedClientID(): number {
    const taken = new Set(this.minted.values())
    for (;;) {
      const id = randomInt(1, 2 ** 31)
      if (id === this.room.doc.clientID || taken.has(id)) continue
      if (!this.owners.has(id) && !this.room.doc.store.clients.has(id)) return id
    }
  }

  /** Applies the automatic rules after an edit at `now`: a version now, or a timer for the next check. */
  private schedule(now: number): void {
    const rules = this.keeper?.rules
    if (!rules || this.pendingSince === null || this.making || this.stopped) return
    const sessionDue = this.pendingSince + rules.maxIntervalMs
    if ((rules.maxUpdates > 0 && this.updatesSince >= rules.maxUpdates) || now >= sessionDue) {
      this.makeAutomatic()
      return
    }
    this.armTimer(now)
  }

  /** Sets the timer of the next check of the time rules, unless one is set. */
  private armTimer(now: number): void {
    const rules = this.keeper?.rules
    if (!rules || this.pendingSince === null || this.timer || this.stopped) return
    const sessionDue = this.pendingSince + rules.maxIntervalMs
    const quietDue = this.lastEditAt + rules.quietMs
    this.timer = setTimeout(() => this.checkTimer(), Math.max(0, Math.min(quietDue, sessionDue) - now))
    this.timer.unref()
  }

  private checkTimer(): void {
    this.timer = null
    const rules = this.keeper?.rules
    if (!rules || this.pendingSince === null) return
    const now = Date.now()
    if (now >= this.lastEditAt + rules.quietMs || now >= this.pendingSince + rules.maxIntervalMs) this.makeAutomatic()
    else this.schedule(now)
  }

  private makeAutomatic(): void {
    const keeper = this.keeper
    if (!keeper || this.making || this.stopped || !this.room.isReady) return
    this.clearTimer()
    this.making = keeper
      .record(this, { auto: true })
      .then(
        () => undefined,
        (err: unknown) => this.logFailure(err),
      )
      .finally(() => {
        this.making = null
        // Edits that arrived while it was being stored may already be due.
        if (this.pendingSince !== null && !this.stopped) this.schedule(Date.now())
      })
  }

  private logFailure(err: unknown): void {
    this.room.logger.error(
      { doc: this.room.name, err: err instanceof Error ? err.message : String(err) },
      'automatic version failed; the next one will hold its edits',
    )
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }
}

/** The user an edit is credited to: the connection's authenticated user, a restore's or OT push's user, else nobody. */
function userOf(origin: unknown): string | null {
  if (origin instanceof Connection) return origin.user ?? null
  if (origin instanceof UserEditOrigin) return origin.user
  return null
}
