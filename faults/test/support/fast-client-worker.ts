import { parentPort, workerData } from 'node:worker_threads'
import { loadTrace, replayTrace } from '@collab/test-support'
import { WebSocket } from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { textName, typeClamped } from './clients.js'
import type { FastClientCommand, FastClientEvent, FastClientSetup } from './fast-client.js'

// The worker side of fast-client.ts: one stock y-websocket client, driven by commands from the test's thread.

/** The flood keeps at most this much waiting in the socket: "as fast as it can" is as fast as the server reads. */
const maxBufferedBytes = 1024 * 1024
/** Transactions typed between two looks at the socket. */
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
let updates = 0
doc.on('update', (_update: Uint8Array, origin: unknown) => {
  if (origin !== provider) updates++
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

/** Types the trace round and round while `flooding`, waiting whenever the socket holds enough. */
async function flood(): Promise<void> {
  let next = 0
  while (flooding) {
    const ws = provider.ws
    if (!provider.wsconnected || !ws || ws.bufferedAmount > maxBufferedBytes) {
      await new Promise((resolve) => setTimeout(resolve, 1))
      continue
    }
    for (let i = 0; i < chunk; i++) {
      typeClamped(text, trace.txns[next]!)
      next = (next + 1) % trace.txns.length
    }
    // Lets the socket write and the server's messages in before the next chunk.
    await new Promise((resolve) => setImmediate(resolve))
  }
  post({ kind: 'stopped', updates })
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
