import type { ServerProcess } from '@collab/test-support'
import { WebSocket } from 'ws'

/**
 * Environment for {@link startServerProcess} that opens the V8 inspector of the server on a free loopback port,
 * so that a test can ask for a full garbage collection before reading the heap figures of /healthz.
 */
export function inspectorEnv(): Record<string, string> {
  return { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --inspect=127.0.0.1:0`.trim() }
}

/**
 * Runs a full garbage collection in the server (through its inspector, see {@link inspectorEnv}). Without it,
 * /healthz counts garbage V8 has not got round to collecting as used heap, which says nothing about leaks.
 */
export async function collectGarbage(server: ServerProcess): Promise<void> {
  const url = server.output.map((line) => /Debugger listening on (ws:\/\/\S+)/.exec(line)?.[1]).find(Boolean)
  if (!url) throw new Error('the server was not started with inspectorEnv(): no "Debugger listening on" line')
  const ws = new WebSocket(url)
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve)
      ws.once('error', reject)
    })
    await new Promise<void>((resolve, reject) => {
      ws.on('message', (data) => {
        const reply = JSON.parse(String(data)) as { id?: number; error?: { message: string } }
        if (reply.id !== 1) return
        if (reply.error) reject(new Error(`HeapProfiler.collectGarbage failed: ${reply.error.message}`))
        else resolve()
      })
      ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' }))
    })
  } finally {
    ws.close()
  }
}
