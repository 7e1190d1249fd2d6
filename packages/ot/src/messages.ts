import { type JsonBounds, parseBoundedJson } from '@collab/protocol'
/**
 * The JSON messages of the @codemirror/collab protocol ([OT2]), and decoders that never throw: whatever arrives
 * from the network is either a well-typed message or `{ ok: false, error }` saying what was wrong with it.
 * Change sets stay unchecked JSON here; they can only be checked against the document they apply to
 * (see `checkPushedChanges`).
 */

/** Messages an OT client sends to the server ([OT2]). */
export type OtClientMessage =
  | { t: 'join'; epoch: string | null; version: number | null; secret: string | null }
  | { t: 'push'; version: number; updates: Array<{ changes: unknown }> }
  | {
      t: 'presence'
      version: number
      user: { name: string; color: string }
      selection: { anchor: number; head: number } | null
    }

/** One log entry on the wire: who made it and its `ChangeSet.toJSON()` value. */
export interface OtEntryJSON {
  clientID: string
  changes: unknown
}

/** Someone else in the document, as an OT client is told about them in `presence`. */
export interface OtPeer {
  id: number
  user: { name: string; color: string; colorLight: string } | null
  selection: { anchor: number; head: number } | null
}

/** Messages the server sends to an OT client ([OT2]). */
export type OtServerMessage =
  | {
      t: 'welcome'
      clientID: string
      secret: string
      epoch: string
      version: number
      /**
       * How many updates of this client ID the document holds, over its whole history ([OT7]). A client that gets
       * `doc` drops that many minus the ones it saw confirmed from the front of its unconfirmed updates: they are in
       * the text already, and pushing them again would apply them twice.
       */
      applied: number
      doc?: string
      updates?: OtEntryJSON[]
    }
  | { t: 'updates'; version: number; updates: OtEntryJSON[] }
  | { t: 'presence'; version: number; peers: OtPeer[] }

/** A decoded message, or why the text was not one. */
export type Parsed<T> = { ok: true; message: T } | { ok: false; error: string }

/** Per-push caps of [OT2] and [OT5]. */
export const otLimits = {
  /** Updates in one `push`. */
  maxUpdatesPerPush: 1000,
  /** Inserted text over all updates of one push, in UTF-16 code units (1 MiB). */
  maxInsertedPerPush: 1024 * 1024,
  /** Retain and replace sections over all updates of one push. */
  maxSectionsPerPush: 100_000,
} as const

/** Longest user name, colour, epoch, secret or client ID we accept, in UTF-16 code units. */
const maxShortString = 256

/**
 * The deepest nesting any valid message has: the envelope object, an array of updates, an update object (3), and
 * inside it a ChangeSet's JSON, an array of sections that are arrays (2). Anything deeper is refused before
 * `JSON.parse` builds it, and so before anything recurses over it.
 */
const maxDepth = 5
/** Members are bounded by the message size limit (`maxCollabBytes`) and the per-push caps checked after parsing. */
const messageBounds: JsonBounds = { maxDepth, maxMembers: Number.POSITIVE_INFINITY }

/** Decodes a message from an OT client. Never throws. */
export function parseClientMessage(json: string): Parsed<OtClientMessage> {
  return parseWith(json, readClientMessage)
}

/** Decodes a message from the server, for OT clients. Never throws. */
export function parseServerMessage(json: string): Parsed<OtServerMessage> {
  return parseWith(json, readServerMessage)
}

/** The wire form of a message. */
export function encodeMessage(message: OtClientMessage | OtServerMessage): string {
  return JSON.stringify(message)
}

/** Thrown by the readers below and turned into `{ ok: false }` by {@link parseWith}; never escapes this module. */
class MessageShapeError extends Error {}

function parseWith<T>(json: string, read: (value: Record<string, unknown>) => T): Parsed<T> {
  if (typeof json !== 'string') return { ok: false, error: 'message is not a string' }
  let value: unknown
  try {
    // Nesting is checked in one scan before anything is built ([LM4]'s scanner, with this protocol's bounds).
    value = parseBoundedJson(json, messageBounds)
  } catch (err) {
    return { ok: false, error: `not a bounded JSON message: ${err instanceof Error ? err.message : String(err)}` }
  }
  try {
    return { ok: true, message: read(asObject(value, 'message')) }
  } catch (err) {
    if (err instanceof MessageShapeError) return { ok: false, error: err.message }
    throw err
  }
}

function readClientMessage(m: Record<string, unknown>): OtClientMessage {
  switch (m.t) {
    case 'join': {
      const epoch = nullable(m.epoch, 'join.epoch', shortString)
      const version = nullable(m.version, 'join.version', versionNumber)
      // A client either holds nothing (new) or a version of some epoch; one without the other means nothing.
      if ((epoch === null) !== (version === null)) fail('join.epoch and join.version must both be null or neither')
      return { t: 'join', epoch, version, secret: nullable(m.secret, 'join.secret', shortString) }
    }
    case 'push': {
      const version = versionNumber(m.version, 'push.version')
      const updates = array(m.updates, 'push.updates', otLimits.maxUpdatesPerPush).map((update, i) => {
        const changes = asObject(update, `push.updates[${i}]`).changes
        if (changes === undefined) fail(`push.updates[${i}].changes is missing`)
        return { changes }
      })
      return { t: 'push', version, updates }
    }
    case 'presence': {
      const user = asObject(m.user, 'presence.user')
      return {
        t: 'presence',
        version: versionNumber(m.version, 'presence.version'),
        user: {
          name: shortString(user.name, 'presence.user.name'),
          color: shortString(user.color, 'presence.user.color'),
        },
        selection: nullable(m.selection, 'presence.selection', selection),
      }
    }
    default:
      return fail(`unknown client message type ${describe(m.t)}`)
  }
}

function readServerMessage(m: Record<string, unknown>): OtServerMessage {
  switch (m.t) {
    case 'welcome': {
      const welcome: Extract<OtServerMessage, { t: 'welcome' }> = {
        t: 'welcome',
        clientID: shortString(m.clientID, 'welcome.clientID'),
        secret: shortString(m.secret, 'welcome.secret'),
        epoch: shortString(m.epoch, 'welcome.epoch'),
        version: versionNumber(m.version, 'welcome.version'),
        applied: versionNumber(m.applied, 'welcome.applied'),
      }
      // [OT2]: a welcome carries either the entries the client missed or the whole text, never both or neither.
      if ((m.doc === undefined) === (m.updates === undefined)) fail('welcome needs exactly one of doc and updates')
      if (m.doc !== undefined) {
        if (typeof m.doc !== 'string') fail('welcome.doc is not a string')
        welcome.doc = m.doc
      } else {
        welcome.updates = entries(m.updates, 'welcome.updates')
      }
      return welcome
    }
    case 'updates':
      return {
        t: 'updates',
        version: versionNumber(m.version, 'updates.version'),
        updates: entries(m.updates, 'updates.updates'),
      }
    case 'presence':
      return {
        t: 'presence',
        version: versionNumber(m.version, 'presence.version'),
        peers: array(m.peers, 'presence.peers').map((value, i) => peer(value, `presence.peers[${i}]`)),
      }
    default:
      return fail(`unknown server message type ${describe(m.t)}`)
  }
}

function entries(value: unknown, what: string): OtEntryJSON[] {
  return array(value, what).map((entry, i) => {
    const e = asObject(entry, `${what}[${i}]`)
    if (e.changes === undefined) fail(`${what}[${i}].changes is missing`)
    return { clientID: shortString(e.clientID, `${what}[${i}].clientID`), changes: e.changes }
  })
}

function peer(value: unknown, what: string): OtPeer {
  const p = asObject(value, what)
  if (!Number.isSafeInteger(p.id) || (p.id as number) < 0) fail(`${what}.id is not a non-negative integer`)
  const user = nullable(p.user, `${what}.user`, (u, w) => {
    const o = asObject(u, w)
    return {
      name: shortString(o.name, `${w}.name`),
      color: shortString(o.color, `${w}.color`),
      colorLight: shortString(o.colorLight, `${w}.colorLight`),
    }
  })
  return { id: p.id as number, user, selection: nullable(p.selection, `${what}.selection`, selection) }
}

function selection(value: unknown, what: string): { anchor: number; head: number } {
  const s = asObject(value, what)
  return { anchor: versionNumber(s.anchor, `${what}.anchor`), head: versionNumber(s.head, `${what}.head`) }
}

/** A non-negative safe integer: versions, offsets. */
function versionNumber(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    fail(`${what} is not a non-negative integer: ${describe(value)}`)
  }
  return value
}

function shortString(value: unknown, what: string): string {
  if (typeof value !== 'string') fail(`${what} is not a string: ${describe(value)}`)
  if (value.length > maxShortString) fail(`${what} is longer than ${maxShortString} characters`)
  return value
}

function nullable<T>(value: unknown, what: string, read: (value: unknown, what: string) => T): T | null {
  return value === null ? null : read(value, what)
}

function array(value: unknown, what: string, max = Number.POSITIVE_INFINITY): unknown[] {
  if (!Array.isArray(value)) fail(`${what} is not an array`)
  if (value.length > max) fail(`${what} has ${value.length} elements, at most ${max} allowed`)
  return value
}

function asObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${what} is not an object`)
  return value as Record<string, unknown>
}

function fail(error: string): never {
  throw new MessageShapeError(error)
}

/** A short description of an unexpected value for an error message, never the whole (possibly huge) value. */
function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 32 ? `${value.slice(0, 32)}…` : value)
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value)
  return Array.isArray(value) ? 'an array' : typeof value
}
