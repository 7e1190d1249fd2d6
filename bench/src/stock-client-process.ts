// One system's own client in a process of its own (pinned to the load generator's core), for the fast-client
// workload: the sender replays a trace in one task, which would hold up a receiver sharing its event loop. Driven
// over IPC by workloads/fast-client.ts.
import { type EditingTrace, loadTrace, replayTrace } from '@collab/test-support'
import * as Y from 'yjs'
import type { WireProtocol } from './client.js'
import { openStockClient, type StockClient, type StockClose } from './stock-client.js'

/** What the load generator asks. */
export type StockClientRequest =
  | { type: 'open'; url: string; protocol: WireProtocol; name: string }
  /** Types the first `updates` transactions of `trace` (all of it if shorter) into the client's text, in one task. */
  | { type: 'replay'; trace: string; updates: number }
  /** Works out the text those transactions make and reports `holds` once the client's text equals it. */
  | { type: 'expect'; trace: string; updates: number }
  | { type: 'chars' }

/** What this process sends. Times are wall-clock milliseconds (`timeOrigin + now()`), comparable across processes. */
export type StockClientEvent =
  | { type: 'synced' }
  | { type: 'replayed'; updates: number; startedAt: number; ms: number; chars: number }
  | { type: 'expecting'; chars: number }
  | { type: 'holds'; at: number }
  | { type: 'chars'; chars: number }
  | ({ type: 'close' } & StockClose)
  | { type: 'error'; message: string }

const send = (event: StockClientEvent) => process.send?.(event)
const wallClock = () => performance.timeOrigin + performance.now()

const doc = new Y.Doc()
const text = doc.getText('codemirror')
let client: StockClient | null = null
const traces = new Map<string, EditingTrace>()

/** The first `updates` transactions of `name`. */
function traceHead(name: string, updates: number): EditingTrace {
  let trace = traces.get(name)
  if (!trace) {
    trace = loadTrace(name)
    traces.set(name, trace)
  }
  return { ...trace, txns: trace.txns.slice(0, updates) }
}

function open(request: Extract<StockClientRequest, { type: 'open' }>): void {
  if (client) throw new RangeError('this process already holds a client')
  const { url, protocol, name } = request
  const opened = openStockClient({ url, protocol, name, doc, onClose: (close) => send({ type: 'close', ...close }) })
  client = opened
  opened.synced.then(() => send({ type: 'synced' }))
}

function replay(request: Extract<StockClientRequest, { type: 'replay' }>): void {
  const head = traceHead(request.trace, request.updates)
  const startedAt = wallClock()
  // All at once, as a script replaying a session does: every update goes to the socket in this one task.
  replayTrace(head, text)
  send({ type: 'replayed', updates: head.txns.length, startedAt, ms: wallClock() - startedAt, chars: text.length })
}

function expect(request: Extract<StockClientRequest, { type: 'expect' }>): void {
  const scratch = new Y.Doc()
  replayTrace(traceHead(request.trace, request.updates), scratch.getText('codemirror'))
  const expected = scratch.getText('codemirror').toString()
  scratch.destroy()
  let held = false
  const check = () => {
    // Comparing lengths first keeps this cheap while the text arrives update by update.
    if (held || text.length !== expected.length || text.toString() !== expected) return
    held = true
    send({ type: 'holds', at: wallClock() })
  }
  doc.on('update', check)
  send({ type: 'expecting', chars: expected.length })
  check()
}

process.on('message', (request: StockClientRequest) => {
  try {
    switch (request.type) {
      case 'open':
        open(request)
        return
      case 'replay':
        replay(request)
        return
      case 'expect':
        expect(request)
        return
      case 'chars':
        send({ type: 'chars', chars: text.length })
        return
    }
  } catch (err) {
    send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) })
  }
})
// The load generator ends this process when it is done with it (or when it exits).
process.on('disconnect', () => {
  client?.destroy()
  process.exit(0)
})
