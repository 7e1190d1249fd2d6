import { cpSync, mkdtempSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRandom } from '@collab/test-support'
import { SyncClient, type WireProtocol } from '../client.js'
import { ClientProcess } from '../client-process.js'
import type { ColdLoadAnswer, ColdLoadRequest } from '../cold-load-client.js'
import type { BenchContext } from '../context.js'
import { dirBytes } from '../proc-stats.js'
import { freePort, type RunningSystem, startSystem } from '../server-process.js'
import { until } from '../stats.js'
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
  /** Opens `name`; done when its text is `expected` (default: the trace's end content). */
  load(
    url: string,
    protocol: WireProtocol,
    name: string,
    expected?: string,
  ): Promise<{ ms: number; receivedMs: number }>
  close(): void
}

const clientScript = join(dirname(fileURLToPath(import.meta.url)), '../cold-load-client.js')

/** Starts the cold-load client process (on the load generator's core) and hands it the expected end content. */
export async function startColdLoadClient(endContent: string): Promise<ColdLoadClient> {
  const child = new ClientProcess<ColdLoadRequest, ColdLoadAnswer>(clientScript)
  child.send({ type: 'init', endContent })
  await child.take('ready', 30_000)
  return {
    async load(url, protocol, name, expected) {
      const timeoutMs = 120_000
      child.send({ type: 'load', url, protocol, name, timeoutMs, expected })
      const answer = await child.take('loaded', timeoutMs + 10_000)
      return { ms: answer.ms, receivedMs: answer.receivedMs }
    },
    close: () => child.close(),
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
  /** The document's text when the history is not the whole trace's. */
  expected?: string,
): Promise<ColdLoadResult> {
  const dataDir = mkdtempSync(join(ctx.workDir, `${spec.id}-cold-`))
  cpSync(historyDir, dataDir, { recursive: true })
  const bytesBefore = dirBytes(dataDir)
  const server = await startSystem(spec, await freePort(), dataDir)
  try {
    const { ms, receivedMs } = await client.load(server.url, spec.client.protocol, 'paper', expected)
    await server.stop(120_000)
    return { ms, receivedMs, bytesBefore, bytesAfter: dirBytes(dataDir) }
  } finally {
    await server.stop()
  }
}

/** The ways a server can leave its store that {@link runStoreLeftLoads} opens the document after. */
export const storeLeftWays = ['clean', 'forced', 'killed'] as const
export type StoreLeftWay = (typeof storeLeftWays)[number]

/** How each way reads in the results table. */
export const storeLeftLabels: Record<StoreLeftWay, string> = {
  clean: 'a clean stop',
  forced: 'a forced exit',
  killed: 'kill -9 during typing',
}

/** The document of issue 12: the first 50,000 updates of automerge-paper (fewer if the trace is shorter). */
export const storeLeftUpdates = 50_000

/** One load of the document by a freshly started server, after the store was left one way. */
export interface StoreLeftLoad {
  /** Records the store held for the document when the server started again. */
  records: number
  /** The server's own time to load the document (`collab_room_load_duration_seconds`, its "room loaded"). */
  loadMs: number
}

/** One load per way of leaving the store. */
export type StoreLeftResult = Record<StoreLeftWay, StoreLeftLoad>

/**
 * The server-side load of the document after each way a server can leave its store, for ours: a client types the
 * trace's first {@link storeLeftUpdates} updates in bursts (one socket read each, as [SU4] stores them), and then
 * the server is stopped with SIGTERM once everything is acknowledged (clean), killed with SIGKILL once everything
 * is acknowledged (forced: what an exit without the shutdown leaves, every write done and no final compaction), or
 * killed with SIGKILL once 85% is acknowledged while the rest is still arriving (killed). A new server on that
 * directory then loads the document for one client.
 */
export async function runStoreLeftLoads(ctx: BenchContext, spec: SystemSpec): Promise<StoreLeftResult> {
  const clean = await leaveAndLoad(ctx, spec, 'clean')
  const forced = await leaveAndLoad(ctx, spec, 'forced')
  const killed = await leaveAndLoad(ctx, spec, 'killed')
  return { clean, forced, killed }
}

async function leaveAndLoad(ctx: BenchContext, spec: SystemSpec, way: StoreLeftWay): Promise<StoreLeftLoad> {
  const dataDir = mkdtempSync(join(ctx.workDir, `${spec.id}-left-${way}-`))
  const typing = await startSystem(spec, await freePort(), dataDir)
  try {
    await typeAndLeave(ctx, typing, way)
  } finally {
    await typing.stop()
  }
  const server = await startSystem(spec, await freePort(), dataDir)
  try {
    const records = await recordsOf(server, 'paper')
    const reader = new SyncClient(server.url, 'paper', spec.client)
    try {
      await reader.opened
      await reader.whenSynced()
    } finally {
      await reader.close()
    }
    return { records, loadMs: await serverLoadMs(server) }
  } finally {
    await server.stop()
  }
}

async function typeAndLeave(ctx: BenchContext, server: RunningSystem, way: StoreLeftWay): Promise<void> {
  const updates = ctx.trace.updates.slice(0, storeLeftUpdates)
  const client = new SyncClient(server.url, 'paper', server.spec.client)
  try {
    await client.opened
    await client.whenSynced()
    await client.handled()
    const before = client.docMessagesSent
    const stopAfter = way === 'killed' ? Math.floor(updates.length * 0.85) : updates.length
    const acknowledged = () => {
      client.assertOpen()
      return client.acks - before >= stopAfter
    }
    // Bursts of 1 to 16 updates (8.7 on average, as the stock client's 50,000 updates were stored as 5,752
    // records), each sent in one turn of the event loop so that it tends to arrive in a socket read of its own.
    const random = createRandom(5752)
    for (let next = 0; next < updates.length && !(way === 'killed' && acknowledged()); ) {
      const end = Math.min(updates.length, next + 1 + Math.floor(random() * 16.4))
      for (; next < end; next++) client.sendUpdate(updates[next]!)
      await new Promise((resolve) => setImmediate(resolve))
    }
    await until(acknowledged, 120_000, `${stopAfter} save acknowledgements`, 1)
    if (way === 'clean') {
      await client.close()
      await server.stop(120_000)
    } else {
      server.kill('SIGKILL')
    }
  } finally {
    await client.close()
  }
}

/** The records stored for `name`, as the server lists them (read from storage, without loading the document). */
async function recordsOf(server: RunningSystem, name: string): Promise<number> {
  const listing = (await (await fetch(`http://127.0.0.1:${server.port}/api/docs`)).json()) as {
    docs?: Array<{ name: string; records: number }>
  }
  const entry = listing.docs?.find((doc) => doc.name === name)
  if (!entry) throw new Error(`the restarted server does not list ${name}: ${JSON.stringify(listing)}`)
  return entry.records
}

/** The one document load the server has done, as its metrics time it. */
async function serverLoadMs(server: RunningSystem): Promise<number> {
  const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text()
  const figure = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1])
  const count = figure('collab_room_load_duration_seconds_count')
  if (count !== 1) throw new Error(`expected one document load in the server's metrics, found ${count}`)
  return figure('collab_room_load_duration_seconds_sum') * 1000
}
