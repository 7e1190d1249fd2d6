import { encodeSyncStep1 } from '@collab/protocol'
import { MemoryDocStore } from '@collab/storage'
import { waitFor } from '@collab/test-support'
import { afterEach, describe, expect, it } from 'vitest'
import { Bystanders, describeLatency, worst } from './support/bystanders.js'
import { createFaultClient } from './support/clients.js'
import { startInProcessServer } from './support/in-process.js'
import { openRawClient } from './support/raw-client.js'
import { report } from './support/report.js'
import { mb } from './support/server-health.js'
import {
  besiege,
  bystanderLatencyLimitMs,
  expectBystandersUnharmed,
  outcomeFigures,
  startSiege,
} from './support/siege.js'
import { Teardown } from './support/teardown.js'
import { sleep, waitOrNull } from './support/timing.js'

// Issue 13, finding 2: a client that never reads its socket asked 1,500 times for a 2 MiB document (6 KB sent in
// all). The server encoded and queued a full answer for each: RSS 111 MB -> 4 GB and a 20 s stall for everyone.
// Every connection needs a bound on what is queued for it; over it, the connection is not answered further, and
// one that stays over it is dropped ([LM6]).

const teardown = new Teardown()
afterEach(() => teardown.run())

const documentBytes = 2 * 1024 * 1024
const requests = 1_500
/** Sync step 1 with an empty state vector: "send me everything", 4 bytes. */
const askForEverything = encodeSyncStep1(new Uint8Array([0]))

/** Writes a `documentBytes` document through an honest client and waits until the server stored it. */
async function seedLargeDocument(serverUrl: string, doc: string): Promise<void> {
  const seeder = createFaultClient(serverUrl, doc, teardown, { name: 'seeder' })
  await waitFor('the seeder to sync', () => seeder.provider.status.connection === 'synced', 10_000)
  // Varied text, as a real document has; one insert keeps the Yjs side cheap.
  const line = 'The quick brown fox jumps over the lazy dog, 0123456789.\n'
  seeder.text.insert(0, line.repeat(Math.ceil(documentBytes / line.length)).slice(0, documentBytes))
  await waitFor('the 2 MiB document stored', () => !seeder.provider.status.unsaved, 20_000)
  seeder.destroy()
}

describe('a client that never reads (issue 13)', () => {
  it(`[LM6] ${requests} sync step 1 requests for a 2 MiB document from a paused socket: memory stays bounded, bystanders keep typing, the server stays up`, async () => {
    const siege = await startSiege(['large', 'large-elsewhere'], teardown)
    await seedLargeDocument(siege.server.wsUrl, 'large')
    const outcome = await besiege(
      siege,
      async () => {
        const attacker = await openRawClient(`${siege.server.wsUrl}/large`, teardown)
        // ws 8 pauses the socket under the WebSocket: nothing is read, so TCP stops the server's sends.
        attacker.ws.pause()
        for (let i = 0; i < requests; i++) attacker.ws.send(askForEverything)
        // The finding's stall lasted 20 s; the liveness sweep would end this connection after 6 s without pongs.
        await sleep(8_000)
      },
      { afterMs: 2_000 },
    )
    report('never-reading client', {
      requests,
      requestBytes: requests * askForEverything.length,
      documentMB: mb(documentBytes),
      ...outcomeFigures(outcome),
    })
    expectBystandersUnharmed(outcome)
  }, 90_000)

  it('[LM6] a connection whose queue stays over maxQueuedBytes for queueStallMs is dropped; the others are served', async () => {
    // In this process, to make queueStallMs short; liveness is set far out so that only the queue bound can end
    // the connection within the test.
    const queueStallMs = 1_000
    const server = await startInProcessServer(
      {
        store: new MemoryDocStore(),
        limits: { maxQueuedBytes: 1024 * 1024, queueStallMs },
        pingIntervalMs: 1_000,
        connectionTimeoutMs: 60_000,
      },
      teardown,
    )
    const bystanders = new Bystanders(server.url, ['stalled', 'stalled-elsewhere'], teardown)
    await bystanders.ready()
    await seedLargeDocument(server.url, 'stalled')
    await waitFor('the seeder gone', () => server.sync.connectionCount === 4)

    const window = await bystanders.start()
    const attacker = await openRawClient(`${server.url}/stalled`, teardown)
    attacker.ws.pause()
    const startedAt = Date.now()
    for (let i = 0; i < 100; i++) attacker.ws.send(askForEverything)
    const droppedAfterMs = await waitOrNull(
      'the never-reading connection dropped',
      () => server.sync.connectionCount === 4,
      10_000,
    )
    const latency = await window.end()
    report('never-reading client, queue stall', {
      queueStallMs,
      droppedAfterMs: droppedAfterMs ?? `not within ${Date.now() - startedAt} ms`,
      bystanders: describeLatency(latency),
    })
    expect.soft(droppedAfterMs, 'ms until the never-reading connection was dropped').not.toBeNull()
    expect.soft(droppedAfterMs ?? Number.POSITIVE_INFINITY).toBeLessThan(queueStallMs + 3_000)
    expect.soft(worst(latency).maxMs, 'slowest bystander keystroke (ms)').toBeLessThan(bystanderLatencyLimitMs)
    expect.soft(worst(latency).disconnects, 'bystander connection losses').toBe(0)
  }, 60_000)
})
