import type { BenchContext } from '../context.js'
import { singleInstance } from '../deployment.js'
import { OtBenchClient } from '../ot-client.js'
import { paced } from '../pacer.js'
import { startCpuWindow } from '../proc-stats.js'
import { inBatches, percentile, sleep, until } from '../stats.js'
import type { SystemSpec } from '../systems.js'

/**
 * Workload 11, @codemirror/collab clients ([OT1]-[OT9] in docs/PROTOCOL.md). Ours only: neither y-websocket-server
 * nor Hocuspocus speaks an OT protocol.
 */

/** Accepted pushes of lagging clients on a large document. */
export interface OtPushResult {
  clients: number
  docChars: number
  /** Log entries (one per accepted one-character update) the clients received over the window. */
  entries: number
  windowMs: number
  /** Server-confirmed entries per second: each is one accepted update, published once stored ([OT3]). */
  entriesPerSecond: number
  /** Push messages acknowledged as stored per second, over all clients (each added one entry). */
  pushesPerSecond: number
  /** How far behind the latest version it had received each push was based, as the client saw it. */
  lag: { mean: number; max: number }
  /** Updates each push carried on average: its new one and the client's unconfirmed ones the server skips. */
  updatesPerPush: number
  /** Push sent to `saved`, over the window's pushes. */
  pushAckP50Ms: number
  pushAckP99Ms: number
  /** The version every client ended at, all texts equal (the measurement fails otherwise). */
  finalVersion: number
  serverCpu: number
  loadgenCpu: number
}

/** Push-to-echo latency of clients typing as people do, and the delivery of their entries to everyone else. */
export interface OtEchoResult {
  clients: number
  docChars: number
  pushes: number
  /** Pushes that carried more than one keystroke (typed while the previous push was in flight). */
  multiUpdatePushes: number
  echoP50Ms: number
  echoP99Ms: number
  echoMaxMs: number
  /** Entries of others' keystrokes, from just before the push that carried one to its receipt. */
  deliveries: number
  deliveryP50Ms: number
  deliveryP99Ms: number
  /** Pushes whose own entries never came back, and deliveries that never arrived (both should be 0). */
  missingEchoes: number
  missingDeliveries: number
  serverCpu: number
  loadgenCpu: number
}

/** A small deterministic generator (mulberry32), so every system and round types the same positions. */
function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** About `chars` characters of prose-like lines (up to 80 characters, "\n" between them). */
export function seedText(chars: number): string {
  const next = random(42)
  const words = ['lorem', 'ipsum', 'dolor', 'sit', 'amet', 'const', 'value', 'return', 'function', 'editor', 'the']
  const lines: string[] = []
  let length = 0
  let line = ''
  while (length + line.length < chars) {
    const word = words[Math.floor(next() * words.length)]!
    if (line.length + word.length + 1 > 80) {
      lines.push(line)
      length += line.length + 1
      line = ''
    }
    line = line ? `${line} ${word}` : word
  }
  lines.push(line)
  return lines.join('\n').slice(0, chars)
}

/** One client creates the document and pushes `text` as its first update; resolves once it is confirmed. */
async function seed(url: string, doc: string, text: string): Promise<void> {
  const writer = new OtBenchClient(url, doc)
  try {
    await writer.opened
    await writer.welcomed()
    writer.edit(0, 0, text)
    await until(() => !writer.inFlight || writer.closeCode !== null, 10_000, 'the seed push to come back')
    writer.assertOk()
  } finally {
    await writer.close()
  }
}

/** Opens `count` OT clients on `doc` and waits for their welcomes. */
async function openClients(url: string, doc: string, count: number, holdBack: boolean): Promise<OtBenchClient[]> {
  const clients = Array.from({ length: count }, () => new OtBenchClient(url, doc, holdBack))
  await inBatches(clients, 50, async (client) => {
    await client.opened
    await client.welcomed()
  })
  return clients
}

/**
 * Applies everything and checks that every client holds the same text, and that it is the one a new client is
 * welcomed with: throws otherwise. Returns the final version.
 */
async function checkConverged(url: string, doc: string, clients: OtBenchClient[], timeoutMs = 15_000): Promise<number> {
  await until(
    () => clients.every((client) => !client.inFlight || client.closeCode !== null || client.errors.length > 0),
    timeoutMs,
    'every push to end',
  )
  for (const client of clients) client.assertOk()
  // Every entry reaches every client: wait until they all hold the same version and it stays there.
  let stable = 0
  let last = -1
  await until(
    () => {
      const versions = clients.map((client) => client.receivedVersion)
      const top = Math.max(...versions)
      if (versions.every((v) => v === top) && top === last) stable++
      else stable = 0
      last = top
      return stable >= 20
    },
    timeoutMs,
    'every client to receive every entry',
    10,
  )
  for (const client of clients) {
    client.catchUp()
    client.assertOk()
    if (client.unconfirmed > 0) throw new Error(`a client still has ${client.unconfirmed} unconfirmed updates`)
  }
  const checker = new OtBenchClient(url, doc)
  try {
    await checker.opened
    await checker.welcomed()
    const expected = checker.text
    const version = checker.version
    for (const [i, client] of clients.entries()) {
      if (client.version !== version)
        throw new Error(`client ${i} is at version ${client.version}, the server at ${version}`)
      if (client.text !== expected) {
        let at = 0
        while (at < expected.length && expected[at] === client.text[at]) at++
        throw new Error(
          `client ${i}'s text differs from the server's at offset ${at} (${client.text.length} against ${expected.length} characters)`,
        )
      }
    }
    return version
  } finally {
    await checker.close()
  }
}

/**
 * Throughput of lagging clients: `clients` OT clients on a `docChars` document each insert one character at a random
 * place and push it as soon as their previous push is acknowledged ([SA1]: applied and stored), never waiting for
 * anyone else's entries. Each holds back the entries it receives and applies them all (one `receiveUpdates` each)
 * only once it is `maxLag` versions behind, so its pushes are based on versions 0 to `maxLag` behind and the server
 * rebases every one of them over the entries since ([OT4]), skipping the client's own earlier updates that the push
 * carries again. Counted: the log entries the clients received over the window (server-confirmed: an entry is sent
 * only once stored). Afterwards every client applies everything and the texts must equal the server's.
 */
export async function runOtPushes(ctx: BenchContext, spec: SystemSpec): Promise<OtPushResult> {
  const { pushClients, docChars, maxLag, warmupMs, windowMs } = ctx.plan.ot
  const deployment = await singleInstance(ctx, spec, 'ot-push')
  const url = deployment.urls[0]!
  const doc = 'ot-push'
  const clients: OtBenchClient[] = []
  try {
    await seed(url, doc, seedText(docChars))
    clients.push(...(await openClients(url, doc, pushClients, true)))
    const next = random(7)
    let typing = true
    let measuring = false
    let lagSum = 0
    let lagMax = 0
    let pushes = 0
    let updates = 0
    const ackLatencies: number[] = []
    const step = (client: OtBenchClient) => {
      if (!typing || client.closeCode !== null) return
      if (client.receivedVersion - client.version >= maxLag) client.catchUp()
      const lag = client.receivedVersion - client.version
      const at = Math.floor(next() * (client.state!.doc.length + 1))
      client.edit(at, at, 'x')
      if (measuring) {
        lagSum += lag
        lagMax = Math.max(lagMax, lag)
        pushes++
        updates += client.unconfirmed
      }
    }
    for (const client of clients) {
      client.onPushDone = (sentAt, at) => {
        if (measuring) ackLatencies.push(at - sentAt)
        step(client)
      }
    }
    for (const client of clients) step(client)
    await sleep(warmupMs)
    const server = deployment.instances[0]!
    const serverCpu = startCpuWindow(server.pid)
    const loadgenCpu = startCpuWindow()
    const observer = clients[0]!
    const startVersion = observer.receivedVersion
    const startSaved = clients.reduce((sum, client) => sum + client.saved, 0)
    const started = performance.now()
    measuring = true
    await sleep(windowMs)
    measuring = false
    const elapsed = performance.now() - started
    const entries = observer.receivedVersion - startVersion
    const acked = clients.reduce((sum, client) => sum + client.saved, 0) - startSaved
    const serverFraction = serverCpu().fraction
    const loadgen = loadgenCpu().fraction
    typing = false
    for (const client of clients) client.assertOk()
    const finalVersion = await checkConverged(url, doc, clients)
    // Every version after the seed is one inserted character.
    const text = clients[0]!.text
    if (text.length !== docChars + finalVersion - 1) {
      throw new Error(
        `the text has ${text.length} characters after ${finalVersion - 1} one-character inserts on ${docChars}`,
      )
    }
    return {
      clients: pushClients,
      docChars,
      entries,
      windowMs: elapsed,
      entriesPerSecond: (entries * 1000) / elapsed,
      pushesPerSecond: (acked * 1000) / elapsed,
      lag: { mean: pushes > 0 ? lagSum / pushes : Number.NaN, max: lagMax },
      updatesPerPush: pushes > 0 ? updates / pushes : Number.NaN,
      pushAckP50Ms: percentile(ackLatencies, 50),
      pushAckP99Ms: percentile(ackLatencies, 99),
      finalVersion,
      serverCpu: serverFraction,
      loadgenCpu: loadgen,
    }
  } finally {
    for (const client of clients) client.ws.terminate()
    await deployment.stop()
  }
}

/**
 * Push-to-echo latency: `echoClients` OT clients on one `docChars` document, each typing one character every
 * `typeEveryMs` (their phases spread evenly) and following the log as our editor does: every entry applied as it
 * arrives, one push in flight, and what was typed meanwhile pushed when the client's own entry comes back. Echo:
 * from just before a push is sent until its own entries come back; delivery: from just before the push that carried
 * a keystroke until each other client receives its entry. The first `echoWarmupMs` are not counted.
 */
export async function runOtEcho(ctx: BenchContext, spec: SystemSpec): Promise<OtEchoResult> {
  const { echoClients, docChars, typeEveryMs, echoWarmupMs, echoMeasureMs } = ctx.plan.ot
  const deployment = await singleInstance(ctx, spec, 'ot-echo')
  const url = deployment.urls[0]!
  const doc = 'ot-echo'
  const clients: OtBenchClient[] = []
  try {
    await seed(url, doc, seedText(docChars))
    clients.push(...(await openClients(url, doc, echoClients, false)))
    const indexOf = new Map(clients.map((client, i) => [client.clientID!, i]))
    /** Per client, when the push carrying each of its keystrokes was sent (by keystroke number). */
    const keystrokeSentAt = clients.map(() => [] as number[])
    /** Per receiving client and sender, the sender's entries received so far. */
    const seen = clients.map(() => new Uint32Array(clients.length))
    let measureFrom = Number.POSITIVE_INFINITY
    let measureTo = Number.POSITIVE_INFINITY
    const counted = (sentAt: number) => sentAt >= measureFrom && sentAt < measureTo
    const echoes: number[] = []
    const deliveries: number[] = []
    let pushes = 0
    let multiUpdatePushes = 0
    for (const [i, client] of clients.entries()) {
      client.onPushSent = (sentAt, count) => {
        for (let k = 0; k < count; k++) keystrokeSentAt[i]!.push(sentAt)
        if (!counted(sentAt)) return
        pushes++
        if (count > 1) multiUpdatePushes++
      }
      client.onPushDone = (sentAt, at) => {
        if (counted(sentAt)) echoes.push(at - sentAt)
      }
      client.onEntry = (entry, _version, at) => {
        const from = indexOf.get(entry.clientID)
        if (from === undefined || from === i) return
        const sentAt = keystrokeSentAt[from]![seen[i]![from]!++]
        if (sentAt !== undefined && counted(sentAt)) deliveries.push(at - sentAt)
      }
    }
    await sleep(300)
    const next = random(11)
    const intervalMs = typeEveryMs / echoClients
    const warmupTicks = Math.round(echoWarmupMs / intervalMs)
    const total = warmupTicks + Math.round(echoMeasureMs / intervalMs)
    const server = deployment.instances[0]!
    let serverCpu = () => ({ fraction: 0 })
    let loadgenCpu = () => ({ fraction: 0 })
    await paced(intervalMs, total, (tick) => {
      if (tick === warmupTicks) {
        measureFrom = performance.now()
        serverCpu = startCpuWindow(server.pid)
        loadgenCpu = startCpuWindow()
      }
      const client = clients[tick % echoClients]!
      if (client.closeCode !== null || !client.state) return
      const at = Math.floor(next() * (client.state.doc.length + 1))
      client.edit(at, at, 'x')
    })
    measureTo = performance.now()
    const serverFraction = serverCpu().fraction
    const loadgen = loadgenCpu().fraction
    for (const client of clients) client.assertOk()
    await checkConverged(url, doc, clients)
    // Every keystroke typed in the window, at every other client.
    let expectedDeliveries = 0
    for (const sent of keystrokeSentAt) for (const at of sent) if (counted(at)) expectedDeliveries += echoClients - 1
    return {
      clients: echoClients,
      docChars,
      pushes,
      multiUpdatePushes,
      echoP50Ms: percentile(echoes, 50),
      echoP99Ms: percentile(echoes, 99),
      echoMaxMs: percentile(echoes, 100),
      deliveries: deliveries.length,
      deliveryP50Ms: percentile(deliveries, 50),
      deliveryP99Ms: percentile(deliveries, 99),
      missingEchoes: pushes - echoes.length,
      missingDeliveries: expectedDeliveries - deliveries.length,
      serverCpu: serverFraction,
      loadgenCpu: loadgen,
    }
  } finally {
    for (const client of clients) client.ws.terminate()
    await deployment.stop()
  }
}
