// The client side of the cold-load workload, in its own small process (pinned to the load generator's core):
// the load generator's heap holds the whole trace, and a major GC of it in the middle of a 300 KB parse would be
// charged to whichever server happened to be loading. Driven over IPC by workloads/cold-load.ts.
import { WebSocket } from 'ws'
import * as Y from 'yjs'
import type { WireProtocol } from './client.js'
import { openStockClient } from './stock-client.js'

/** What the load generator asks. */
export type ColdLoadRequest =
  | { type: 'init'; endContent: string }
  | { type: 'load'; url: string; protocol: WireProtocol; name: string; timeoutMs: number; expected?: string }

/** What this process answers. */
export type ColdLoadAnswer =
  | { type: 'ready' }
  | { type: 'loaded'; ms: number; receivedMs: number }
  | { type: 'error'; message: string }

let endContent = ''
/** When the largest message of the current load arrived: the document, before the client parsed it. */
let largest = { bytes: 0, at: 0 }

/** The `ws` client, noting when the largest message arrives (its listener runs before the provider's). */
class TimedWebSocket extends WebSocket {
  constructor(...args: ConstructorParameters<typeof WebSocket>) {
    super(...args)
    // Providers set binaryType to 'arraybuffer': the data is a Buffer or an ArrayBuffer.
    this.on('message', (data: { byteLength: number }) => {
      if (data.byteLength > largest.bytes) largest = { bytes: data.byteLength, at: performance.now() }
    })
  }
}

/**
 * Opens `name` with the system's own client (the stock y-websocket client, or HocuspocusProvider) and resolves
 * with the time from creating it until its Y.Text equals the expected end content, and until the document's bytes
 * had arrived (the rest is the client parsing them).
 */
async function load(request: Extract<ColdLoadRequest, { type: 'load' }>): Promise<{ ms: number; receivedMs: number }> {
  largest = { bytes: 0, at: 0 }
  const expected = request.expected ?? endContent
  const doc = new Y.Doc()
  const text = doc.getText('codemirror')
  let stop: () => void = () => undefined
  try {
    const loaded = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no complete document after ${request.timeoutMs} ms`)),
        request.timeoutMs,
      )
      doc.on('update', () => {
        // Comparing lengths first keeps this check cheap while the document arrives in pieces.
        if (text.length === expected.length && text.toString() === expected) {
          clearTimeout(timer)
          resolve()
        }
      })
    })
    const started = performance.now()
    const { url, protocol, name } = request
    stop = openStockClient({ url, protocol, name, doc, WebSocketImpl: TimedWebSocket }).destroy
    await loaded
    return { ms: performance.now() - started, receivedMs: largest.at - started }
  } finally {
    stop()
    doc.destroy()
  }
}

process.on('message', (request: ColdLoadRequest) => {
  if (request.type === 'init') {
    endContent = request.endContent
    process.send?.({ type: 'ready' } satisfies ColdLoadAnswer)
    return
  }
  load(request).then(
    ({ ms, receivedMs }) => process.send?.({ type: 'loaded', ms, receivedMs } satisfies ColdLoadAnswer),
    (err: unknown) =>
      process.send?.({
        type: 'error',
        message: err instanceof Error ? err.message : String(err),
      } satisfies ColdLoadAnswer),
  )
})
