// Every workload against ours, @y/websocket-server and Hocuspocus, side by side in one run (started by run.ts).
// Each server runs as its own process on core 0, this load generator on core 1; systems are interleaved within each
// repetition (A B C A B C) and the table reports medians. See bench/README.md.
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import * as Y from 'yjs'
import { renderChart } from './chart.js'
import type { BenchContext, BenchTrace } from './context.js'
import { measureInProcessFloors } from './floors.js'
import { beginMeasurement, endMeasurement } from './health.js'
import { fullPlan, type Plan, quickPlan } from './plan.js'
import { loadAverage, watchOtherProcesses } from './proc-stats.js'
import { formatValue, markdownTable, metricRows } from './report.js'
import type { Failed, RunResults, Runs } from './results.js'
import { killAllServers } from './server-process.js'
import { median } from './stats.js'
import { comparedSystems, oursWithDefaultLimits, type SystemId, type SystemSpec, systems } from './systems.js'
import { traceUpdates } from './trace-updates.js'
import { runAwareness } from './workloads/awareness.js'
import { type BrowserSession, runBrowser, startBrowserSession } from './workloads/browser.js'
import { runCapacity } from './workloads/capacity.js'
import { type ClusterServices, clusterLauncher, clusterLayoutLabel, startClusterServices } from './workloads/cluster.js'
import {
  runColdLoad,
  runStoreLeftLoads,
  startColdLoadClient,
  storeLeftLabels,
  storeLeftWays,
} from './workloads/cold-load.js'
import { runFastClient } from './workloads/fast-client.js'
import { floodRooms, runFlood, startFlooder } from './workloads/flood.js'
import { runHistory, updatesPerVersion } from './workloads/history.js'
import { runHttpTransport } from './workloads/http-transport.js'
import { runIdleMemory } from './workloads/idle-memory.js'
import { durabilityMethod, runIngest } from './workloads/ingest.js'
import { runOtEcho, runOtPushes } from './workloads/ot.js'
import { runStorm } from './workloads/reconnect-storm.js'
import { runRecovery, settledAfterMs } from './workloads/recovery.js'
import { runRelay } from './workloads/relay.js'
import { coldLoadSizes, runColdLoadBySize, runScaling } from './workloads/scaling.js'

const workloads = [
  'ingest',
  'cold-load',
  'relay',
  'capacity',
  'idle',
  'storm',
  'awareness',
  'cluster',
  'fast-client',
  'flood',
  'ot',
  'recovery',
  'scaling',
  'history',
  'http-transport',
  'browser',
] as const
/** The systems with a cluster mode: y-websocket-server has none (each process keeps its own documents). */
const clusterSystems = ['ours', 'hocuspocus'] as const
type Workload = (typeof workloads)[number]

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    only: { type: 'string' },
    rounds: { type: 'string' },
    systems: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
})
// The root script ends in `npm run bench --workspace=@collab/bench`, so `npm run bench -- --quick` there reaches npm
// rather than this script; npm hands flags it does not know to the script as npm_config_* variables.
const fromNpm = (name: string) => process.env[`npm_config_${name}`] || undefined
const options = {
  quick: flags.quick ?? fromNpm('quick') === 'true',
  only: flags.only ?? fromNpm('workloads'),
  rounds: flags.rounds ?? fromNpm('rounds'),
  systems: flags.systems ?? fromNpm('systems'),
  help: flags.help,
}
if (options.help) {
  console.log(`Usage: node dist/run.js [--quick] [--only ${workloads.join(',')}] [--rounds N]
  (from the repository root: npm run bench -- --quick --workloads=relay,storm --rounds=1)
  --quick  one repetition, smaller sizes, the bundled sveltecomponent trace (for development)
  --only   run only these workloads (cold-load needs ingest); --workloads=... through npm
  --rounds repetitions of every workload (default: as planned, 3 for most)
  --systems measure only these of ${comparedSystems.join(',')} (a partial run, for development)`)
  process.exit(0)
}
const basePlan: Plan = options.quick ? quickPlan : fullPlan
const roundsOverride = options.rounds === undefined ? undefined : Number(options.rounds)
if (roundsOverride !== undefined && !(Number.isInteger(roundsOverride) && roundsOverride > 0)) {
  throw new RangeError(`--rounds must be a positive whole number, not ${options.rounds}`)
}
const plan: Plan =
  roundsOverride === undefined
    ? basePlan
    : {
        ...basePlan,
        rounds: Object.fromEntries(Object.keys(basePlan.rounds).map((k) => [k, roundsOverride])) as Plan['rounds'],
      }
const selected = new Set<Workload>(
  options.only ? (options.only.split(',').map((w) => w.trim()) as Workload[]) : [...workloads],
)
for (const w of selected) if (!workloads.includes(w)) throw new RangeError(`Unknown workload ${w}`)
/** The systems measured: all of them, or those of `--systems`. */
const compared: readonly SystemId[] = options.systems
  ? options.systems.split(',').map((id) => {
      const system = id.trim() as SystemId
      if (!comparedSystems.includes(system)) throw new RangeError(`Unknown system ${id}: ${comparedSystems.join(', ')}`)
      return system
    })
  : comparedSystems
if (selected.has('cold-load')) selected.add('ingest')

const benchRoot = join(dirname(fileURLToPath(import.meta.url)), '..')
const runStarted = performance.now()
const startedAt = new Date()
const log = (line: string) =>
  console.log(`[${((performance.now() - runStarted) / 1000).toFixed(0).padStart(3)} s] ${line}`)

// Other processes on the machine make every figure noisier; the load average over the run is kept with the results.
const loadSamples: number[] = [loadAverage()]
const loadSampler = setInterval(() => loadSamples.push(loadAverage()), 5_000)
loadSampler.unref()

const pinned = process.env.BENCH_PINNED === '1'
const priority = process.env.BENCH_PRIORITY ?? 'normal'
if (!pinned) console.log('taskset is not available: the servers and the load generator share the cores')
if (cpus().length < 2) console.log('fewer than 2 cores: the servers and the load generator share one')

function loadBenchTrace(name: string): BenchTrace {
  let replayed: ReturnType<typeof traceUpdates>
  try {
    replayed = traceUpdates(name)
  } catch (err) {
    console.error(
      `bench needs the editing trace ${name}.json.gz: ${err instanceof Error ? err.message : err}\n` +
        'The full run reads ../shared/traces/ beside the repository (or TRACES_DIR); `npm run bench -- --quick` uses the trace bundled with @collab/test-support.',
    )
    process.exit(1)
  }
  const doc = new Y.Doc()
  for (const update of replayed.updates) Y.applyUpdate(doc, update)
  const finalState = Y.encodeStateAsUpdate(doc)
  const finalStateVector = Y.encodeStateVector(doc)
  doc.destroy()
  return { ...replayed, name, finalState, finalStateVector }
}

const trace = loadBenchTrace(plan.trace)
log(`${trace.name}: ${trace.updates.length.toLocaleString('en-US')} updates, ${(trace.bytes / 1e6).toFixed(1)} MB`)
const floors = measureInProcessFloors(trace.updates, trace.finalState)
log(
  `in-process floors: Yjs apply ${Math.round(floors.yjsApplyPerSecond).toLocaleString('en-US')} updates/s, parse of the final state ${floors.parseStateMs.toFixed(1)} ms (${floors.stateBytes.toLocaleString('en-US')} B)`,
)

const workDir = mkdtempSync(join(tmpdir(), 'collab-bench-'))
const ctx: BenchContext = { plan, trace, workDir, log }
/** The installed version of `name` as Node would resolve it from `from` (some packages do not export package.json). */
function versionOf(name: string, from = benchRoot): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const path = join(dir, 'node_modules', name, 'package.json')
    if (existsSync(path)) return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version
    if (dirname(dir) === dir) return 'not installed'
  }
}
const yWebsocketServerDir = join(dirname(systems['y-websocket-server'].entry), '..')
const results: RunResults = {
  date: startedAt.toISOString().slice(0, 10),
  startedAt: startedAt.toISOString(),
  durationSeconds: 0,
  machine: {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    pinned,
    priority,
    loadAverage: { min: 0, median: 0, max: 0 },
    otherProcessesCpu: {},
  },
  measurements: [],
  versions: {
    '@y/websocket-server': versionOf('@y/websocket-server'),
    'y-leveldb (its persistence)': versionOf('y-leveldb', yWebsocketServerDir),
    '@hocuspocus/server': versionOf('@hocuspocus/server'),
    '@hocuspocus/provider': versionOf('@hocuspocus/provider'),
    'classic-level (Hocuspocus store)': versionOf('classic-level'),
    ...(selected.has('cluster') && { '@hocuspocus/extension-redis': versionOf('@hocuspocus/extension-redis') }),
    ...(selected.has('ot') && { '@codemirror/collab (OT clients)': versionOf('@codemirror/collab') }),
    yjs: versionOf('yjs'),
  },
  plan,
  trace: { name: trace.name, updates: trace.updates.length, bytes: trace.bytes },
  floors,
  durability: durabilityMethod,
  ingest: {},
  coldLoad: {},
  coldLoadLeft: {},
  relay: {},
  capacity: {},
  idle: {},
  storm: {},
  awareness: {},
  cluster: { relay: {}, capacity: {} },
  fastClient: {},
  flood: {},
  ot: { pushes: {}, echo: {}, yjsOnly: {} },
  recovery: {},
  scaling: {},
  coldLoadBySize: {},
  history: {},
  httpTransport: {},
  browser: {},
}

/** Longest one measurement may take before it counts as failed (y-websocket-server's full ingest takes about 70 s). */
const measurementTimeoutMs = 240_000

const resultsDir = join(benchRoot, 'results')
// Development runs must not overwrite the day's full results.
const suffix = plan.quick ? '-quick' : options.only || options.rounds || options.systems ? '-partial' : ''
/** Server logs written in this run: the first failed measurement of a file replaces what an earlier run left. */
const serverLogsWritten = new Set<string>()

/** Keeps the servers' last lines of a failed measurement beside the results; returns the file's path. */
function writeServerLog(what: string, system: SystemId, log: string, cause: string): string {
  const slug = what
    .replace(/[^a-z0-9]+/gi, '-')
    .replace(/^-|-$/g, '')
    .toLowerCase()
  const path = join(resultsDir, `${results.date}${suffix}-${slug}-${system}-server.log`)
  mkdirSync(resultsDir, { recursive: true })
  const text = `### ${new Date().toISOString()} ${system} ${what} failed: ${cause}\n${log}\n\n`
  if (serverLogsWritten.has(path)) appendFileSync(path, text)
  else writeFileSync(path, text)
  serverLogsWritten.add(path)
  return path
}

/**
 * Runs one measurement, recording a failure (or a time-out) instead of ending the run. Meanwhile every server
 * process it starts and every client connection it opens is watched: when a server exited on its own or a
 * connection was closed by the other side, the measurement is a failure with that cause, whatever figures it
 * produced, and the servers' last log lines are written beside the results.
 */
async function attempt<T>(runs: Runs<T>, system: SystemId, what: string, measure: () => Promise<T>): Promise<T | null> {
  const list = runs[system] ?? []
  runs[system] = list
  let timer: NodeJS.Timeout | undefined
  const controller = new AbortController()
  ctx.signal = controller.signal
  const measurement = beginMeasurement()
  let outcome: { ok: true; result: T } | { ok: false; error: string }
  try {
    const result = await Promise.race([
      measure(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          // Stop the measurement's loops and its server, so that it does not load the machine for the next one.
          controller.abort()
          killAllServers()
          reject(new Error(`timed out after ${measurementTimeoutMs / 1000} s`))
        }, measurementTimeoutMs)
      }),
    ])
    outcome = { ok: true, result }
  } catch (err) {
    outcome = { ok: false, error: err instanceof Error ? err.message : String(err) }
  } finally {
    clearTimeout(timer)
    endMeasurement()
  }
  const health = measurement.health()
  const record = { workload: what, system, ...health, failed: !outcome.ok || health.failure !== undefined }
  results.measurements.push(record)
  if (outcome.ok && health.failure === undefined) {
    list.push(outcome.result)
    return outcome.result
  }
  const cause = health.failure
  const failed: Failed = {
    error: outcome.ok ? `failed: ${cause}` : outcome.error,
    ...(cause === undefined ? {} : { cause }),
  }
  let where = ''
  if (measurement.servers.length > 0) {
    const path = writeServerLog(what, system, measurement.serverLog(), cause ?? failed.error.split('\n')[0]!)
    failed.serverLog = relative(benchRoot, path)
    Object.assign(record, { serverLog: failed.serverLog })
    where = `; server log: ${path}`
  }
  log(`  ${system} ${what} FAILED: ${cause ?? failed.error.split('\n')[0]}${where}`)
  list.push(failed)
  return null
}

const pct = (fraction: number) => `${(fraction * 100).toFixed(0)}%`

/**
 * Runs one workload, noting how much CPU other processes on the machine took meanwhile; `ownCpuSeconds` counts
 * processes the workload runs that are not this bench's children (the cluster workload's Redis and PostgreSQL).
 */
async function section(name: string, body: () => Promise<void>, ownCpuSeconds = () => 0): Promise<void> {
  const others = watchOtherProcesses()
  const ownStart = ownCpuSeconds()
  const started = performance.now()
  try {
    await body()
  } finally {
    const ownCores = (ownCpuSeconds() - ownStart) / ((performance.now() - started) / 1000)
    const cores = Math.max(0, others() - ownCores)
    results.machine.otherProcessesCpu[name] = Math.round(cores * 1000) / 1000
    if (cores >= 0.1) log(`  other processes used ${cores.toFixed(2)} cores meanwhile: these figures are disturbed`)
  }
}

const histories = new Map<SystemId, string>()

try {
  if (selected.has('ingest')) {
    await section('ingest', async () => {
      log(
        `1. ingest: ${trace.updates.length.toLocaleString('en-US')} updates, one client, as fast as the server takes them`,
      )
      for (let round = 1; round <= plan.rounds.ingest; round++) {
        for (const id of compared) {
          const r = await attempt(results.ingest, id, 'ingest', () => runIngest(ctx, systems[id]))
          if (!r) continue
          histories.set(id, r.historyDir)
          log(
            `  round ${round} ${id}: stored ${Math.round(r.storedPerSecond).toLocaleString('en-US')}/s (${(r.storedMs / 1000).toFixed(2)} s), applied ${Math.round(r.appliedPerSecond).toLocaleString('en-US')}/s; ${formatValue(r.bytesLive, 'bytes')} live, ${formatValue(r.bytesStopped, 'bytes')} stopped; load generator ${pct(r.loadgenCpu)}`,
          )
        }
      }
    })
  }
  if (selected.has('cold-load')) {
    await section('cold-load', async () => {
      log('2. cold load: restart on the stored history, connect to synced document equal to endContent')
      const client = await startColdLoadClient(trace.endContent)
      try {
        // One unmeasured load per client library first, so no system pays for compiling the client's code.
        for (const id of ['ours', 'hocuspocus'] as const) {
          const history = histories.get(id)
          if (history) await runColdLoad(ctx, systems[id], history, client).catch(() => undefined)
        }
        for (let round = 1; round <= plan.rounds.coldLoad; round++) {
          for (const id of compared) {
            const history = histories.get(id)
            if (!history) continue
            const r = await attempt(results.coldLoad, id, 'cold load', () =>
              runColdLoad(ctx, systems[id], history, client),
            )
            if (r)
              log(
                `  round ${round} ${id}: ${r.ms.toFixed(1)} ms (document received after ${r.receivedMs.toFixed(1)} ms); stored ${formatValue(r.bytesBefore, 'bytes')} -> ${formatValue(r.bytesAfter, 'bytes')}`,
              )
          }
        }
      } finally {
        client.close()
      }
      for (let round = 1; round <= plan.rounds.coldLoad; round++) {
        const r = await attempt(results.coldLoadLeft, 'ours', 'cold load of a store left by each way of stopping', () =>
          runStoreLeftLoads(ctx, systems.ours),
        )
        if (r)
          log(
            `  round ${round} ours, server-side load of a store left by ${storeLeftWays.map((way) => `${storeLeftLabels[way]}: ${r[way].loadMs.toFixed(1)} ms (${r[way].records} records)`).join(', ')}`,
          )
      }
    })
  }
  // Before the trace is cut short below: the history is the whole trace's.
  if (selected.has('history')) {
    await section('history', async () => {
      log(
        `14. version history, ours only: ${trace.name} (${trace.updates.length.toLocaleString('en-US')} updates) with a named version every ${updatesPerVersion.toLocaleString('en-US')} updates, listed and rebuilt over HTTP by a freshly started server`,
      )
      const runs = results.history ?? {}
      results.history = runs
      for (let round = 1; round <= plan.rounds.history; round++) {
        const h = await attempt(runs, 'ours', 'version history', () => runHistory(ctx, systems.ours))
        if (h)
          log(
            `  round ${round} ours: ${h.versions} versions; list ${h.listFirstMs.toFixed(1)} ms first, then ${h.listMs.toFixed(1)} ms (median); rebuild ${h.rebuildFirstMs.toFixed(1)} ms first (the latest), then ${h.rebuildMs.toFixed(1)} ms median, ${h.rebuildMaxMs.toFixed(1)} ms max over versions spread across the history`,
          )
      }
    })
  }
  if (selected.has('scaling')) {
    // Part of workload 13, run here while the load generator still holds the whole trace.
    await section('scaling-cold-load', async () => {
      const sizes = coldLoadSizes(plan.scaling.coldLoadUpdates, trace.updates.length)
      log(
        `13. scaling: cold load of documents of ${sizes.map((n) => n.toLocaleString('en-US')).join(', ')} updates (the trace's first ones, ingested, then opened by each system's own client on a fresh server)`,
      )
      const client = await startColdLoadClient(trace.endContent)
      try {
        const runs = results.coldLoadBySize ?? {}
        results.coldLoadBySize = runs
        // One unmeasured pass per client library first (the stock y-websocket client on ours, HocuspocusProvider),
        // so no system pays for compiling the client's code; it also does the ingests the rounds load from.
        for (const id of ['ours', 'hocuspocus'] as const) {
          if (compared.includes(id)) await runColdLoadBySize(ctx, systems[id], client).catch(() => undefined)
        }
        for (let round = 1; round <= plan.rounds.scaling; round++) {
          for (const id of compared) {
            const r = await attempt(runs, id, 'cold load by size', () => runColdLoadBySize(ctx, systems[id], client))
            if (r)
              log(
                `  round ${round} ${id}: ${r.sizes.map((s) => `${s.updates.toLocaleString('en-US')} updates ${s.ms.toFixed(1)} ms (received after ${s.receivedMs.toFixed(1)} ms, stored ${formatValue(s.storedBytes, 'bytes')})`).join('; ')}`,
              )
          }
        }
      } finally {
        client.close()
      }
    })
  }
  // Only the start of the trace is used from here on; the rest would only make the load generator's GC slower.
  ctx.trace.updates = ctx.trace.updates.slice(0, 5_000)
  if (selected.has('relay')) {
    await section('relay', async () => {
      const { keystrokesPerSecond, measureMs } = plan.relay
      for (const readers of plan.relay.readers) {
        log(
          `3. relay: 1 writer at ${keystrokesPerSecond} keystrokes/s, ${readers} readers, ${measureMs / 1000} s measured`,
        )
        const runs: Runs<Awaited<ReturnType<typeof runRelay>>> = {}
        results.relay[readers] = runs
        for (let round = 1; round <= plan.rounds.relay; round++) {
          for (const id of [...compared, 'ws-relay'] as const) {
            const r = await attempt(runs, id, 'relay', () => runRelay(ctx, systems[id], readers))
            if (r)
              log(
                `  round ${round} ${id}: p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, max ${r.maxMs.toFixed(1)} ms (${r.samples} samples, ${r.missing} missing); server ${pct(r.serverCpu)}, load generator ${pct(r.loadgenCpu)}`,
              )
          }
        }
      }
    })
  }
  if (selected.has('capacity')) {
    await section('capacity', async () => {
      const c = plan.capacity
      log(
        `4. capacity: rooms of 3 (1 typing at ${c.keystrokesPerSecond}/s), doubling from ${c.startRooms} to at most ${c.maxRooms}, until p99 > ${c.p99LimitMs} ms or the server core is saturated`,
      )
      for (let round = 1; round <= plan.rounds.capacity; round++) {
        for (const id of [...compared, 'ws-relay'] as const) {
          const r = await attempt(results.capacity, id, 'capacity', () => runCapacity(ctx, systems[id]))
          if (r)
            log(
              `  round ${round} ${id}: ${r.roomsHeld} rooms (${r.clientsHeld} clients) held; stopped by ${r.stoppedBy}`,
            )
        }
      }
    })
  }
  if (selected.has('idle')) {
    await section('idle', async () => {
      log(`5. idle memory: ${plan.idle.rooms} rooms, a small document and one idle client each`)
      for (let round = 1; round <= plan.rounds.idle; round++) {
        for (const id of [...compared, 'ws-relay'] as const) {
          const r = await attempt(results.idle, id, 'idle memory', () => runIdleMemory(ctx, systems[id]))
          if (r)
            log(
              `  round ${round} ${id}: per room ${formatValue(r.perRoom.rss, 'bytes')} RSS, ${formatValue(r.perRoom.heapUsed, 'bytes')} heap; after leaving: heap ${formatValue(r.afterLeave.heapUsed - r.baseline.heapUsed, 'bytes')} over baseline (objects left by another round ${r.objects ? formatValue(r.objects.after - r.objects.before, 'bytes') : '-'}), RSS ${formatValue(r.afterLeave.rss - r.baseline.rss, 'bytes')}; unloaded after ${r.unloadMs === null ? 'n/a' : `${Math.round(r.unloadMs)} ms`}`,
            )
        }
      }
    })
  }
  if (selected.has('storm')) {
    await section('storm', async () => {
      log(
        `6. reconnect storm: ${plan.storm.clients} clients in ${plan.storm.rooms} rooms reconnect at once after a restart`,
      )
      for (let round = 1; round <= plan.rounds.storm; round++) {
        for (const id of compared) {
          const r = await attempt(results.storm, id, 'storm', () => runStorm(ctx, systems[id]))
          if (r)
            log(
              `  round ${round} ${id}: all synced after ${Math.round(r.allSyncedMs)} ms (median client ${Math.round(r.medianSyncedMs)} ms), peak RSS ${formatValue(r.peakRss, 'bytes')}, ${r.retries} retries, ${r.listenOverflows} listen overflows; server start ${Math.round(r.startMs)} ms; load generator ${pct(r.loadgenCpu)}`,
            )
        }
      }
    })
  }
  if (selected.has('awareness')) {
    await section('awareness', async () => {
      log(
        `7. awareness: ${plan.awareness.clients} idle clients with cursors in one room, ${plan.awareness.windowMs / 1000} s window`,
      )
      for (let round = 1; round <= plan.rounds.awareness; round++) {
        for (const id of compared) {
          const r = await attempt(results.awareness, id, 'awareness', () => runAwareness(ctx, systems[id]))
          if (r)
            log(
              `  round ${round} ${id}: server CPU ${(r.serverCpu * 100).toFixed(2)}%, ${Math.round(r.messagesPerSecond)} messages/s, ${r.pingsPerSecond.toFixed(1)} pings/s, ${formatValue(r.bytesPerSecond, 'bytes')}/s`,
            )
        }
      }
    })
  }
  if (selected.has('cluster')) {
    const { readers, instances } = plan.cluster
    log(
      `8. cluster: ours and Hocuspocus as 1 and ${Math.max(...instances)} instances on Redis and PostgreSQL; relay with the ${readers} readers on another instance than the writer, capacity with clients spread round-robin`,
    )
    let services: ClusterServices | null = null
    try {
      services = await startClusterServices()
      results.versions['Redis (cluster)'] = services.redisVersion
      results.versions['PostgreSQL (cluster)'] = services.postgresVersion
    } catch (err) {
      results.cluster.error = err instanceof Error ? err.message : String(err)
      log(`  cluster FAILED: Redis or PostgreSQL could not be started: ${results.cluster.error.split('\n')[0]}`)
    }
    if (services) {
      const running = services
      try {
        await section(
          'cluster',
          async () => {
            for (let round = 1; round <= plan.rounds.clusterRelay; round++) {
              for (const count of instances) {
                const runs: Runs<Awaited<ReturnType<typeof runRelay>>> = results.cluster.relay[count] ?? {}
                results.cluster.relay[count] = runs
                for (const id of clusterSystems.filter((system) => compared.includes(system))) {
                  const layout = {
                    launch: clusterLauncher(running, count),
                    writerInstance: 0,
                    readerInstance: count - 1,
                  }
                  const r = await attempt(runs, id, `relay on ${count} instances`, () =>
                    runRelay(ctx, systems[id], readers, layout),
                  )
                  if (r)
                    log(
                      `  relay round ${round}, ${count === 1 ? '1 instance' : `readers on instance 2 of ${count}, writer on 1`}, ${id}: p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, max ${r.maxMs.toFixed(1)} ms (${r.samples} samples, ${r.missing} missing${r.missing > 0 ? ', unexplained: no server exited and no connection closed' : ''}); instances ${pct(r.serverCpu)}, Redis + PostgreSQL ${pct(r.servicesCpu)}`,
                    )
                }
              }
            }
            for (let round = 1; round <= plan.rounds.clusterCapacity; round++) {
              for (const layout of plan.cluster.capacity) {
                const label = clusterLayoutLabel(layout)
                const runs: Runs<Awaited<ReturnType<typeof runCapacity>>> = results.cluster.capacity[label] ?? {}
                results.cluster.capacity[label] = runs
                for (const id of clusterSystems.filter((system) => compared.includes(system))) {
                  const r = await attempt(runs, id, `capacity, ${label}`, () =>
                    runCapacity(ctx, systems[id], clusterLauncher(running, layout.instances), layout.placement),
                  )
                  if (r)
                    log(
                      `  capacity round ${round}, ${label}, ${id}: ${r.roomsHeld} rooms (${r.clientsHeld} clients) held; stopped by ${r.stoppedBy}`,
                    )
                }
              }
            }
          },
          running.cpuSeconds,
        )
      } finally {
        await running.close()
      }
    }
  }
  /** The workloads about ours's limits measure it with its default limits; the peers have no such limits. */
  const withDefaultLimits = (id: SystemId): SystemSpec => (id === 'ours' ? oursWithDefaultLimits : systems[id])
  if (selected.has('fast-client')) {
    await section('fast-client', async () => {
      log(
        `9. fast client: a stock client sends the first ${plan.fastClient.updates.toLocaleString('en-US')} updates at once, another holds the text (ours with default limits)`,
      )
      for (let round = 1; round <= plan.rounds.fastClient; round++) {
        for (const id of compared) {
          const r = await attempt(results.fastClient, id, 'fast client', () =>
            runFastClient(ctx, withDefaultLimits(id)),
          )
          if (r) {
            const closes = r.senderCloses.map((c) => `${c.code} ${c.reason}`.trim()).join('; ') || 'none'
            log(
              `  round ${round} ${id}: ${r.updates.toLocaleString('en-US')} updates, other client holds the text after ${r.relayMs === null ? `never (${r.receivedChars}/${r.expectedChars} characters)` : `${Math.round(r.relayMs)} ms`}; sender's replay ${Math.round(r.replayMs)} ms; sender closed: ${closes}; other client closed ${r.receiverCloses.length} times`,
            )
          }
        }
      }
    })
  }
  if (selected.has('flood')) {
    await section('flood', async () => {
      const f = plan.flood
      log(
        `10. flood: keystrokes every ${f.everyMs} ms in the flooded room and another, ${f.windowMs / 1000} s without and ${f.windowMs / 1000} s with one connection flooding (ours with default limits)`,
      )
      let flooder = startFlooder()
      try {
        for (let round = 1; round <= plan.rounds.flood; round++) {
          for (const id of compared) {
            const r = await attempt(results.flood, id, 'flood', () => runFlood(ctx, withDefaultLimits(id), flooder))
            if (!r) {
              flooder.close()
              flooder = startFlooder()
              continue
            }
            const p = (x: { p50Ms: number; p99Ms: number }) => `${x.p50Ms.toFixed(1)}/${x.p99Ms.toFixed(1)}`
            log(
              `  round ${round} ${id}: p50/p99 ms quiet -> flooded: ${floodRooms.map((room) => `${room} ${p(r.quiet[room])} -> ${p(r.flooded[room])} (${r.flooded[room].unarrived} unarrived)`).join(', ')}; flood ${r.floodUpdates.toLocaleString('en-US')} updates, applied in ${(r.floodAppliedMs / 1000).toFixed(1)} s, ${Math.round(r.floodAppliedPerSecond).toLocaleString('en-US')}/s${r.floodAppliedMs < f.windowMs ? ' (the flood ended within the window)' : ''}${r.flooderClosed ? `, flooder closed: ${r.flooderClosed}` : ''}; server CPU ${pct(r.serverCpu.quiet)} -> ${pct(r.serverCpu.flooded)}`,
            )
          }
        }
      } finally {
        flooder.close()
      }
    })
  }
  if (selected.has('ot')) {
    await section('ot', async () => {
      const o = plan.ot
      log(
        `11. OT (@codemirror/collab), ours only: ${o.pushClients} clients pushing one-character updates up to ${o.maxLag} versions behind on a ${formatValue(o.docChars, 'bytes')} document; ${o.echoClients} clients typing every ${o.typeEveryMs} ms; relay with ${o.relayReaders} readers on a document no OT client opened`,
      )
      for (let round = 1; round <= plan.rounds.ot; round++) {
        const pushes = await attempt(results.ot.pushes, 'ours', 'OT pushes', () => runOtPushes(ctx, systems.ours))
        if (pushes)
          log(
            `  round ${round} ours, pushes: ${Math.round(pushes.entriesPerSecond).toLocaleString('en-US')} entries/s accepted (${pushes.entries.toLocaleString('en-US')} in ${(pushes.windowMs / 1000).toFixed(1)} s; ${Math.round(pushes.pushesPerSecond).toLocaleString('en-US')} pushes/s acknowledged), based ${pushes.lag.mean.toFixed(0)} versions behind on average (max ${pushes.lag.max}), ${pushes.updatesPerPush.toFixed(1)} updates per push, push to saved p50 ${pushes.pushAckP50Ms.toFixed(2)} ms p99 ${pushes.pushAckP99Ms.toFixed(2)} ms; all ${pushes.clients} texts equal at version ${pushes.finalVersion.toLocaleString('en-US')}; server ${pct(pushes.serverCpu)}, load generator ${pct(pushes.loadgenCpu)}`,
          )
        const echo = await attempt(results.ot.echo, 'ours', 'OT echo', () => runOtEcho(ctx, systems.ours))
        if (echo)
          log(
            `  round ${round} ours, echo with ${echo.clients} clients: p50 ${echo.echoP50Ms.toFixed(2)} ms, p99 ${echo.echoP99Ms.toFixed(2)} ms, max ${echo.echoMaxMs.toFixed(1)} ms (${echo.pushes} pushes, ${echo.multiUpdatePushes} carrying more than one keystroke, ${echo.missingEchoes} missing); delivery to the others p50 ${echo.deliveryP50Ms.toFixed(2)} ms, p99 ${echo.deliveryP99Ms.toFixed(2)} ms (${echo.deliveries.toLocaleString('en-US')} samples, ${echo.missingDeliveries} missing); server ${pct(echo.serverCpu)}, load generator ${pct(echo.loadgenCpu)}`,
          )
        const relay = await attempt(results.ot.yjsOnly, 'ours', 'relay on a Yjs-only document', () =>
          runRelay(ctx, systems.ours, o.relayReaders),
        )
        if (relay)
          log(
            `  round ${round} ours, Yjs-only document (no OT log), 1 writer, ${o.relayReaders} readers: p50 ${relay.p50Ms.toFixed(2)} ms, p99 ${relay.p99Ms.toFixed(2)} ms, max ${relay.maxMs.toFixed(1)} ms (${relay.samples} samples, ${relay.missing} missing); server ${pct(relay.serverCpu)}`,
          )
      }
    })
  }
  if (selected.has('recovery')) {
    await section('recovery', async () => {
      const v = plan.recovery
      log(
        `12. recovery: ${v.rooms} rooms of 3 typing at ${v.keystrokesPerSecond}/s, then ${v.overloadFactor}x as fast for ${v.overloadMs / 1000} s, then latency by ${v.bucketMs} ms of send time for ${v.afterMs / 1000} s`,
      )
      for (let round = 1; round <= plan.rounds.recovery; round++) {
        for (const id of compared) {
          const r = await attempt(results.recovery, id, 'recovery', () => runRecovery(ctx, systems[id]))
          if (!r) continue
          const p = (x: { p50Ms: number; p99Ms: number }) => `${x.p50Ms.toFixed(1)}/${x.p99Ms.toFixed(1)}`
          log(
            `  round ${round} ${id}: p50/p99 ms before ${p(r.baseline)}, overload (${r.overload.keystrokesPerSecond.toLocaleString('en-US')} keystrokes/s, server CPU ${pct(r.overload.serverCpu)}) ${p(r.overload)}, after: ${r.after.map((b) => `${(b.fromMs / 1000).toFixed(1)} s ${p(b)}`).join(', ')}; from ${settledAfterMs / 1000} s on ${p(r.settled)}; ${r.recoveredMs === null ? 'not back' : `p99 back within ${r.boundMs.toFixed(1)} ms from ${(r.recoveredMs / 1000).toFixed(1)} s on`}`,
          )
        }
      }
    })
  }
  if (selected.has('scaling')) {
    await section('scaling', async () => {
      const c = plan.scaling
      log(
        `13. scaling: rooms of 3 typing at ${c.keystrokesPerSecond}/s at ${c.factors.map((f) => c.baseRooms * f).join(', ')} rooms; server CPU per 1,000 deliveries a second at each`,
      )
      for (let round = 1; round <= plan.rounds.scaling; round++) {
        for (const id of compared) {
          const r = await attempt(results.scaling, id, 'scaling', () => runScaling(ctx, systems[id]))
          if (r)
            log(
              `  round ${round} ${id}: ${r.levels.map((l) => `${l.rooms} rooms ${Math.round(l.deliveriesPerSecond).toLocaleString('en-US')} deliveries/s, CPU ${pct(l.serverCpu)} (${l.cpuPer1000Deliveries.toFixed(1)}% per 1,000/s), p99 ${l.p99Ms.toFixed(1)} ms`).join('; ')}`,
            )
        }
      }
    })
  }
  if (selected.has('http-transport')) {
    await section('http-transport', async () => {
      const h = plan.httpTransport
      log(
        `15. HTTP transport, ours only: 1 WebSocket writer typing ${h.keystrokesPerSecond}/s to ${h.readers} readers on HTTP (poll wait 20 s), then on WebSocket; then ${h.docs} documents of ${h.clientsPerDoc} clients (1 typing ${h.costKeystrokesPerSecond}/s) all on WebSocket, then all on HTTP: server CPU per 1,000 deliveries a second`,
      )
      const runs = results.httpTransport ?? {}
      results.httpTransport = runs
      for (let round = 1; round <= plan.rounds.httpTransport; round++) {
        const r = await attempt(runs, 'ours', 'http transport', () => runHttpTransport(ctx, systems.ours))
        if (!r) continue
        for (const t of ['http', 'websocket'] as const) {
          const d = r.delivery[t]
          const c = r.cost[t]
          log(
            `  round ${round} ours, ${t === 'http' ? 'HTTP' : 'WebSocket'}: delivery to ${d.readers} readers p50 ${d.p50Ms.toFixed(1)} ms, p99 ${d.p99Ms.toFixed(1)} ms, max ${d.maxMs.toFixed(1)} ms (${d.samples} samples, ${d.missing} missing, server ${pct(d.serverCpu)}); ${c.clients} clients ${Math.round(c.deliveriesPerSecond).toLocaleString('en-US')} deliveries/s, CPU ${pct(c.serverCpu)} (${c.cpuPer1000Deliveries.toFixed(1)}% per 1,000/s), p50/p99 ${c.p50Ms.toFixed(1)}/${c.p99Ms.toFixed(1)} ms${t === 'http' ? `, ${Math.round(c.requestsPerSecond).toLocaleString('en-US')} requests/s` : ''}`,
          )
        }
      }
    })
  }
  if (selected.has('browser')) {
    let session: BrowserSession | null = null
    await section(
      'browser',
      async () => {
        const b = plan.browser
        log(
          `16. browser: one Chromium tab types ${b.keystrokes} characters ${b.delayMs} ms apart, another (another browser context) timestamps each; ours is our web app, the peers CodeMirror 6 with y-codemirror.next over their stock client`,
        )
        const runs = results.browser ?? {}
        results.browser = runs
        try {
          session = await startBrowserSession(ctx)
        } catch (err) {
          // No Chromium (or no page): every system's measurement fails with the cause, as any failed measurement.
          for (const id of compared) {
            await attempt(runs, id, 'browser', () => Promise.reject(err))
          }
          return
        }
        try {
          for (let round = 1; round <= plan.rounds.browser; round++) {
            for (const id of compared) {
              const open = session
              const r = await attempt(runs, id, 'browser', () => runBrowser(ctx, systems[id], open))
              if (r)
                log(
                  `  round ${round} ${id}: keystroke to the other tab p50 ${r.p50Ms.toFixed(1)} ms, p95 ${r.p95Ms.toFixed(1)} ms, max ${r.maxMs.toFixed(1)} ms (${r.keystrokes} keystrokes; tabs' clocks ${r.clockOffsetMs.toFixed(1)} ± ${r.clockUncertaintyMs.toFixed(1)} ms apart, corrected); server ${pct(r.serverCpu)}`,
                )
            }
          }
        } finally {
          await session.close()
        }
      },
      () => session?.cpuSeconds() ?? 0,
    )
  }
} finally {
  rmSync(workDir, { recursive: true, force: true })
}

results.durationSeconds = Math.round((performance.now() - runStarted) / 1000)
clearInterval(loadSampler)
loadSamples.push(loadAverage())
results.machine.loadAverage = {
  min: Math.min(...loadSamples),
  median: Math.round(median(loadSamples) * 100) / 100,
  max: Math.max(...loadSamples),
}
const rows = metricRows(results)
const table = markdownTable(rows)
mkdirSync(resultsDir, { recursive: true })
const jsonPath = join(resultsDir, `${results.date}${suffix}.json`)
const svgPath = join(resultsDir, `${results.date}${suffix}.svg`)
writeFileSync(jsonPath, `${JSON.stringify({ ...results, table: rows }, null, 2)}\n`)
const subtitle = `${results.date} · ${results.machine.cpus} cores (${results.machine.cpuModel}) · Node ${results.machine.node} · ${plan.quick ? 'quick run' : 'full run'}, medians of up to ${Math.max(...Object.values(plan.rounds))} repetitions · trace ${trace.name}`
writeFileSync(svgPath, renderChart(rows, 'Collab server vs y-websocket-server vs Hocuspocus', subtitle))
console.log(`\n${table}\n`)
console.log(`results: ${jsonPath}\nchart:   ${svgPath}`)
if (suffix === '') updateReadme(table, results)
log(
  `done in ${results.durationSeconds} s; 1-minute load average ${results.machine.loadAverage.min}-${results.machine.loadAverage.max} (median ${results.machine.loadAverage.median})`,
)

/** Replaces the results block of bench/README.md with this run's table. */
function updateReadme(markdown: string, r: RunResults): void {
  const readmePath = join(benchRoot, 'README.md')
  const start = '<!-- results:start -->'
  const end = '<!-- results:end -->'
  const readme = readFileSync(readmePath, 'utf8')
  const from = readme.indexOf(start)
  const to = readme.indexOf(end)
  if (from < 0 || to < from) {
    console.log(`README.md has no ${start} ... ${end} block; not updated`)
    return
  }
  const versions = Object.entries(r.versions)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ')
  const block = [
    start,
    '',
    `Run of ${r.date}: ${r.machine.cpus} cores (${r.machine.cpuModel}), Node ${r.machine.node}, ${r.machine.pinned ? 'servers on core 0 and the load generator on core 1 (taskset)' : 'not pinned'}, priority ${r.machine.priority}; ${r.durationSeconds} s in all. ${versions}.`,
    `Other processes on the machine used, in cores: ${Object.entries(r.machine.otherProcessesCpu)
      .map(([w, cores]) => `${w} ${cores.toFixed(2)}`)
      .join(', ')} (1-minute load average ${r.machine.loadAverage.min}-${r.machine.loadAverage.max}).`,
    `Medians over repetitions (rounds: ${Object.entries(r.plan.rounds)
      .map(([w, n]) => `${w} ${n}`)
      .join(
        ', ',
      )}); ratios are ours / peer: ✓ where ours is better, ✗ where it is worse, ≈ within 2%. Raw figures: [results/${r.date}.json](results/${r.date}.json).`,
    '',
    `![ours vs peers](results/${r.date}.svg)`,
    '',
    markdown,
    '',
    end,
  ].join('\n')
  writeFileSync(readmePath, readme.slice(0, from) + block + readme.slice(to + end.length))
  console.log(`README.md updated`)
}
