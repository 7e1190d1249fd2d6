import { mkdtempSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ClientProcess } from '../client-process.js'
import type { BenchContext } from '../context.js'
import { freePort, startSystem } from '../server-process.js'
import { sleep } from '../stats.js'
import type { StockClose } from '../stock-client.js'
import type { StockClientEvent, StockClientRequest } from '../stock-client-process.js'
import type { SystemSpec } from '../systems.js'

/** One replay of the trace's head by a stock client as fast as it can, watched by a second stock client. */
export interface FastClientResult {
  /** Updates replayed: the plan's count, or the whole trace if it is shorter. */
  updates: number
  /** The sender's own time to make every update and hand it to its socket (one task). */
  replayMs: number
  /** From the start of the replay until the other client held exactly the text; null if it never did. */
  relayMs: number | null
  expectedChars: number
  /** The text the other client held at the end. */
  receivedChars: number
  /** Every close of the sender's connection: a stock y-websocket client takes a 44xx code as final. */
  senderCloses: StockClose[]
  receiverCloses: StockClose[]
}

type StockClientProcess = ClientProcess<StockClientRequest, StockClientEvent>

const clientScript = join(dirname(fileURLToPath(import.meta.url)), '../stock-client-process.js')
/** Longest the other client may take to hold the text. */
const relayTimeoutMs = 60_000
/** Time a close may come after the text got through (the old limit struck after about 3,000 messages). */
const lateCloseMs = 500

/**
 * Fast client: the system's own client (the stock y-websocket client, or HocuspocusProvider) replays the first
 * `plan.fastClient.updates` transactions of the trace into its document all in one task, as a script replaying a
 * session does, and a second one on the same document waits for exactly that text; each client in a process of its
 * own. Times are wall-clock times of the two processes; the clock runs from just before the first update.
 */
export async function runFastClient(ctx: BenchContext, spec: SystemSpec): Promise<FastClientResult> {
  const { updates } = ctx.plan.fastClient
  const dataDir = mkdtempSync(join(ctx.workDir, `${spec.id}-fast-`))
  const server = await startSystem(spec, await freePort(), dataDir)
  const sender: StockClientProcess = new ClientProcess(clientScript)
  const receiver: StockClientProcess = new ClientProcess(clientScript)
  try {
    for (const client of [receiver, sender])
      client.send({ type: 'open', url: server.url, protocol: spec.client.protocol, name: 'fast' })
    await Promise.all([receiver.take('synced', 30_000), sender.take('synced', 30_000)])
    receiver.send({ type: 'expect', trace: ctx.trace.name, updates })
    const { chars: expectedChars } = await receiver.take('expecting', 60_000)
    sender.send({ type: 'replay', trace: ctx.trace.name, updates })
    const replayed = await sender.take('replayed', relayTimeoutMs)
    // The receiver notes the time itself; this only waits for it.
    const deadline = performance.now() + relayTimeoutMs
    let cutOffAt: number | null = null
    while (receiver.all('holds').length === 0 && performance.now() < deadline) {
      // A stock y-websocket client does not reconnect after a 44xx close: its other updates will never arrive.
      if (sender.all('close').some(({ code }) => code >= 4400 && code < 4500)) {
        cutOffAt ??= performance.now()
        if (performance.now() - cutOffAt > 1_000) break
      }
      await sleep(5)
    }
    const held = receiver.all('holds')[0]
    await sleep(lateCloseMs)
    receiver.send({ type: 'chars' })
    const { chars: receivedChars } = await receiver.take('chars', 10_000)
    const closes = (client: StockClientProcess) => client.all('close').map(({ code, reason }) => ({ code, reason }))
    return {
      updates: replayed.updates,
      replayMs: replayed.ms,
      relayMs: held === undefined ? null : held.at - replayed.startedAt,
      expectedChars,
      receivedChars,
      senderCloses: closes(sender),
      receiverCloses: closes(receiver),
    }
  } finally {
    sender.close()
    receiver.close()
    await server.stop()
  }
}
