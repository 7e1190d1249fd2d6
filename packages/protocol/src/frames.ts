// The bodies of the HTTP transport ([HT2] in docs/PROTOCOL.md): messages one after the other, each a lib0
// varUint8Array (a varUint byte length, then the bytes), so that one request or response carries any number of the
// messages a WebSocket would carry one per frame.

/** A body split into its messages, or why it does not split. */
export type FramesResult = { ok: true; messages: Uint8Array[] } | { ok: false; error: string }

/** lib0 writes at most 53 bits; 8 bytes of 7 bits are more than any body can hold. */
const maxLengthBytes = 8

/** Joins messages into one body ([HT2]). */
export function encodeFrames(messages: readonly Uint8Array[]): Uint8Array {
  let size = 0
  for (const message of messages) size += varUintBytes(message.length) + message.length
  const body = new Uint8Array(size)
  let pos = 0
  for (const message of messages) {
    let length = message.length
    while (length > 0x7f) {
      body[pos++] = 0x80 | (length & 0x7f)
      length = Math.floor(length / 128)
    }
    body[pos++] = length
    body.set(message, pos)
    pos += message.length
  }
  return body
}

/**
 * Splits a body into its messages ([HT2]). Never throws: a length that runs past the end of the body, or that is
 * not a varUint, is an error. The messages are views into `body`, not copies.
 */
export function decodeFrames(body: Uint8Array): FramesResult {
  const messages: Uint8Array[] = []
  let pos = 0
  while (pos < body.length) {
    let length = 0
    let factor = 1
    let done = false
    for (let i = 0; i < maxLengthBytes && pos < body.length; i++) {
      const byte = body[pos++] as number
      length += (byte & 0x7f) * factor
      factor *= 128
      if (byte < 0x80) {
        done = true
        break
      }
    }
    if (!done) return { ok: false, error: `frame ${messages.length + 1}: its length is cut off or not a varUint` }
    if (length > body.length - pos) {
      return {
        ok: false,
        error: `frame ${messages.length + 1} claims ${length} bytes but ${body.length - pos} are left`,
      }
    }
    messages.push(body.subarray(pos, pos + length))
    pos += length
  }
  return { ok: true, messages }
}

function varUintBytes(value: number): number {
  let bytes = 1
  while (value > 0x7f) {
    bytes++
    value = Math.floor(value / 128)
  }
  return bytes
}
