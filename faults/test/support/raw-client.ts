import { decodeMessage, type Message } from '@collab/protocol'
import { WebSocket } from 'ws'
import type { Teardown } from './teardown.js'

/** How the server ended a connection, and when (ms since the epoch). */
export interface CloseRecord {
  code: number
  reason: string
  at: number
}

/**
 * A bare protocol client: sends exactly the bytes a test gives it and records every message the server sent
 * (decoded, and as received) and how the connection ended. For the hostile side of a test, and for checks on the
 * exact bytes the server answers with.
 */
export interface RawClient {
  ws: WebSocket
  /** Every message received, decoded; those that do not decode are left out (see `raw`). */
  received: Message[]
  /** Every message received, as bytes. */
  raw: Uint8Array[]
  /** Set once the connection closed. */
  closeRecord: CloseRecord | null
  /** Resolves once the connection closed. */
  closed: Promise<CloseRecord>
  /** Socket errors after the connection opened (a reset when the server dies or terminates it). */
  errors: string[]
}

/** Opens a {@link RawClient} on `url` (`ws://host:port/<doc>`) and resolves once it is open; terminated by `teardown`. */
export async function openRawClient(url: string, teardown: Teardown): Promise<RawClient> {
  const ws = new WebSocket(url)
  teardown.defer(() => ws.terminate())
  const client: RawClient = {
    ws,
    received: [],
    raw: [],
    closeRecord: null,
    errors: [],
    closed: new Promise<CloseRecord>((resolve) =>
      ws.once('close', (code, reason) => {
        client.closeRecord = { code, reason: reason.toString(), at: Date.now() }
        resolve(client.closeRecord)
      }),
    ),
  }
  ws.on('message', (data: Buffer) => {
    const bytes = new Uint8Array(data)
    client.raw.push(bytes)
    const decoded = decodeMessage(bytes)
    if (decoded.ok) client.received.push(decoded.message)
  })
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
  })
  // Without a listener, ws would throw a later error (ECONNRESET when the server dies) out of the test.
  ws.on('error', (err) => client.errors.push(err.message))
  return client
}
