import { createRandom, loadTrace, startServerProcess, waitFor } from '@collab/test-support'
import { afterEach, describe, expect, it } from 'vitest'
import { converged, createFaultClient, startTyping } from './support/clients.js'
import { report } from './support/report.js'
import { countMissing, readStoredDoc } from './support/stored.js'
import { Teardown, tempDir } from './support/teardown.js'
import { sleep } from './support/timing.js'

// A deploy stops the server with SIGTERM while people type: it must stop accepting, flush every document, close
// connections with 1001 and exit 0, with everything it acknowledged on disk. What it had not acknowledged yet
// comes back with the clients.

const teardown = new Teardown()
afterEach(() => teardown.run())

const seed = Number(process.env.FAULTS_SEED ?? Math.floor(Math.random() * 2 ** 31))

describe('graceful shutdown under load', () => {
  it(`SIGTERM while three clients type: exit 0, every acknowledged edit stored, nothing lost after restart (seed ${seed})`, async () => {
    const dataDir = tempDir(teardown)
    let server = await startServerProcess({ dataDir, args: ['--log-level', 'warn'] })
    teardown.defer(() => server.stop('SIGKILL'))
    const port = server.port
    const trace = loadTrace('sveltecomponent')
    const random = createRandom(seed)
    const backoff = { baseMs: 50, maxMs: 250 }
    const clients = ['ada', 'grace', 'linus'].map((name) =>
      createFaultClient(server.wsUrl, 'shutdown', teardown, { name, backoff }),
    )
    await waitFor('the clients to sync', () => converged(clients), 10_000)
    const stops = clients.map((c, i) =>
      startTyping(c.text, trace, 1 + Math.floor(random() * (trace.txns.length - 1)), 4 + 2 * i),
    )
    try {
      await sleep(300 + random() * 700)
      const ackedAtSignal = clients.reduce((sum, c) => sum + c.acked, 0)
      const signalledAt = Date.now()
      const code = await server.stop('SIGTERM')
      const shutdownMs = Date.now() - signalledAt
      expect(code).toBe(0)

      // Acknowledgements that arrived after the signal (the server flushing what it had) are promises too.
      const acked = clients.map((c) => c.localUpdates.slice(0, c.acked))
      const stored = await readStoredDoc(dataDir, 'shutdown')
      const lostAcknowledged = acked.reduce((sum, updates) => sum + countMissing(stored, updates), 0)
      stored.destroy()
      expect(lostAcknowledged).toBe(0)

      server = await startServerProcess({ dataDir, port, args: ['--log-level', 'warn'] })
      const restartedAt = Date.now()
      await waitFor('every client back', () => clients.every((c) => c.provider.status.connection === 'synced'), 10_000)
      const resyncMs = Date.now() - restartedAt
      for (const stop of stops) stop()
      await waitFor('convergence with everything saved', () => converged(clients), 10_000)
      let lost = 0
      for (const client of clients) {
        for (const other of clients) if (other !== client) lost += countMissing(client.doc, other.localUpdates)
      }
      expect(lost).toBe(0)
      report('graceful shutdown', {
        seed,
        exitCode: code,
        shutdownMs,
        acknowledgedAtSignal: ackedAtSignal,
        acknowledgedChecked: acked.reduce((sum, updates) => sum + updates.length, 0),
        acknowledgedLost: lostAcknowledged,
        resyncMs,
        edits: clients.reduce((sum, c) => sum + c.localUpdates.length, 0),
        editsLost: lost,
      })
    } finally {
      for (const stop of stops) stop()
    }
  })
})
