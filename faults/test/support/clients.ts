import { CollabProvider, type CollabProviderOptions, type ProviderStatus } from '@collab/provider'
import type { EditingTrace } from '@collab/test-support'
import { WebSocket } from 'ws'
import * as Y from 'yjs'
import type { Teardown } from './teardown.js'

/** The name of the shared text, as the web app and y-codemirror.next use it. */
export const textName = 'codemirror'

/**
 * A provider client in Node that remembers every update it made itself and how many of them the server
 * acknowledged as stored: when `status.unsaved` is false, every local update so far is durable ([SA1]).
 */
export interface FaultClient {
  name: string
  doc: Y.Doc
  text: Y.Text
  provider: CollabProvider
  /** Every update this client made (not those it received), in order. */
  localUpdates: Uint8Array[]
  /** How many of {@link FaultClient.localUpdates} the server acknowledged as stored. */
  acked: number
  /** Every status the provider reported, with the time it did. */
  statuses: Array<{ at: number; status: ProviderStatus }>
  destroy(): void
}

/** Creates a {@link FaultClient} on a fresh Y.Doc, destroyed by `teardown`. */
export function createFaultClient(
  serverUrl: string,
  docName: string,
  teardown: Teardown,
  options: Partial<CollabProviderOptions> & { name?: string } = {},
): FaultClient {
  const doc = new Y.Doc()
  const localUpdates: Uint8Array[] = []
  // Registered before the provider's own listener: the update is counted before the provider marks it unsaved.
  doc.on('update', (update: Uint8Array, origin: unknown) => {
    if (!(origin instanceof CollabProvider)) localUpdates.push(update)
  })
  const provider = new CollabProvider({
    serverUrl,
    docName,
    doc,
    // ws implements the parts of the WHATWG WebSocket the provider uses (Node 20 has no global one).
    WebSocketImpl: WebSocket as unknown as typeof globalThis.WebSocket,
    ...options,
  })
  let destroyed = false
  const client: FaultClient = {
    name: options.name ?? `client-${doc.clientID}`,
    doc,
    text: doc.getText(textName),
    provider,
    localUpdates,
    acked: 0,
    statuses: [{ at: Date.now(), status: provider.status }],
    destroy() {
      if (destroyed) return
      destroyed = true
      provider.destroy()
      // provider.destroy() does not stop a Y.Doc's own observers; the doc goes too (STACK.md trap 8).
      doc.destroy()
    },
  }
  provider.onStatus((status) => {
    client.statuses.push({ at: Date.now(), status })
    if (!status.unsaved) client.acked = localUpdates.length
  })
  teardown.defer(() => client.destroy())
  return client
}

/**
 * Types a recorded editing session into `text`, one trace transaction per tick, from transaction `from` on (and
 * around again at the end). Positions are clamped to the current length, since other clients edit the same text.
 * Returns a function that stops typing.
 */
export function startTyping(text: Y.Text, trace: EditingTrace, from: number, everyMs: number): () => void {
  let next = from
  const timer = setInterval(() => {
    const txn = trace.txns[next]
    next = next + 1 < trace.txns.length ? next + 1 : 1
    if (txn) typeClamped(text, txn)
  }, everyMs)
  return () => clearInterval(timer)
}

/**
 * Applies one trace transaction to `text` in one Yjs transaction, with its positions clamped to the current
 * length: other clients edit the same text, so the trace's positions are only approximately right.
 */
export function typeClamped(text: Y.Text, txn: EditingTrace['txns'][number]): void {
  text.doc!.transact(() => {
    for (const [pos, del, ins] of txn.patches) {
      const at = Math.min(pos, text.length)
      const deleted = Math.min(del, text.length - at)
      if (deleted > 0) text.delete(at, deleted)
      if (ins) text.insert(at, ins)
    }
  })
}

/** Whether every client is synced, has nothing unsaved, and all hold the same document. */
export function converged(clients: readonly FaultClient[]): boolean {
  const first = clients[0]
  if (!first) return true
  const vector = Buffer.from(Y.encodeStateVector(first.doc)).toString('base64')
  const content = first.text.toString()
  return clients.every(
    (c) =>
      c.provider.status.connection === 'synced' &&
      !c.provider.status.unsaved &&
      c.text.toString() === content &&
      Buffer.from(Y.encodeStateVector(c.doc)).toString('base64') === vector,
  )
}
