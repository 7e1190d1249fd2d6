import { crc32 } from 'node:zlib'

/** What a stored record holds: a document's update or snapshot, or the state vector of a deleted document. */
export const RecordKind = { Update: 1, Snapshot: 2, Tombstone: 3 } as const
export type RecordKindValue = (typeof RecordKind)[keyof typeof RecordKind]

/** The kinds of record that make up a document's content. */
export const documentRecordKinds: readonly RecordKindValue[] = [RecordKind.Update, RecordKind.Snapshot]

const headerBytes = 5

/**
 * A stored record is `[kind: u8][crc32 of payload: u32 big-endian][payload]`. The checksum is what lets a
 * load tell a damaged record from a valid Yjs update: Yjs decodes many random byte strings without complaint.
 */
export function encodeRecord(kind: RecordKindValue, payload: Uint8Array): Uint8Array {
  const record = new Uint8Array(headerBytes + payload.length)
  const view = new DataView(record.buffer)
  view.setUint8(0, kind)
  view.setUint32(1, crc32(payload))
  record.set(payload, headerBytes)
  return record
}

/** A decoded record, or a description of the damage. */
export type DecodedRecord = { ok: true; kind: RecordKindValue; payload: Uint8Array } | { ok: false; error: string }

const knownKinds: ReadonlySet<number> = new Set(Object.values(RecordKind))

function isRecordKind(kind: number): kind is RecordKindValue {
  return knownKinds.has(kind)
}

/** Checks and unwraps a stored record whose kind must be one of `expected`. */
export function decodeRecord(
  record: Uint8Array,
  expected: readonly RecordKindValue[] = documentRecordKinds,
): DecodedRecord {
  if (record.length < headerBytes)
    return { ok: false, error: `record is ${record.length} bytes, shorter than its header` }
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength)
  const kind = view.getUint8(0)
  if (!isRecordKind(kind)) return { ok: false, error: `unknown record kind ${kind}` }
  if (!expected.includes(kind)) return { ok: false, error: `record kind ${kind} does not belong here` }
  const payload = record.subarray(headerBytes)
  if (crc32(payload) !== view.getUint32(1)) return { ok: false, error: 'checksum mismatch (stored data is damaged)' }
  return { ok: true, kind, payload }
}
