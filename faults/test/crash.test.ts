import { createRandom, loadTrace, type ServerProcess, startServerProcess, waitFor } from '@collab/test-support'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { converged, createFaultClient, type FaultClient, startTyping } from './support/clients.js'
import { report } from './support/report.js'
import { countMissing, readStoredDoc } from './support/stored.js'
import { Teardown, tempDir } from './support/teardown.js'
import { sleep } from './support/timing.js'

// kill -9 of the server while three people type: nothing it acknowledged may be lost, and once the clients are
// back, nothing they typed may be lost either (guarantees 1 and 2 of docs/OPERATIONS.md, "Durability").

const rounds = 20
/** Replays a failing run: `FAULTS_SEED=<seed> npm test -w @collab/faults`. */
const baseSeed = Number(process.env.FAULTS_SEED ?? Math.floor(Math.random() * 2 ** 31))
const docName = 'crash'
const trace = loadTrace('sveltecomponent')
// Short reconnect delays keep twenty rounds within seconds; the delays themselves are the provider's business
// and tested there. What this test measures is what survives.
const backoff = { baseMs: 50, maxMs: 250 }

const teardown = new Teardown()
let dataDir: string
let server: ServerProcess
let port: number
let clients: FaultClient[]
const totals = { acknowledgedAtLastKill: 0, acknowledgedLost: 0, editsChecked: 0, recoveryMs: [] as number[] }

beforeAll(async () => {
  console.log(`[faults] crash: base seed ${baseSeed} (replay with FAULTS_SEED=${baseSeed})`)
  dataDir = tempDir(teardown)
  server = await startServerProcess({ dataDir, args: ['--log-level', 'warn'] })
  port = server.port
  teardown.defer(() => server.stop('SIGKILL'))
  clients = ['ada', 'grace', 'linus'].map((name) =>
    createFaultClient(server.wsUrl, docName, teardown, { name, backoff }),
  )
  await waitFor('the clients to sync', () => converged(clients), 10_000)
})

afterAll(() => teardown.run())

describe('kill -9 of the server while three clients type', () => {
  for (let round = 0; round < rounds; round++) {
    const seed = baseSeed + round
    it(`round ${round + 1}/${rounds} (seed ${seed}): acknowledged edits survive, all edits arrive, clients converge`, async () => {
      const random = createRandom(seed)
      // A round that failed half-way may have left the server down.
      if (server.child.exitCode !== null || server.child.signalCode !== null) {
        server = await startServerProcess({ dataDir, port, args: ['--log-level', 'warn'] })
      }
      // Each client types its own stretch of the trace, one transaction every 4, 6 or 8 ms.
      const stops = clients.map((client, i) =>
        startTyping(client.text, trace, 1 + Math.floor(random() * (trace.txns.length - 1)), 4 + i * 2),
      )
      try {
        const typingAt = Date.now()
        await sleep(50 + random() * 900)
        const killedAt = Date.now()
        await server.stop('SIGKILL')

        // What the server acknowledged before it died must be on disk, whatever it was doing. Acknowledgements
        // still in the socket buffers when it died were sent after the write, so they count too.
        const acked = clients.map((client) => client.localUpdates.slice(0, client.acked))
        const stored = await readStoredDoc(dataDir, docName)
        const lost = acked.map((updates) => countMissing(stored, updates))
        const checked = acked.reduce((sum, updates) => sum + updates.length, 0)
        stored.destroy()
        totals.acknowledgedAtLastKill = checked
        totals.acknowledgedLost += lost.reduce((a, b) => a + b, 0)
        expect(lost, `seed ${seed}: acknowledged updates missing after kill -9, per client`).toEqual([0, 0, 0])

        // The clients keep typing while the server is down, then find it again on the same port.
        server = await startServerProcess({ dataDir, port, args: ['--log-level', 'warn'] })
        const restartedAt = Date.now()
        await waitFor(
          'every client to resync',
          () => clients.every((c) => c.provider.status.connection === 'synced'),
          10_000,
        )
        const recoveryMs = Date.now() - restartedAt
        totals.recoveryMs.push(recoveryMs)
        for (const stop of stops) stop()
        await waitFor('the clients to converge with everything saved', () => converged(clients), 10_000)

        // Every update any client made, acknowledged or not before the kill, is now in every client's document.
        let missing = 0
        let edits = 0
        for (const client of clients) {
          for (const other of clients) {
            if (other !== client) missing += countMissing(client.doc, other.localUpdates)
          }
          edits += client.localUpdates.length
        }
        totals.editsChecked = edits
        expect(missing, `seed ${seed}: edits missing from some client after reconnecting`).toBe(0)
        report(`crash round ${round + 1}`, {
          seed,
          killAfterMs: killedAt - typingAt,
          acknowledgedChecked: checked,
          acknowledgedLost: lost.reduce((a, b) => a + b, 0),
          serverDownMs: restartedAt - killedAt,
          resyncMs: recoveryMs,
          editsSoFar: edits,
        })
      } finally {
        for (const stop of stops) stop()
      }
    })
  }

  it('after the last round, the stored document holds every edit of every client', async () => {
    const code = await server.stop('SIGTERM')
    expect(code).toBe(0)
    const stored = await readStoredDoc(dataDir, docName)
    const missing = clients.reduce((sum, client) => sum + countMissing(stored, client.localUpdates), 0)
    const text = stored.getText('codemirror').toString()
    stored.destroy()
    expect(missing).toBe(0)
    expect(text).toBe(clients[0]!.text.toString())
    const recovery = [...totals.recoveryMs].sort((a, b) => a - b)
    report('crash (kill -9) summary', {
      rounds,
      baseSeed,
      // Every kill rechecks every update acknowledged so far, from the first round on.
      acknowledgedCheckedAtLastKill: totals.acknowledgedAtLastKill,
      acknowledgedLost: totals.acknowledgedLost,
      editsChecked: totals.editsChecked,
      editsLost: missing,
      resyncMsMedian: recovery[Math.floor(recovery.length / 2)] ?? 0,
      resyncMsMax: recovery.at(-1) ?? 0,
    })
  })
})
