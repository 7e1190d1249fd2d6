import type { DocStore, SideWrite } from '@collab/storage'
import type { Logger } from 'pino'
import * as Y from 'yjs'
import { type AuthorRun, authorRuns } from './authorship.js'
import type { RoomVersions, VersionKeeper } from './room-versions.js'
import { textName } from './room-versions.js'
import { rebuildVersion } from './version-delta.js'
import { defaultVersionRules, type VersionRules, versionsToThin } from './version-policy.js'
import {
  deltaKey,
  encodeJson,
  metaKey,
  pendingKey,
  readDeltas,
  readMetas,
  readOwners,
  readRoomVersions,
  type SideStore,
  type StoredRoomVersions,
  tipWrite,
  type VersionMeta,
  versionWrites,
} from './version-records.js'

/** A version as the API lists it ([VH1]). */
export interface VersionInfo {
  /** Decimal digits, counting up per document. */
  id: string
  /** When it was made, ms since the epoch. */
  at: number
  name?: string
  /** The users who changed the document since the previous version (token subjects), sorted. */
  authors: string[]
  /** Made by the server's rules (or kept before a restore) rather than asked for. */
  auto: boolean
}

/** Why a version operation was refused; each caller maps the kind to its own answer (an HTTP status). */
export type VersionErrorKind =
  /** The store keeps no side records (PostgreSQL, cluster mode): HTTP 501. */
  | 'unavailable'
  /** No such document or version: HTTP 404. */
  | 'not-found'
  /** A bad name: HTTP 400. */
  | 'invalid'
  /** Not allowed on this version (deleting an automatic one): HTTP 409. */
  | 'conflict'

/** A refused version operation. */
export class VersionError extends Error {
  override readonly name = 'VersionError'
  constructor(
    readonly kind: VersionErrorKind,
    message: string,
  ) {
    super(message)
  }
}

/** The longest version name, in UTF-16 units. */
export const maxVersionNameLength = 200

/** Why `name` cannot name a version, or `null`. */
export function versionNameError(name: unknown): string | null {
  if (typeof name !== 'string') return 'the name must be a string'
  if (name.trim() === '') return 'the name is empty'
  if (name.length > maxVersionNameLength) return `the name is longer than ${maxVersionNameLength} characters`
  // biome-ignore lint/suspicious/noControlCharactersInRegex: names are shown on one line in lists
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'the name has control characters'
  return null
}

/** The document API of version history, as {@link SyncServer.versions} offers it. */
export interface DocVersions {
  /** Whether the store keeps versions (not in cluster mode, whose PostgreSQL store keeps no side records). */
  readonly available: boolean
  /** The versions of a document, newest first; `[]` for one without versions (or that does not exist). */
  list(doc: string): Promise<VersionInfo[]>
  /** Makes a named version of the document as it is now; `not-found` for a document that does not exist. */
  create(doc: string, name: string): Promise<VersionInfo>
  /** The version's text (the `Y.Text` named `codemirror`). */
  text(doc: string, id: string): Promise<string>
  /** The version's Yjs state: one update that, applied to an empty document, gives the version. */
  state(doc: string, id: string): Promise<Uint8Array>
  /** The version's text as runs of one author each ([VH2]). */
  authors(doc: string, id: string): Promise<AuthorRun[]>
  /**
   * Restores a version ([VH3]): the state just before is kept as a version (returned as `before`), then the change
   * from today's text to the version's is applied as one edit by `user`, seen live by every client.
   */
  restore(doc: string, id: string, user: string | null): Promise<{ before: VersionInfo; changed: boolean }>
  /** Names or renames a version; `null` removes its name (it is then thinned with age like any automatic one). */
  rename(doc: string, id: string, name: string | null): Promise<VersionInfo>
  /** Deletes a named version; automatic ones are only thinned. */
  remove(doc: string, id: string): Promise<void>
}

/** What the history needs from the server: the loaded room of a document, for as long as `use` runs. */
export type WithRoom = <T>(doc: string, use: (versions: RoomVersions) => Promise<T>) => Promise<T>

/**
 * Version history of every document ([VH1]-[VH3]): the stored versions, their rebuilding, and the one lock per
 * document under which versions are made, thinned, renamed, deleted and restored, so two of them never interleave
 * their reads and writes.
 */
export class VersionHistory implements DocVersions, VersionKeeper {
  readonly rules: VersionRules
  private readonly side: SideStore | null
  private readonly locks = new Map<string, Promise<unknown>>()
  private withRoom: WithRoom | null = null

  /** `store: null` turns version history off (every call throws VersionError `unavailable`). */
  constructor(
    store: DocStore | null,
    rules: Partial<VersionRules> | undefined,
    private readonly logger: Logger,
  ) {
    this.rules = { ...defaultVersionRules, ...rules }
    this.side = store?.readSide && store.writeSide ? (store as SideStore) : null
  }

  get available(): boolean {
    return this.side !== null
  }

  /** Connects the history to the server's rooms (they are created after it). */
  attach(withRoom: WithRoom): void {
    this.withRoom = withRoom
  }

  async settled(name: string): Promise<void> {
    await this.locks.get(name)
  }

  readRoom(name: string): Promise<StoredRoomVersions> {
    return readRoomVersions(this.store(), name)
  }

  async record(versions: RoomVersions, request: { auto: boolean; name?: string }): Promise<VersionMeta | null> {
    return this.exclusive(versions.name, () => this.commit(versions, request))
  }

  async list(doc: string): Promise<VersionInfo[]> {
    // Not behind the lock: one read of one prefix sees each batch of version writes whole or not at all (LevelDB
    // iterators read from a snapshot), so a listing never waits for a rebuild or a restore in progress.
    const metas = await readMetas(this.store(), doc)
    return metas
      .filter((meta) => !meta.hidden)
      .reverse()
      .map(infoOf)
  }

  async create(doc: string, name: string): Promise<VersionInfo> {
    const error = versionNameError(name)
    if (error) throw new VersionError('invalid', error)
    this.store()
    return this.room(doc, async (versions) => {
      if (!versions.hasContent) throw new VersionError('not-found', 'no such document')
      const meta = await this.exclusive(doc, () => this.commit(versions, { auto: false, name: name.trim() }))
      if (!meta) throw new Error('a named version was not made')
      return infoOf(meta)
    })
  }

  async text(doc: string, id: string): Promise<string> {
    return this.withVersion(doc, id, (rebuilt) => rebuilt.getText(textName).toString())
  }

  async state(doc: string, id: string): Promise<Uint8Array> {
    return this.withVersion(doc, id, (rebuilt) => Y.encodeStateAsUpdate(rebuilt))
  }

  async authors(doc: string, id: string): Promise<AuthorRun[]> {
    const owners = await readOwners(this.store(), doc)
    return this.withVersion(doc, id, (rebuilt) => authorRuns(rebuilt.getText(textName), owners))
  }

  async restore(doc: string, id: string, user: string | null): Promise<{ before: VersionInfo; changed: boolean }> {
    const wanted = parseId(id)
    this.store()
    return this.room(doc, (versions) =>
      this.exclusive(doc, async () => {
        const rebuilt = await this.rebuild(doc, wanted)
        const text = rebuilt.doc.getText(textName).toString()
        rebuilt.doc.destroy()
        const label = rebuilt.meta.name === undefined ? `version ${rebuilt.meta.id}` : `"${rebuilt.meta.name}"`
        const name = `Before restoring ${label}`.slice(0, maxVersionNameLength)
        // Named, so it is kept until deleted: undoing the restore is restoring it.
        const before = await this.commit(versions, { auto: true, name })
        if (!before) throw new Error('the version before the restore was not made')
        // In the same synchronous step as nothing else: the diff is taken against the text as it is now.
        const changed = versions.replaceText(text, user)
        this.logger.info({ doc, version: wanted, before: before.id, user, changed }, 'version restored')
        return { before: infoOf(before), changed }
      }),
    )
  }

  async rename(doc: string, id: string, name: string | null): Promise<VersionInfo> {
    if (name !== null) {
      const error = versionNameError(name)
      if (error) throw new VersionError('invalid', error)
    }
    const wanted = parseId(id)
    const store = this.store()
    return this.exclusive(doc, async () => {
      const meta = findListed(await readMetas(store, doc), wanted)
      const renamed: VersionMeta = { ...meta }
      if (name === null) delete renamed.name
      else renamed.name = name.trim()
      await store.writeSide(doc, [{ key: metaKey(meta.id), value: encodeJson(renamed) }])
      return infoOf(renamed)
    })
  }

  async remove(doc: string, id: string): Promise<void> {
    const wanted = parseId(id)
    const store = this.store()
    await this.exclusive(doc, async () => {
      const metas = await readMetas(store, doc)
      const meta = findListed(metas, wanted)
      if (meta.name === undefined) {
        throw new VersionError('conflict', 'only named versions can be deleted; automatic ones are thinned with age')
      }
      const latest = metas[metas.length - 1]
      if (latest?.id === meta.id) {
        // The next version's delta starts from this one: kept unlisted until that version absorbs it.
        const hidden: VersionMeta = { ...meta, hidden: true }
        delete hidden.name
        await store.writeSide(doc, [{ key: metaKey(meta.id), value: encodeJson(hidden) }])
        return
      }
      const { writes } = foldWrites(metas, await readDeltas(store, doc), new Set([meta.id]))
      await store.writeSide(doc, writes)
    })
  }

  /**
   * Makes a version of the room's document now, under the document's lock: thins older ones, cuts the edits since
   * the latest, and stores it all in one atomic batch. `null` for an automatic version that would change nothing.
   */
  private async commit(versions: RoomVersions, request: { auto: boolean; name?: string }): Promise<VersionMeta | null> {
    const store = this.store()
    const doc = versions.name
    const metas = await readMetas(store, doc)
    const now = Date.now()
    const drop = new Set(versionsToThin(metas, now))
    for (const meta of metas) if (meta.hidden) drop.add(meta.id)
    const deltas = drop.size > 0 ? await readDeltas(store, doc) : new Map<number, Uint8Array>()
    // The room unloaded or its document was deleted meanwhile: what it would write could outlive the document.
    if (!versions.enabled) throw new VersionError('not-found', 'the document was closed or deleted; try again')
    // From the cut to the write, nothing awaits: whatever the document receives after the cut is stored after it.
    const cut = versions.cut()
    if (!cut.changed && request.name === undefined) {
      cut.undo()
      return null
    }
    const meta: VersionMeta = {
      id: (metas[metas.length - 1]?.id ?? 0) + 1,
      at: now,
      ...(request.name !== undefined && { name: request.name }),
      authors: cut.authors,
      auto: request.auto,
    }
    deltas.set(meta.id, cut.delta)
    const { writes, last: stored } = foldWrites([...metas, meta], deltas, drop)
    writes.push(tipWrite(cut.tip), { key: pendingKey, value: null })
    try {
      await store.writeSide(doc, writes)
    } catch (err) {
      cut.undo()
      throw err
    }
    this.logger.info(
      { doc, version: meta.id, auto: meta.auto, bytes: cut.delta.length, thinned: drop.size },
      'version made',
    )
    return stored
  }

  /** Runs `use` with the version rebuilt; 404 for an unknown or deleted one. */
  private async withVersion<T>(doc: string, id: string, use: (rebuilt: Y.Doc) => T): Promise<T> {
    const wanted = parseId(id)
    this.store()
    const rebuilt = await this.exclusive(doc, () => this.rebuild(doc, wanted))
    try {
      return use(rebuilt.doc)
    } finally {
      rebuilt.doc.destroy()
    }
  }

  /** The document at version `id`, from the deltas of every version up to it. Call under the document's lock. */
  private async rebuild(doc: string, id: number): Promise<{ meta: VersionMeta; doc: Y.Doc }> {
    const store = this.store()
    const [metas, deltas] = await Promise.all([readMetas(store, doc), readDeltas(store, doc)])
    const meta = findListed(metas, id)
    const chain: Uint8Array[] = []
    for (const earlier of metas) {
      if (earlier.id > id) break
      const delta = deltas.get(earlier.id)
      if (!delta) throw new Error(`version ${earlier.id} of ${JSON.stringify(doc)} has no stored delta`)
      chain.push(delta)
    }
    return { meta, doc: rebuildVersion(chain) }
  }

  private room<T>(doc: string, use: (versions: RoomVersions) => Promise<T>): Promise<T> {
    if (!this.withRoom) throw new Error('VersionHistory is not attached to a server')
    return this.withRoom(doc, use)
  }

  private store(): SideStore {
    if (!this.side) {
      throw new VersionError(
        'unavailable',
        'version history needs a store with side records (LevelDB); it is not available in cluster mode (PostgreSQL)',
      )
    }
    return this.side
  }

  /** Runs `step` after every version operation of `doc` before it. */
  private exclusive<T>(doc: string, step: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(doc) ?? Promise.resolve()
    const next = previous.catch(() => undefined).then(step)
    const settled = next.catch(() => undefined)
    this.locks.set(doc, settled)
    void settled.then(() => {
      if (this.locks.get(doc) === settled) this.locks.delete(doc)
    })
    return next
  }
}

/**
 * The writes that remove the versions in `drop`: each one's delta is merged into the next version kept (which then
 * also credits its authors), so every later version still rebuilds. The last of `metas` is never in `drop`; every
 * version merged into is rewritten, and the last one always is (it may be new).
 */
function foldWrites(
  metas: readonly VersionMeta[],
  deltas: ReadonlyMap<number, Uint8Array>,
  drop: ReadonlySet<number>,
): { writes: SideWrite[]; last: VersionMeta } {
  const writes: SideWrite[] = []
  let lastMeta = metas[metas.length - 1]
  if (!lastMeta) throw new RangeError('foldWrites needs at least one version')
  let carried: { delta: Uint8Array; authors: Set<string> } | null = null
  metas.forEach((meta, index) => {
    const delta = deltas.get(meta.id)
    const last = index === metas.length - 1
    if (drop.has(meta.id) && !last) {
      if (!delta) throw new Error(`version ${meta.id} has no stored delta to merge`)
      carried = carried
        ? { delta: Y.mergeUpdates([carried.delta, delta]), authors: new Set([...carried.authors, ...meta.authors]) }
        : { delta, authors: new Set(meta.authors) }
      writes.push({ key: metaKey(meta.id), value: null }, { key: deltaKey(meta.id), value: null })
      return
    }
    if (!carried && !last) return
    if (!delta) throw new Error(`version ${meta.id} has no stored delta`)
    const from: { delta: Uint8Array; authors: Set<string> } | null = carried
    carried = null
    const merged = from ? Y.mergeUpdates([from.delta, delta]) : delta
    const authors = from ? [...new Set([...from.authors, ...meta.authors])].sort() : meta.authors
    const rewritten = { ...meta, authors }
    if (last) lastMeta = rewritten
    writes.push(...versionWrites(rewritten, merged))
  })
  return { writes, last: lastMeta }
}

/** A version id from a URL: decimal digits without a leading zero; anything else is an unknown version. */
function parseId(id: string): number {
  if (!/^[1-9][0-9]{0,14}$/.test(id)) throw new VersionError('not-found', 'no such version')
  return Number(id)
}

function findListed(metas: readonly VersionMeta[], id: number): VersionMeta {
  const meta = metas.find((candidate) => candidate.id === id)
  if (!meta || meta.hidden) throw new VersionError('not-found', 'no such version')
  return meta
}

function infoOf(meta: VersionMeta): VersionInfo {
  return {
    id: String(meta.id),
    at: meta.at,
    ...(meta.name !== undefined && { name: meta.name }),
    authors: meta.authors,
    auto: meta.auto,
  }
}
