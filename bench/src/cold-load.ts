// Issue 2's measurement: the automerge-paper history (259,778 updates) appended one by one through the server,
// a restart, then the cold load: time from opening a WebSocket to holding a document equal to endContent.
// Also: stored bytes after compaction, and ingest throughput. Run: npm run build && npm run bench:cold-load -w bench
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Message } from '@collab/protocol'
import { startServerProcess } from '@collab/test-support'
import * as Y from 'yjs'
import { traceUpdates } from './trace-updates.js'
import { BenchClient } from './ws-client.js'

function dirBytes(dir: string): number {
  return readdirSync(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0)
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

const isStep2 = (m: Message): m is Extract<Message, { type: 'sync-step-2' }> => m.type === 'sync-step-2'

const trace = traceUpdates('automerge-paper')
console.log(`automerge-paper: ${trace.updates.length} updates, ${(trace.bytes / 1e6).toFixed(1)} MB`)
const stateBytes = (() => {
  const doc = new Y.Doc()
  for (const update of trace.updates) Y.applyUpdate(doc, update)
  const state = Y.encodeStateAsUpdate(doc)
  doc.destroy()
  return state.length
})()

const dataDir = mkdtempSync(join(tmpdir(), 'collab-bench-cold-'))
try {
  let server = await startServerProcess({ dataDir, args: ['--log-level', 'warn'] })
  const writer = await new BenchClient(`${server.wsUrl}/paper`).open({ saveAck: true })
  const started = performance.now()
  for (const update of trace.updates) writer.sendUpdate(update)
  while (writer.saved < trace.updates.length) await new Promise((resolve) => setTimeout(resolve, 5))
  const ingestMs = performance.now() - started
  await writer.close()
  console.log(
    `ingest: ${trace.updates.length} updates durably stored in ${ingestMs.toFixed(0)} ms = ${Math.round((trace.updates.length / ingestMs) * 1000)} updates/s`,
  )
  const exit = await server.stop('SIGTERM')
  console.log(
    `stored bytes after shutdown compaction: ${dirBytes(dataDir)} (encoded state ${stateBytes} B; target <= ${2 * stateBytes})`,
  )

  const loads: number[] = []
  for (let i = 0; i < 5; i++) {
    server = await startServerProcess({ dataDir, port: server.port, args: ['--log-level', 'warn'] })
    const t0 = performance.now()
    const reader = await new BenchClient(`${server.wsUrl}/paper`).open()
    const step2 = reader.next(isStep2)
    reader.sendStep1(Y.encodeStateVector(new Y.Doc()))
    const { update } = await step2
    const doc = new Y.Doc()
    Y.applyUpdate(doc, update)
    const ok = doc.getText('codemirror').toString() === trace.endContent
    loads.push(performance.now() - t0)
    if (!ok) throw new Error('cold load returned a document different from endContent')
    doc.destroy()
    await reader.close()
    await server.stop('SIGTERM')
  }
  console.log(
    `cold load (connect -> synced, equal to endContent), 5 runs: ${loads.map((ms) => ms.toFixed(1)).join(', ')} ms; median ${median(loads).toFixed(1)} ms (target <= 80 ms)`,
  )
  if (exit !== 0) console.log(`note: first shutdown exited with ${exit}`)
} finally {
  rmSync(dataDir, { recursive: true, force: true })
}
