import { cpSync, mkdtempSync } from 'node:fs'
import { join } from 'node:path'
import { SyncClient } from '../client.js'
import type { BenchContext } from '../context.js'
import { dirBytes, startCpuWindow } from '../proc-stats.js'
import { freePort, startSystem } from '../server-process.js'
import { until } from '../stats.js'
import type { SystemSpec } from '../systems.js'

/** One ingest run: the whole trace sent update by update over one connection. */
export interface IngestResult {
  updates: number
  /** Time until the server had applied every update (its answer to a message sent after them). */
  appliedMs: number
  /** Time until every update was durably stored (see {@link durabilityMethod}). */
  storedMs: number
  storedPerSecond: number
  appliedPerSecond: number
  /** Data directory size right after the last update was stored, server still running. */
  bytesLive: number
  /** Data directory size after a graceful stop (ours compacts on shutdown). */
  bytesStopped: number
  loadgenCpu: number
  /** The data directory after the stop: the stored history the cold-load workload starts from. */
  historyDir: string
}

/** How "durably stored" is decided for each system; printed with the results. */
export const durabilityMethod: Record<string, string> = {
  ours: 'the server acknowledges (message `saved`) each update once its LevelDB batch is written',
  'y-websocket-server':
    "y-leveldb chains every write on one promise; the probe waits for that chain's tail after the server has applied the last update",
  hocuspocus:
    'the Database extension writes the whole document state, debounced (2 s after the last change, at most 10 s apart); the probe waits until no store is scheduled or running after the last update was applied',
}

/** What an ingest sends: the whole trace, or its first updates (the cold loads by size of workload 13). */
export interface IngestInput {
  updates: readonly Uint8Array[]
  /** The state vector once all of them are applied: the client waits until the server's state covers it. */
  finalStateVector: Uint8Array
}

/**
 * Ingest: one client sends every update of the trace (or of `input`) as fast as the socket takes them; the clock
 * runs from the first send until the last update is durably stored.
 */
export async function runIngest(
  ctx: BenchContext,
  spec: SystemSpec,
  input: IngestInput = ctx.trace,
): Promise<IngestResult> {
  const { updates, finalStateVector } = input
  const dataDir = mkdtempSync(join(ctx.workDir, `${spec.id}-ingest-`))
  const server = await startSystem(spec, await freePort(), dataDir)
  try {
    const client = new SyncClient(server.url, 'paper', spec.client)
    await client.opened
    await client.whenSynced()
    // Let the handshake finish (the answer to the server's step 1 is a document message too).
    await client.handled()
    const before = client.docMessagesSent
    const cpu = startCpuWindow()
    const started = performance.now()
    for (const update of updates) client.sendUpdate(update)
    await client.handled(finalStateVector)
    const appliedMs = performance.now() - started
    if (spec.id === 'ours') {
      await until(
        () => {
          client.assertOpen()
          return client.acks >= before + updates.length
        },
        600_000,
        'save acknowledgements',
        1,
      )
    } else {
      await server.flush()
    }
    const storedMs = performance.now() - started
    const loadgenCpu = cpu().fraction
    const bytesLive = dirBytes(dataDir)
    await client.close()
    await server.stop(120_000)
    const historyDir = `${dataDir}-history`
    cpSync(dataDir, historyDir, { recursive: true })
    return {
      updates: updates.length,
      appliedMs,
      storedMs,
      storedPerSecond: (updates.length / storedMs) * 1000,
      appliedPerSecond: (updates.length / appliedMs) * 1000,
      bytesLive,
      bytesStopped: dirBytes(dataDir),
      loadgenCpu,
      historyDir,
    }
  } finally {
    await server.stop()
  }
}
