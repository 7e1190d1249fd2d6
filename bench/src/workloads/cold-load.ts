import { type ChildProcess, spawn } from 'node:child_process'
import { cpSync, mkdtempSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { WireProtocol } from '../client.js'
import type { ColdLoadAnswer, ColdLoadRequest } from '../cold-load-client.js'
import type { BenchContext } from '../context.js'
import { dirBytes } from '../proc-stats.js'
import { freePort, startSystem, tasksetPath } from '../server-process.js'
import type { SystemSpec } from '../systems.js'

/** One cold load of the stored trace history. */
export interface ColdLoadResult {
  /** From creating the client to holding a document equal to the trace's end content. */
  ms: number
  /** From creating the client until the message carrying the document arrived (the server's share). */
  receivedMs: number
  /** Data directory size as ingest left it. */
  bytesBefore: number
  /** Data directory size after this load and a graceful stop (y-leveldb compacts on load). */
  bytesAfter: number
}

/** The client process of the cold loads. */
export interface ColdLoadClient {
  load(url: string, protocol: WireProtocol, name: string): Promise<{ ms: number; receivedMs: number }>
  close(): void
}

const clientScript = join(dirname(fileURLToPath(import.meta.url)), '../cold-load-client.js')

/** Starts the cold-load client process (on the load generator's core) and hands it the expected end content. */
export async function startColdLoadClient(endContent: string): Promise<ColdLoadClient> {
  const nodeArgs = [clientScript]
  const child: ChildProcess = tasksetPath
    ? spawn(tasksetPath, ['-c', '1', process.execPath, ...nodeArgs], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    : spawn(process.execPath, nodeArgs, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const ask = (request: ColdLoadRequest) =>
    new Promise<ColdLoadAnswer>((resolve, reject) => {
      const onExit = () => reject(new Error('the cold-load client exited'))
      child.once('exit', onExit)
      child.once('message', (answer: ColdLoadAnswer) => {
        child.off('exit', onExit)
        resolve(answer)
      })
      child.send(request)
    })
  await ask({ type: 'init', endContent })
  return {
    async load(url, protocol, name) {
      const answer = await ask({ type: 'load', url, protocol, name, timeoutMs: 120_000 })
      if (answer.type === 'error') throw new Error(answer.message)
      if (answer.type !== 'loaded') throw new Error(`unexpected answer ${answer.type}`)
      return { ms: answer.ms, receivedMs: answer.receivedMs }
    },
    close: () => child.kill(),
  }
}

/**
 * Cold load: a fresh copy of the data directory the ingest left behind, a freshly started server, and the
 * system's own client (the stock y-websocket client for the y-websocket protocol, HocuspocusProvider for
 * Hocuspocus) opening the document in a separate process; done when its Y.Text equals the trace's end content.
 */
export async function runColdLoad(
  ctx: BenchContext,
  spec: SystemSpec,
  historyDir: string,
  client: ColdLoadClient,
): Promise<ColdLoadResult> {
  const dataDir = mkdtempSync(join(ctx.workDir, `${spec.id}-cold-`))
  cpSync(historyDir, dataDir, { recursive: true })
  const bytesBefore = dirBytes(dataDir)
  const server = await startSystem(spec, await freePort(), dataDir)
  try {
    const { ms, receivedMs } = await client.load(server.url, spec.client.protocol, 'paper')
    await server.stop(120_000)
    return { ms, receivedMs, bytesBefore, bytesAfter: dirBytes(dataDir) }
  } finally {
    await server.stop()
  }
}
