import { type ServerProcess, startServerProcess } from '@collab/test-support'
import { expect } from 'vitest'
import type * as Y from 'yjs'
import { type BystanderOptions, Bystanders, describeLatency, type LatencyFigures, worst } from './bystanders.js'
import { cpuSeconds, fetchServedDoc, healthStatus, isRunning, mb, trackResidentMemory } from './server-health.js'
import { countMissing, readStoredDoc } from './stored.js'
import { type Teardown, tempDir } from './teardown.js'
import { sleep } from './timing.js'

// The frame of every hostile-client test (issue 13): the real server as `npm start` runs it, honest bystanders
// typing on the attacked document and on another one, and after the attack the same questions: is the server
// alive, did its memory stay bounded, did anyone wait, was anything acknowledged lost.

/** Keystroke-to-other-client latency an honest client may see while an attack runs. */
export const bystanderLatencyLimitMs = 500
/** Resident memory the server may gain during an attack. */
export const rssGrowthLimitBytes = 300 * 1024 * 1024

/** The real server with honest clients on it. */
export interface Siege {
  server: ServerProcess
  dataDir: string
  bystanders: Bystanders
}

/**
 * Starts the server as a child process with its default settings (only the log level is quieter) and a bystander
 * pair on each of `docs`, and waits until they are synced.
 */
export async function startSiege(
  docs: readonly string[],
  teardown: Teardown,
  options: BystanderOptions & { args?: string[] } = {},
): Promise<Siege> {
  const dataDir = tempDir(teardown)
  const server = await startServerProcess({ dataDir, args: ['--log-level', 'warn', ...(options.args ?? [])] })
  const siege: Siege = { server, dataDir, bystanders: new Bystanders(server.wsUrl, docs, teardown, options) }
  // SIGKILL of whichever server the siege holds at the end (a test may restart it).
  teardown.defer(() => siege.server.stop('SIGKILL'))
  await siege.bystanders.ready()
  return siege
}

/** What the bystanders and the server went through during one attack. */
export interface SiegeOutcome {
  latency: LatencyFigures[]
  rssBaselineBytes: number
  rssGrowthBytes: number
  alive: boolean
  /** /healthz status after the attack, or why it did not answer. */
  health: number | string
  /**
   * Updates the server acknowledged to a bystander that are not in the document it serves (or stored), or why
   * that could not be checked.
   */
  lostAcknowledged: number | string
  attackMs: number
  /** The server's CPU use over the window, as a fraction of one core (its event loop is one). */
  serverCpu: number
}

/**
 * Runs `attack` while the bystanders type, keeps them typing for `afterMs` more (a stall can follow the attack),
 * then checks the server. Whatever `attack` throws is rethrown after the server was checked.
 */
export async function besiege(
  siege: Siege,
  attack: () => Promise<void>,
  options: { beforeMs?: number; afterMs?: number } = {},
): Promise<SiegeOutcome> {
  const pid = siege.server.child.pid!
  const memory = trackResidentMemory(pid)
  const cpuBefore = cpuSeconds(pid) ?? 0
  const windowStarted = performance.now()
  const window = await siege.bystanders.start()
  await sleep(options.beforeMs ?? 300)
  const started = Date.now()
  let failure: unknown = null
  try {
    await attack()
  } catch (err) {
    failure = err
  }
  const attackMs = Date.now() - started
  await sleep(options.afterMs ?? 1_500)
  const latency = await window.end()
  const serverCpu = ((cpuSeconds(pid) ?? cpuBefore) - cpuBefore) / ((performance.now() - windowStarted) / 1000)
  const rssGrowthBytes = memory.stop()
  const alive = isRunning(siege.server)
  const health = alive ? await healthStatus(siege.server.url) : 'the server process exited'
  const lostAcknowledged = await lostAcknowledgedUpdates(siege, alive)
  if (failure !== null) throw failure
  return {
    latency,
    rssBaselineBytes: memory.baselineBytes,
    rssGrowthBytes,
    alive,
    health,
    lostAcknowledged,
    attackMs,
    serverCpu,
  }
}

/** Checks the bystanders' acknowledged updates against the served document, or the stored one if the server died. */
async function lostAcknowledgedUpdates(siege: Siege, alive: boolean): Promise<number | string> {
  let lost = 0
  for (const bystander of siege.bystanders.list) {
    let doc: Y.Doc | null
    if (alive) {
      try {
        doc = (await fetchServedDoc(siege.server.url, bystander.doc)).doc
      } catch (err) {
        return `not checked: GET /api/docs/${bystander.doc} failed (${err instanceof Error ? err.message : err})`
      }
    } else {
      // The process is gone, so its LevelDB directory is free to open.
      doc = await readStoredDoc(siege.dataDir, bystander.doc)
    }
    const acknowledged = await bystander.call('acknowledged', {})
    if (doc === null) {
      lost += acknowledged.length
      continue
    }
    lost += countMissing(doc, acknowledged)
    doc.destroy()
  }
  return lost
}

/** Report figures of an outcome, for `report()`. */
export function outcomeFigures(outcome: SiegeOutcome): Record<string, string | number | boolean> {
  const w = worst(outcome.latency)
  return {
    attackMs: outcome.attackMs,
    bystanderMaxMs: w.maxMs,
    bystanderP99Ms: w.p99Ms,
    bystanders: describeLatency(outcome.latency),
    bystanderDisconnects: w.disconnects,
    serverCpu: Math.round(outcome.serverCpu * 100) / 100,
    rssBaselineMB: mb(outcome.rssBaselineBytes),
    rssGrowthMB: mb(outcome.rssGrowthBytes),
    alive: outcome.alive,
    health: outcome.health,
    lostAcknowledged: outcome.lostAcknowledged,
  }
}

/**
 * The promises of issue 13 for everyone but the attacker, as soft assertions so that one run lists every one
 * that failed: the server is alive and healthy, its memory stayed bounded, no bystander waited 500 ms or lost its
 * connection, nothing acknowledged was lost. `docs` limits the latency checks to some bystanders.
 */
export function expectBystandersUnharmed(outcome: SiegeOutcome, docs?: readonly string[]): void {
  expect.soft(outcome.alive, 'the server process is alive after the attack').toBe(true)
  expect.soft(outcome.health, 'GET /healthz after the attack').toBe(200)
  expect
    .soft(mb(outcome.rssGrowthBytes), 'server RSS growth during the attack (MB)')
    .toBeLessThan(mb(rssGrowthLimitBytes))
  for (const figures of outcome.latency) {
    if (docs && !docs.includes(figures.doc)) continue
    expect
      .soft(figures.maxMs, `slowest keystroke of the bystander on "${figures.doc}" (ms)`)
      .toBeLessThan(bystanderLatencyLimitMs)
    expect.soft(figures.disconnects, `connection losses of the bystander on "${figures.doc}"`).toBe(0)
  }
  expect.soft(outcome.lostAcknowledged, 'acknowledged bystander updates lost').toBe(0)
}
