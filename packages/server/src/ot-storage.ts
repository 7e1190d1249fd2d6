import type { ChangeSet, Text } from '@codemirror/state'
import { checkPushedChanges, newSecret, type OtEntry, OtLog, type OtLogOptions } from '@collab/ot'

// How the OT log is stored beside a document's updates, as side records ([OT3], [OT7]).

/** Side-record keys of the OT log ([OT3]): one meta record and one record per entry, keyed by its version. */
export const metaKey = 'ot/m'
export const entryPrefix = 'ot/e/'
export const entryKey = (version: number) => entryPrefix + version.toString(16).padStart(12, '0')
/** Per client ID: how many of its updates the document holds ([OT7]), kept across epochs. */
export const appliedPrefix = 'ot/c/'
/** A client ID not seen for this long is forgotten (its tab is long gone; a new tab gets a new ID). */
export const forgetClientAfterMs = 30 * 24 * 3600_000

/** The stored meta record of a document's OT log. */
export interface LogMeta {
  epoch: string
  version: number
  /** Whether the room that wrote it unloaded cleanly: every entry it announced is stored ([OT3]). */
  clean: boolean
}

export function newEpoch(): string {
  return newSecret().slice(0, 12)
}

export function parseApplied(value: Uint8Array): { n: number; at: number } | null {
  try {
    const count = JSON.parse(new TextDecoder().decode(value)) as { n?: unknown; at?: unknown }
    return Number.isSafeInteger(count.n) && typeof count.at === 'number' ? { n: count.n as number, at: count.at } : null
  } catch {
    return null
  }
}

export function parseMeta(value: Uint8Array | undefined): LogMeta | null {
  if (!value) return null
  try {
    const meta = JSON.parse(new TextDecoder().decode(value)) as Partial<LogMeta>
    if (typeof meta.epoch !== 'string' || !Number.isSafeInteger(meta.version) || typeof meta.clean !== 'boolean') {
      return null
    }
    return meta as LogMeta
  } catch {
    return null
  }
}

/**
 * The stored log of a cleanly stopped room, if its entries are contiguous, end at the meta's version and describe
 * the current text's length; anything else starts a new epoch.
 */
export function restoreLog(
  meta: LogMeta,
  records: ReadonlyArray<[string, Uint8Array]>,
  doc: Text,
  options: OtLogOptions,
): OtLog | null {
  try {
    const entries: OtEntry[] = []
    let expected = meta.version - records.length + 1
    if (expected < 1 && records.length > 0) return null
    let length: number | null = null
    for (const [key, value] of records) {
      if (Number.parseInt(key.slice(entryPrefix.length), 16) !== expected) return null
      const stored = JSON.parse(new TextDecoder().decode(value)) as { clientID: string; changes: unknown; at: number }
      const checked = checkStored(stored.changes, length)
      if (!checked) return null
      entries.push({ clientID: String(stored.clientID), changes: checked, at: Number(stored.at) || 0 })
      length = checked.newLength
      expected++
    }
    if (length !== null && length !== doc.length) return null
    return new OtLog({ epoch: meta.epoch, doc, version: meta.version, entries }, options)
  } catch {
    return null
  }
}

/** A stored entry's change set, checked like a pushed one (the store is ours, but a damaged record must not crash). */
function checkStored(changes: unknown, length: number | null): ChangeSet | null {
  // The first stored entry's base length is not known here; it is whatever the change set says.
  const base = length ?? baseLengthOf(changes)
  if (base === null) return null
  const checked = checkPushedChanges([{ changes }], base)
  return checked.ok ? (checked.changes[0] ?? null) : null
}

function baseLengthOf(changes: unknown): number | null {
  if (!Array.isArray(changes)) return null
  let length = 0
  for (const part of changes) {
    if (typeof part === 'number') length += part
    else if (Array.isArray(part) && typeof part[0] === 'number') length += part[0]
    else return null
  }
  return length
}

/** A random awareness client ID no one in the room uses (Yjs uses random 32-bit IDs too). */
