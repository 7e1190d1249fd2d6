import * as decoding from 'lib0/decoding'
import * as Y from 'yjs'
import { awarenessJsonBounds, parseBoundedJson } from './bounded-json.js'
import { MessageType, SyncMessageType } from './message-types.js'
import type { AwarenessEntry, DecodeResult, Message } from './messages.js'

/** Upper bound on capabilities in one `Hello`, so a hostile peer cannot make us build a huge array. */
const maxCapabilities = 32

/** Limits {@link decodeMessage} applies before it parses anything whose cost grows with its size. */
export interface DecodeLimits {
  /** Largest awareness update in bytes; a larger one is an error, refused before its JSON is parsed ([LM4]). */
  maxAwarenessBytes: number
  /** Largest @codemirror/collab message in UTF-8 bytes; a larger one is an error ([LM4]). Default: no limit. */
  maxCollabBytes?: number
}

const noLimits: DecodeLimits = { maxAwarenessBytes: Number.POSITIVE_INFINITY }

/**
 * Decodes one binary WebSocket message. Never throws: bytes that are truncated, have trailing garbage, use an
 * unknown type or carry an unparsable state vector or awareness state give `{ ok: false, error }` ([PR1]).
 * Awareness states are bounded in size, depth and members before they are parsed ([LM4]).
 * Yjs update payloads are checked by whoever applies them; decoding them here would parse every keystroke twice.
 */
export function decodeMessage(data: Uint8Array, limits: DecodeLimits = noLimits): DecodeResult {
  if (data.length === 0) return { ok: false, error: 'empty message' }
  const decoder = decoding.createDecoder(data)
  let message: Message
  try {
    message = readMessage(decoder, limits)
  } catch (err) {
    return { ok: false, error: `malformed message: ${err instanceof Error ? err.message : String(err)}` }
  }
  if (decoder.pos !== data.length) {
    return { ok: false, error: `${data.length - decoder.pos} trailing bytes after a ${message.type} message` }
  }
  return { ok: true, message }
}

function readMessage(decoder: decoding.Decoder, limits: DecodeLimits): Message {
  const type = decoding.readVarUint(decoder)
  switch (type) {
    case MessageType.Sync:
      return readSyncMessage(decoder)
    case MessageType.Awareness: {
      const update = decoding.readVarUint8Array(decoder)
      if (update.length > limits.maxAwarenessBytes) {
        throw new RangeError(`awareness update of ${update.length} bytes, at most ${limits.maxAwarenessBytes} allowed`)
      }
      return { type: 'awareness', update, entries: decodeAwarenessEntries(update) }
    }
    case MessageType.Auth: {
      const authType = decoding.readVarUint(decoder)
      if (authType !== 0) throw new RangeError(`unknown auth message type ${authType}`)
      return { type: 'auth-denied', reason: decoding.readVarString(decoder) }
    }
    case MessageType.QueryAwareness:
      return { type: 'query-awareness' }
    case MessageType.Hello: {
      const count = decoding.readVarUint(decoder)
      if (count > maxCapabilities) throw new RangeError(`${count} capabilities, at most ${maxCapabilities} allowed`)
      const capabilities: string[] = []
      for (let i = 0; i < count; i++) capabilities.push(decoding.readVarString(decoder))
      return { type: 'hello', capabilities }
    }
    case MessageType.Ping:
      return { type: 'ping' }
    case MessageType.Pong:
      return { type: 'pong' }
    case MessageType.Saved:
      return { type: 'saved', count: decoding.readVarUint(decoder) }
    case MessageType.Incarnation:
      return { type: 'incarnation', id: decoding.readVarString(decoder) }
    case MessageType.Collab: {
      // Measured before decoding, so an oversized message costs no string.
      const bytes = decoding.peekVarUint(decoder)
      const max = limits.maxCollabBytes ?? Number.POSITIVE_INFINITY
      if (bytes > max) throw new RangeError(`collab message of ${bytes} bytes, at most ${max} allowed`)
      return { type: 'collab', json: decoding.readVarString(decoder) }
    }
    default:
      throw new RangeError(`unknown message type ${type}`)
  }
}

function readSyncMessage(decoder: decoding.Decoder): Message {
  const syncType = decoding.readVarUint(decoder)
  switch (syncType) {
    case SyncMessageType.Step1: {
      const stateVector = decoding.readVarUint8Array(decoder)
      // A state vector is tiny; checking it here keeps encodeStateAsUpdate from throwing on hostile input later.
      Y.decodeStateVector(stateVector)
      return { type: 'sync-step-1', stateVector }
    }
    case SyncMessageType.Step2:
      return { type: 'sync-step-2', update: decoding.readVarUint8Array(decoder) }
    case SyncMessageType.Update:
      return { type: 'sync-update', update: decoding.readVarUint8Array(decoder) }
    default:
      throw new RangeError(`unknown sync message type ${syncType}`)
  }
}

/**
 * Decodes the entries of an awareness update (y-protocols/awareness format). Throws on malformed input and on
 * states nested or sized beyond {@link awarenessJsonBounds}; {@link decodeMessage} turns that into an error result.
 */
export function decodeAwarenessEntries(update: Uint8Array): AwarenessEntry[] {
  const decoder = decoding.createDecoder(update)
  const count = decoding.readVarUint(decoder)
  const entries: AwarenessEntry[] = []
  for (let i = 0; i < count; i++) {
    const clientID = decoding.readVarUint(decoder)
    const clock = decoding.readVarUint(decoder)
    const state: unknown = parseBoundedJson(decoding.readVarString(decoder), awarenessJsonBounds)
    entries.push({ clientID, clock, state })
  }
  if (decoder.pos !== update.length) throw new RangeError('trailing bytes after awareness entries')
  return entries
}
