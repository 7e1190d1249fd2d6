import { parentPort, workerData } from 'node:worker_threads'
import { encodeSyncUpdate } from '@collab/protocol'
import { loadTrace, replayTrace } from '@collab/test-support'
import { WebSocket } from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { textName, typeClamped } from './clients.js'
import type { FastClientCommand, FastClientEvent, FastClientSetup } from './fast-client.js'

// The worker side of fast-client.ts: one stock y-websocket client, driven by commands from the test's thread.

/** The flood keeps at most this much waiting in the socket: "as fast as it can" is as fast as the server reads. */
const maxBufferedBytes = 1024 * 1024
/** Messages written between two looks at the socket. */
const chunk = 200

const port = parentPort
if (!port) throw new Error('fast-client-worker.ts runs in a worker thread (see worker.ts)')
const setup = workerData as FastClientSetup
const post = (event: FastClientEvent) => port.postMessage(event)

const trace = loadTrace(setup.trace)
const doc = new Y.Doc()
const text = doc.getText(textName)
const provider = new WebsocketProvider(setup.serverUrl, setup.docName, doc, {
  // ws implements the parts of the WHATWG WebSocket that y-websocket uses (Node 20 has no global one).
  WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
  disableBc: true,
  ...(setup.reconnect === 'always' && { shouldReconnect: () => true }),
})
provider.on('connection-close', (event) => {
  // `null` when the client closed it itself (its watchdog); the server's closes carry a code.
  post({ kind: 'close', code: event?.code ?? 0, reason: event?.reason ?? 'closed by the client', at: Date.now() })
})
let synced = false
provider.on('sync', (isSynced: boolean) => {
  if (isSynced && !synced) {
    synced = true
    post({ kind: 'synced' })
  }
})

let flooding = false
/**
 * The flood's messages, encoded in advance from the trace typed into a document of its own: typing while flooding
 * would keep this thread busy with Yjs transactions, and on a two-core machine that takes a core from the server
 * and the clients that measure it. Written raw on the provider's socket, as sync updates of their own client ID.
 */
let floodMessages: Uint8Array[] = []

function prepareFlood(): number {
  const source = new Y.Doc()
  source.on('update', (update: Uint8Array) => floodMessages.push(encodeSyncUpdate(update)))
  for (const txn of trace.txns) typeClamped(source.getText(textName), txn)
  source.destroy()
  return floodMessages.length
}

/** Sends the prepared messages while `flooding`, as fast as the socket takes them. */
async function flood(): Promise<void> {
  let sent = 0
  while (flooding && sent < floodMessages.length) {
    const ws = provider.ws
    if (!provider.wsconnected || !ws || ws.bufferedAmount > maxBufferedBytes) {
      await new Promise((resolve) => setTimeout(resolve, 1))
      continue
    }
    for (let i = 0; i < chunk && sent < floodMessages.length; i++) ws.send(floodMessages[sent++]!)
    // Lets the socket write and the server's messages in before the next chunk.
    await new Promise((resolve) => setImmediate(resolve))
  }
  // Everything sent before the stop: the report still answers the stop, which the test waits for.
  while (flooding) await new Promise((resolve) => setTimeout(resolve, 5))
  floodMessages = []
  post({ kind: 'stopped', updates: sent })
}

port.on('message', (command: FastClientCommand) => {
  try {
    switch (command.kind) {
      case 'replay': {
        const started = performance.now()
        // All at once, as a script replaying a session does: every update goes to the socket in this one task.
        replayTrace({ ...trace, txns: trace.txns.slice(0, command.txns) }, text)
        post({ kind: 'replayed', text: text.toString(), ms: performance.now() - started })
        return
      }
      case 'prepare-flood':
        post({ kind: 'prepared', messages: prepareFlood() })
        return
      case 'flood':
        flooding = true
        flood().catch((err: unknown) => post({ kind: 'error', message: String(err) }))
        return
      case 'stop':
        flooding = false
        return
    }
  } catch (err) {
    post({ kind: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) })
  }
})
