import { createRandom, loadTrace, startServerProcess, TcpProxy, waitFor } from '@collab/test-support'
import { afterEach, describe, expect, it } from 'vitest'
import { converged, createFaultClient, startTyping } from './support/clients.js'
import { report } from './support/report.js'
import { countMissing, readStoredDoc } from './support/stored.js'
import { Teardown, tempDir } from './support/teardown.js'
import { sleep } from './support/timing.js'

// A slow, jittery, lossy link (mobile data, a congested hotel Wi-Fi): TCP still delivers every byte in order,
// but late, in bursts and in fragments. Nothing may be lost or duplicated and everyone must converge.

const teardown = new Teardown()
afterEach(() => teardown.run())

const seed = Number(process.env.FAULTS_SEED ?? Math.floor(Math.random() * 2 ** 31))

describe('slow and lossy link', () => {
  it(`three clients typing through latency, jitter, loss and fragmentation converge with everything saved (seed ${seed})`, async () => {
    const dataDir = tempDir(teardown)
    const server = await startServerProcess({ dataDir, args: ['--log-level', 'warn'] })
    teardown.defer(() => server.stop('SIGKILL'))
    const proxy = await new TcpProxy(server.port).listen()
    teardown.defer(() => proxy.close())
    proxy.random = createRandom(seed)
    // 80 ms each way plus up to 120 ms of jitter; one chunk in 20 waits for a 200 ms retransmission; frames
    // arrive in pieces of at most 64 bytes.
    const conditions = { latencyMs: 80, jitterMs: 120, lossRate: 0.05, retransmitMs: 200, maxChunkBytes: 64 }
    proxy.impair(conditions)
    const trace = loadTrace('sveltecomponent')
    const random = createRandom(seed)
    const clients = ['ada', 'grace', 'linus'].map((name) =>
      createFaultClient(`ws://127.0.0.1:${proxy.port}`, 'lossy', teardown, { name }),
    )
    await waitFor('the clients to sync through the slow link', () => converged(clients), 15_000)

    const stops = clients.map((c, i) =>
      startTyping(c.text, trace, 1 + Math.floor(random() * (trace.txns.length - 1)), 8 + 4 * i),
    )
    await sleep(3_000)
    for (const stop of stops) stop()
    const stoppedAt = Date.now()
    await waitFor('convergence with everything saved', () => converged(clients), 20_000)
    const convergedMs = Date.now() - stoppedAt

    let missing = 0
    for (const client of clients) {
      for (const other of clients) if (other !== client) missing += countMissing(client.doc, other.localUpdates)
    }
    expect(missing).toBe(0)
    expect(await server.stop('SIGTERM')).toBe(0)
    const stored = await readStoredDoc(dataDir, 'lossy')
    const lostOnDisk = clients.reduce((sum, c) => sum + countMissing(stored, c.localUpdates), 0)
    const storedText = stored.getText('codemirror').toString()
    stored.destroy()
    expect(lostOnDisk).toBe(0)
    expect(storedText).toBe(clients[0]!.text.toString())
    report('lossy link', {
      seed,
      ...conditions,
      edits: clients.reduce((sum, c) => sum + c.localUpdates.length, 0),
      convergedAfterTypingStoppedMs: convergedMs,
      editsLost: missing + lostOnDisk,
    })
  }, 60_000)
})
