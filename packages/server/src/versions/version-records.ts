import type { DocStore, SideWrite } from '@collab/storage'
import { decodeTip, encodeTip, type VersionTip } from './version-delta.js'

// How versions are stored: side records of their document (packages/storage, `SideWrite`), so they are written in
// the same atomic batches as the document's updates and deleted with the document.
//
//   v/m/<id: 8 hex>      a version's meta record: JSON VersionMeta
//   v/d/<id: 8 hex>      its delta: the Yjs update from the previous version (version-delta.ts)
//   v/s/tip              the state vector and delete set of the latest version (what the next delta starts from)
//   v/s/pending          edits since the latest version: JSON PendingEdits, written in the batch of the first edit
//                        after a version and whenever a new author joins
//   v/c/<client: 8 hex>  who owns a Yjs client ID: JSON { "u": user | null }, written in the batch of the update
//                        that brought its first content

export const metaPrefix = 'v/m/'
export const deltaPrefix = 'v/d/'
export const statePrefix = 'v/s/'
export const tipKey = 'v/s/tip'
export const pendingKey = 'v/s/pending'
export const ownerPrefix = 'v/c/'

const hex8 = (value: number) => value.toString(16).padStart(8, '0')
export const metaKey = (id: number) => metaPrefix + hex8(id)
export const deltaKey = (id: number) => deltaPrefix + hex8(id)
export const ownerKey = (client: number) => ownerPrefix + hex8(client)

/** A stored version. */
export interface VersionMeta {
  /** Counts up from 1 per document; never reused while the document exists. */
  id: number
  /** When it was made, ms since the epoch. */
  at: number
  /** Named versions are kept until deleted; unnamed automatic ones are thinned with age. */
  name?: string
  /** The users who changed the document since the previous version (token subjects), sorted. */
  authors: string[]
  /** Made by the server's rules (or before a restore) rather than asked for. */
  auto: boolean
  /**
   * The latest version, deleted: its delta is still what the next version's delta starts from, so the record
   * stays, unlisted, until the next version absorbs it.
   */
  hidden?: true
}

/** Edits since the latest version, as stored. */
export interface PendingEdits {
  /** When the first of them was made (ms since the epoch). */
  since: number
  /** Who made them, for the next version's `authors`. */
  authors: string[]
}

/** What a room reads when it loads: who owns which client ID, the latest version's tip, pending edits. */
export interface StoredRoomVersions {
  owners: Map<number, string | null>
  tip: VersionTip | null
  pending: PendingEdits | null
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value))
}

/** A store's side records, or a clear error when it keeps none (PostgreSQL, cluster mode). */
export type SideStore = Required<Pick<DocStore, 'readSide' | 'writeSide'>>

/** The stored versions of a document, oldest first; records that do not parse are left out. */
export async function readMetas(store: SideStore, name: string): Promise<VersionMeta[]> {
  const metas: VersionMeta[] = []
  for (const [, value] of await store.readSide(name, metaPrefix)) {
    const meta = parseMeta(value)
    if (meta) metas.push(meta)
  }
  return metas.sort((a, b) => a.id - b.id)
}

/** The stored deltas of a document by version id. */
export async function readDeltas(store: SideStore, name: string): Promise<Map<number, Uint8Array>> {
  const deltas = new Map<number, Uint8Array>()
  for (const [key, value] of await store.readSide(name, deltaPrefix)) {
    deltas.set(Number.parseInt(key.slice(deltaPrefix.length), 16), value)
  }
  return deltas
}

/** Who owns which client ID. */
export async function readOwners(store: SideStore, name: string): Promise<Map<number, string | null>> {
  const owners = new Map<number, string | null>()
  for (const [key, value] of await store.readSide(name, ownerPrefix)) {
    const owner = parseOwner(value)
    if (owner !== undefined) owners.set(Number.parseInt(key.slice(ownerPrefix.length), 16), owner)
  }
  return owners
}

export async function readRoomVersions(store: SideStore, name: string): Promise<StoredRoomVersions> {
  const [owners, state] = await Promise.all([readOwners(store, name), store.readSide(name, statePrefix)])
  let tip: VersionTip | null = null
  let pending: PendingEdits | null = null
  for (const [key, value] of state) {
    if (key === tipKey) tip = decodeTipOrNull(value)
    else if (key === pendingKey) pending = parsePending(value)
  }
  return { owners, tip, pending }
}

/** The writes that store a version record (meta and delta). */
export function versionWrites(meta: VersionMeta, delta: Uint8Array): SideWrite[] {
  return [
    { key: metaKey(meta.id), value: encodeJson(meta) },
    { key: deltaKey(meta.id), value: delta },
  ]
}

export function tipWrite(tip: VersionTip): SideWrite {
  return { key: tipKey, value: encodeTip(tip) }
}

export function ownerWrite(client: number, user: string | null): SideWrite {
  return { key: ownerKey(client), value: encodeJson({ u: user }) }
}

function parseMeta(value: Uint8Array): VersionMeta | null {
  try {
    const meta = JSON.parse(decoder.decode(value)) as Partial<VersionMeta>
    if (!Number.isSafeInteger(meta.id) || typeof meta.at !== 'number' || !Array.isArray(meta.authors)) return null
    return {
      id: meta.id as number,
      at: meta.at,
      ...(typeof meta.name === 'string' && { name: meta.name }),
      authors: meta.authors.filter((author): author is string => typeof author === 'string'),
      auto: meta.auto === true,
      ...(meta.hidden === true && { hidden: true as const }),
    }
  } catch {
    // A damaged meta record hides its version from the listing; the others stay readable.
    return null
  }
}

/**
 * A damaged tip reads as none: the next delta is then the whole document, which rebuilds that version just as
 * correctly on top of the earlier deltas (applying content twice changes nothing); it only costs its size once.
 */
function decodeTipOrNull(value: Uint8Array): VersionTip | null {
  try {
    return decodeTip(value)
  } catch {
    return null
  }
}

function parsePending(value: Uint8Array): PendingEdits | null {
  try {
    const pending = JSON.parse(decoder.decode(value)) as Partial<PendingEdits>
    if (typeof pending.since !== 'number' || !Array.isArray(pending.authors)) return null
    return {
      since: pending.since,
      authors: pending.authors.filter((author): author is string => typeof author === 'string'),
    }
  } catch {
    return null
  }
}

function parseOwner(value: Uint8Array): string | null | undefined {
  try {
    const owner = JSON.parse(decoder.decode(value)) as { u?: unknown }
    return typeof owner.u === 'string' ? owner.u : owner.u === null ? null : undefined
  } catch {
    return undefined
  }
}
