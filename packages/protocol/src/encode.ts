import * as encoding from 'lib0/encoding'
import { MessageType, SyncMessageType } from './message-types.js'
import type { AwarenessEntry } from './messages.js'

function encodeWith(write: (encoder: encoding.Encoder) => void): Uint8Array {
  const encoder = encoding.createEncoder()
  write(encoder)
  return encoding.toUint8Array(encoder)
}

/** Sync step 1: "here is my state vector, send me what I lack". */
export function encodeSyncStep1(stateVector: Uint8Array): Uint8Array {
  return encodeWith((e) => {
    encoding.writeVarUint(e, MessageType.Sync)
    encoding.writeVarUint(e, SyncMessageType.Step1)
    encoding.writeVarUint8Array(e, stateVector)
  })
}

/** Sync step 2: the answer to step 1, an update holding what the other side lacks. */
export function encodeSyncStep2(update: Uint8Array): Uint8Array {
  return encodeWith((e) => {
    encoding.writeVarUint(e, MessageType.Sync)
    encoding.writeVarUint(e, SyncMessageType.Step2)
    encoding.writeVarUint8Array(e, update)
  })
}

/** An incremental document update. */
export function encodeSyncUpdate(update: Uint8Array): Uint8Array {
  return encodeWith((e) => {
    encoding.writeVarUint(e, MessageType.Sync)
    encoding.writeVarUint(e, SyncMessageType.Update)
    encoding.writeVarUint8Array(e, update)
  })
}

/** An awareness message wrapping an already encoded awareness update. */
export function encodeAwareness(awarenessUpdate: Uint8Array): Uint8Array {
  return encodeWith((e) => {
    encoding.writeVarUint(e, MessageType.Awareness)
    encoding.writeVarUint8Array(e, awarenessUpdate)
  })
}

/** Encodes awareness entries in the y-protocols awareness update format (the inverse of decodeAwarenessEntries). */
export function encodeAwarenessEntries(entries: readonly AwarenessEntry[]): Uint8Array {
  return encodeWith((e) => {
    encoding.writeVarUint(e, entries.length)
    for (const entry of entries) {
      encoding.writeVarUint(e, entry.clientID)
      encoding.writeVarUint(e, entry.clock)
      encoding.writeVarString(e, JSON.stringify(entry.state))
    }
  })
}

/** Asks the other side to send all awareness states it knows. */
export function encodeQueryAwareness(): Uint8Array {
  return encodeWith((e) => encoding.writeVarUint(e, MessageType.QueryAwareness))
}

/** y-protocols/auth "permission denied" with a human-readable reason. */
export function encodeAuthDenied(reason: string): Uint8Array {
  return encodeWith((e) => {
    encoding.writeVarUint(e, MessageType.Auth)
    encoding.writeVarUint(e, 0)
    encoding.writeVarString(e, reason)
  })
}

/** Extension: announces the capabilities the sender understands ([EX1]). */
export function encodeHello(capabilities: readonly string[]): Uint8Array {
  return encodeWith((e) => {
    encoding.writeVarUint(e, MessageType.Hello)
    encoding.writeVarUint(e, capabilities.length)
    for (const capability of capabilities) encoding.writeVarString(e, capability)
  })
}

const ping = encodeWith((e) => encoding.writeVarUint(e, MessageType.Ping))
const pong = encodeWith((e) => encoding.writeVarUint(e, MessageType.Pong))

/** Extension: liveness probe ([HB1]). The returned buffer is shared; do not modify it. */
export function encodePing(): Uint8Array {
  return ping
}

/** Extension: answer to a ping ([HB1]). The returned buffer is shared; do not modify it. */
export function encodePong(): Uint8Array {
  return pong
}

/** Extension: the first `count` document messages the client sent on this connection are durably stored ([SA1]). */
export function encodeSaved(count: number): Uint8Array {
  return encodeWith((e) => {
    encoding.writeVarUint(e, MessageType.Saved)
    encoding.writeVarUint(e, count)
  })
}

/** Extension: the id of the incarnation of the document the server serves ([IN1]). */
export function encodeIncarnation(id: string): Uint8Array {
  return encodeWith((encoder) => {
    encoding.writeVarUint(encoder, MessageType.Incarnation)
    encoding.writeVarString(encoder, id)
  })
}

/** A @codemirror/collab message (docs/PROTOCOL.md, [OT1]): `json` is one JSON object. */
export function encodeCollab(json: string): Uint8Array {
  return encodeWith((encoder) => {
    encoding.writeVarUint(encoder, MessageType.Collab)
    encoding.writeVarString(encoder, json)
  })
}
