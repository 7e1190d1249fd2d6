/**
 * The entries instances write to the Redis streams they share: a flat list of field names and values, each field
 * named by one letter. `f` names the instance that wrote the entry, `t` says what it is (one of {@link EntryKind}),
 * `n` names the document it is about and `d` carries its bytes (a Yjs or awareness update). Entries about a
 * document go to its partition's stream, entries about an instance to the heartbeat stream.
 */

/** What an entry says, in its `t` field. */
export const EntryKind = {
  /** A Yjs update, already stored by the instance that wrote it. */
  Update: 'u',
  /** An awareness update of the writer's clients. */
  Awareness: 'a',
  /**
   * "I have this document loaded now; tell me who is connected to you": answered with a Here entry and an Awareness
   * entry.
   */
  Query: 'q',
  /** "I have this document loaded too": the answer to a Query. Publish its updates, I am listening. */
  Here: 'i',
  /** "I no longer have this document loaded": stop publishing its updates for me. */
  Left: 'l',
  /** "Reload this document from the store": sent after the writer lost its connection. */
  Resync: 'r',
  /** The document was deleted. */
  Deleted: 'x',
  /** "I am alive", every few seconds; `g` says the writer publishes only documents another instance has loaded. */
  Heartbeat: 'h',
  /** "I am shutting down": the others remove the writer's clients at once. */
  Bye: 'b',
} as const
export type EntryKind = (typeof EntryKind)[keyof typeof EntryKind]

/** An entry about one document, carrying bytes. */
export interface DocDataEntry {
  kind: typeof EntryKind.Update | typeof EntryKind.Awareness
  from: string
  doc: string
  data: Uint8Array
}

/** An entry about one document that says everything with its kind. */
export interface DocSignalEntry {
  kind:
    | typeof EntryKind.Query
    | typeof EntryKind.Here
    | typeof EntryKind.Left
    | typeof EntryKind.Resync
    | typeof EntryKind.Deleted
  from: string
  doc: string
}

/** An entry about the instance that wrote it. */
export interface InstanceEntry {
  kind: typeof EntryKind.Heartbeat | typeof EntryKind.Bye
  from: string
  /**
   * In a heartbeat (field `g`): the writer publishes a document's updates and presence only while it knows another
   * instance has that document loaded (Query, Here and Left entries tell it). An instance of an older version says
   * nothing; it must be sent everything, as it expects.
   */
  byInterest?: true
}

/** An entry about one document, on its partition's stream. */
export type DocEntry = DocDataEntry | DocSignalEntry

export type StreamEntry = DocEntry | InstanceEntry

/**
 * What {@link decodeEntry} made of an entry. `from` and `doc` are there whether or not the entry could be used, so
 * that one this instance cannot use still counts as a sign of life of its writer, and one about a document not
 * loaded here is dropped quietly, like any other.
 */
export type EntryDecodeResult = {
  /** Who wrote the entry, when that field is readable. */
  from: string | null
  /** The document the entry is about, when it is about one and that field is readable. */
  doc: string | null
} & ({ ok: true; entry: StreamEntry } | { ok: false; error: string })

/** The fields of `entry` for XADD, in the order that command takes them. */
export function encodeEntry(entry: StreamEntry): Array<string | Buffer> {
  const fields: Array<string | Buffer> = ['f', entry.from, 't', entry.kind]
  if ('doc' in entry) fields.push('n', entry.doc)
  if ('byInterest' in entry && entry.byInterest) fields.push('g', '1')
  if ('data' in entry) {
    // ioredis sends only a Buffer as bytes (any other object becomes a string); this one is a view, not a copy.
    fields.push('d', Buffer.from(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength))
  }
  return fields
}

/**
 * Decodes the fields of an entry as XREAD returns them. Never throws: an entry without a writer, a kind or the
 * fields its kind needs, or of a kind this version does not know, gives `{ ok: false, error }`. Fields it does not
 * know are ignored, so that a newer instance can add one without breaking the older ones during a rolling upgrade.
 * The bytes of `d` are returned as they are (no copy), and checked by whoever applies them.
 */
export function decodeEntry(fields: readonly Buffer[]): EntryDecodeResult {
  let from: string | null = null
  let kind: string | null = null
  let doc: string | null = null
  let data: Buffer | null = null
  let byInterest = false
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]!.toString()
    const value = fields[i + 1]!
    if (name === 'f') from = value.toString()
    else if (name === 't') kind = value.toString()
    else if (name === 'n') doc = value.toString()
    else if (name === 'd') data = value
    else if (name === 'g') byInterest = true
  }
  const failed = (error: string): EntryDecodeResult => ({ ok: false, error, from: from || null, doc })
  if (fields.length % 2 !== 0) return failed(`${fields.length} fields, not name and value pairs`)
  if (!from) return failed('no writer (f)')
  switch (kind) {
    case EntryKind.Update:
    case EntryKind.Awareness:
      if (doc === null) return failed(`${kind} entry without a document (n)`)
      if (data === null) return failed(`${kind} entry without data (d)`)
      return { ok: true, from, doc, entry: { kind, from, doc, data } }
    case EntryKind.Query:
    case EntryKind.Here:
    case EntryKind.Left:
    case EntryKind.Resync:
    case EntryKind.Deleted:
      if (doc === null) return failed(`${kind} entry without a document (n)`)
      return { ok: true, from, doc, entry: { kind, from, doc } }
    case EntryKind.Heartbeat:
      // About its writer, not a document, whatever else it carries.
      return { ok: true, from, doc: null, entry: byInterest ? { kind, from, byInterest: true } : { kind, from } }
    case EntryKind.Bye:
      return { ok: true, from, doc: null, entry: { kind, from } }
    case null:
      return failed('no kind (t)')
    default:
      return failed(`unknown kind "${kind}"`)
  }
}
