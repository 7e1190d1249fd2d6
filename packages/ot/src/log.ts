import type { ChangeSet, Text } from '@codemirror/state'

/** One version step of the OT log: the change set that leads to it and who made it ([OT3]). */
export interface OtEntry {
  /** The OT client's ID, or "yjs" for a transaction that came from Yjs. */
  clientID: string
  changes: ChangeSet
  /** When it was appended, in ms since the epoch; the age the floor policy of [OT6] looks at. */
  at: number
}

/** The history floor policy of [OT6]. */
export interface OtLogOptions {
  /** The newest entries that are always kept. Default 1,000. */
  keepEntries?: number
  /** Entries younger than this (ms) are always kept. Default 10 minutes. */
  keepMs?: number
  /** Hard bound on entries, above every other rule. Default 20,000. */
  maxEntries?: number
}

const defaults: Required<OtLogOptions> = { keepEntries: 1000, keepMs: 600_000, maxEntries: 20_000 }

/** Rough per-entry overhead in bytes (the entry object, its ChangeSet and their arrays), for {@link OtLog.size}. */
const entryOverhead = 120

/**
 * The OT log of one document ([OT3]): version numbers over the text, the last entries (to bring clients up to date
 * and to rebase pushes, [OT4]) and the text at the current version. It is derived from the Y.Text; the caller
 * appends one entry per Yjs transaction that changed the text, so `doc` always equals the Y.Text.
 */
export class OtLog {
  /** The epoch the versions count in ([OT3]); a version means nothing in another epoch. */
  readonly epoch: string
  #doc: Text
  #version: number
  /** `#entries[i]` leads from version `floor + i` to `floor + i + 1`. */
  #entries: OtEntry[]
  readonly #options: Required<OtLogOptions>
  #entriesSize = 0

  constructor(init: { epoch: string; doc: Text; version: number; entries?: OtEntry[] }, options: OtLogOptions = {}) {
    const entries = init.entries ?? []
    if (!Number.isSafeInteger(init.version) || init.version < entries.length) {
      throw new RangeError(`Invalid version ${init.version} for a log of ${entries.length} entries`)
    }
    for (let i = 0; i < entries.length; i++) {
      const expected = i + 1 < entries.length ? entries[i + 1]!.changes.length : init.doc.length
      if (entries[i]!.changes.newLength !== expected) {
        throw new RangeError(`Entry ${i} leaves a document of length ${entries[i]!.changes.newLength}, not ${expected}`)
      }
    }
    this.epoch = init.epoch
    this.#doc = init.doc
    this.#version = init.version
    this.#entries = entries.slice()
    this.#options = { ...defaults, ...options }
    for (const entry of this.#entries) this.#entriesSize += entrySize(entry)
  }

  /** The current version: how many entries this epoch has had. */
  get version(): number {
    return this.#version
  }

  /** The text at {@link version}. */
  get doc(): Text {
    return this.#doc
  }

  /** The oldest version whose following entries are all held: a client at a lower version needs the whole text. */
  get floor(): number {
    return this.#version - this.#entries.length
  }

  /** The entries after `version` up to the current one, or null when `version` is below the floor or above the current one. */
  entriesSince(version: number): OtEntry[] | null {
    if (!Number.isSafeInteger(version) || version < this.floor || version > this.#version) return null
    return this.#entries.slice(version - this.floor)
  }

  /** The document length at `version` (a push based on it must apply to that length), or null if it is not held. */
  lengthAt(version: number): number | null {
    if (!Number.isSafeInteger(version) || version < this.floor || version > this.#version) return null
    return version === this.#version ? this.#doc.length : this.#entries[version - this.floor]!.changes.length
  }

  /**
   * Appends one entry, whose changes must apply to {@link doc}, and returns the new version. Past the hard bound
   * of `maxEntries` the oldest entry goes at once, so memory stays bounded even if nobody calls {@link trim}.
   */
  append(entry: OtEntry): number {
    if (entry.changes.length !== this.#doc.length) {
      throw new RangeError(
        `Entry for a document of length ${entry.changes.length} appended at length ${this.#doc.length}`,
      )
    }
    this.#doc = entry.changes.apply(this.#doc)
    this.#entries.push(entry)
    this.#entriesSize += entrySize(entry)
    this.#version++
    if (this.#entries.length > this.#options.maxEntries) this.#drop(this.#entries.length - this.#options.maxEntries)
    return this.#version
  }

  /**
   * Deduplicates and rebases a push based on `baseVersion` ([OT4]). Walks the entries after it in order: an entry of
   * `clientID` is the client's own earlier push of the next pending update (a resent push is never applied twice),
   * so that update is dropped; any other entry moves every pending update over it, one entry at a time, exactly as
   * `receiveUpdates` moves the client's unconfirmed updates when it receives that entry alone. Rebasing over a
   * composition of entries instead places insertions at the same position differently from the clients, which
   * diverges. Returns the change sets to apply now, in order, each applying to the document after the previous;
   * null when `baseVersion` is below the floor (the client needs the whole text, [OT6]) or above the current version.
   */
  rebase(clientID: string, baseVersion: number, changes: ChangeSet[]): ChangeSet[] | null {
    const since = this.entriesSince(baseVersion)
    if (since === null) return null
    let length = this.lengthAt(baseVersion)
    for (const [i, update] of changes.entries()) {
      if (update.length !== length) {
        throw new RangeError(`Update ${i} applies to length ${update.length}, not ${length} (check pushes first)`)
      }
      length = update.newLength
    }
    let pending = changes
    for (const entry of since) {
      if (pending.length === 0) break
      if (entry.clientID === clientID) {
        pending = pending.slice(1)
        continue
      }
      // As in receiveUpdates: each pending update moves over the entry (the entry was first), and the entry moves
      // over that update (original form) before it meets the next one.
      let over = entry.changes
      pending = pending.map((update) => {
        const moved = update.map(over)
        over = over.map(update, true)
        return moved
      })
    }
    return pending
  }

  /**
   * Drops old entries per the floor policy of [OT6]: an entry goes only if it is not among the last `keepEntries`,
   * is at least `keepMs` old at `now`, and lies at or below `keepAbove` (the lowest version a connected client
   * last reported, whose push must still be rebased); but never more than `maxEntries` stay. Time comes from the
   * caller, so the policy is exact under test. Returns how many entries were dropped.
   */
  trim(now: number, keepAbove = Number.POSITIVE_INFINITY): number {
    const { keepEntries, keepMs, maxEntries } = this.#options
    const entries = this.#entries
    let drop = 0
    const droppable = entries.length - keepEntries
    // Dropping entry `drop` raises the floor to `floor + drop + 1`, which must not pass keepAbove.
    while (drop < droppable && now - entries[drop]!.at >= keepMs && this.floor + drop + 1 <= keepAbove) drop++
    drop = Math.max(drop, entries.length - maxEntries)
    this.#drop(drop)
    return drop
  }

  /** Estimated memory held by the text and the entries, in bytes, for tests and metrics. */
  get size(): number {
    // UTF-16 text, plus CodeMirror's per-line strings (a leaf of lines every 32 lines or so).
    return this.#doc.length * 2 + this.#doc.lines * 40 + this.#entriesSize
  }

  #drop(count: number): void {
    if (count <= 0) return
    for (let i = 0; i < count; i++) this.#entriesSize -= entrySize(this.#entries[i]!)
    this.#entries.splice(0, count)
  }
}

function entrySize(entry: OtEntry): number {
  let size = entryOverhead + entry.clientID.length * 2
  entry.changes.iterChanges((_fromA, _toA, _fromB, _toB, inserted) => {
    size += 16 + inserted.length * 2
  })
  return size
}
