import { LevelDocStore } from '@collab/storage'
import { createRandom, loadTrace, waitFor } from '@collab/test-support'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { converged, createFaultClient, type FaultClient, startTyping } from './support/clients.js'
import { SlowDiskStore } from './support/faulty-stores.js'
import { type InProcessServer, startInProcessServer } from './support/in-process.js'
import { report } from './support/report.js'
import { countMissing, readStoredDoc } from './support/stored.js'
import { Teardown, tempDir } from './support/teardown.js'
import { sleep } from './support/timing.js'

// kill -9 of a real server process (crash.test.ts) can only catch a premature acknowledgement if it lands in the
// microseconds between the acknowledgement and LevelDB's write. Here the disk is slow (every write takes 30 ms to
// get there) and the crash drops whatever has not arrived, so an acknowledgement sent before its write would be
// caught at almost every crash. Engine in this process, real LevelDB, real providers over real sockets.

const rounds = 10
const diskLatencyMs = 30
const baseSeed = Number(process.env.FAULTS_SEED ?? Math.floor(Math.random() * 2 ** 31))
const docName = 'slow-disk'
const trace = loadTrace('sveltecomponent')
const backoff = { baseMs: 50, maxMs: 250 }

const teardown = new Teardown()
let dataDir: string
let level: LevelDocStore
let disk: SlowDiskStore
let server: InProcessServer
let clients: FaultClient[]
let inFlightAtCrash = 0

async function start(port = 0): Promise<void> {
  level = await LevelDocStore.open({ path: dataDir })
  disk = new SlowDiskStore(level, diskLatencyMs)
  server = await startInProcessServer({ store: disk, roomGraceMs: 200 }, teardown, port)
}

beforeAll(async () => {
  console.log(`[faults] slow-disk crash: base seed ${baseSeed} (replay with FAULTS_SEED=${baseSeed})`)
  dataDir = tempDir(teardown)
  await start()
  teardown.defer(() => level.close())
  clients = ['ada', 'grace', 'linus'].map((name) => createFaultClient(server.url, docName, teardown, { name, backoff }))
  await waitFor('the clients to sync', () => converged(clients), 10_000)
})

afterAll(() => teardown.run())

describe('crash while the disk is slow', () => {
  for (let round = 0; round < rounds; round++) {
    const seed = baseSeed + round
    it(`round ${round + 1}/${rounds} (seed ${seed}): nothing acknowledged is lost, nothing typed is lost`, async () => {
      const random = createRandom(seed)
      const stops = clients.map((c, i) =>
        startTyping(c.text, trace, 1 + Math.floor(random() * (trace.txns.length - 1)), 4 + 2 * i),
      )
      try {
        await sleep(100 + random() * 600)
        const unackedAtCrash = clients.reduce((sum, c) => sum + c.localUpdates.length - c.acked, 0)
        inFlightAtCrash += unackedAtCrash
        disk.crash()
        await server.crash()
        const acked = clients.map((c) => c.localUpdates.slice(0, c.acked))
        await level.close()
        const stored = await readStoredDoc(dataDir, docName)
        const lost = acked.map((updates) => countMissing(stored, updates))
        stored.destroy()
        expect(lost, `seed ${seed}: acknowledged updates missing after the crash, per client`).toEqual([0, 0, 0])

        await start(server.port)
        await waitFor(
          'every client back',
          () => clients.every((c) => c.provider.status.connection === 'synced'),
          10_000,
        )
        for (const stop of stops) stop()
        await waitFor('convergence with everything saved', () => converged(clients), 10_000)
        let missing = 0
        for (const client of clients) {
          for (const other of clients) if (other !== client) missing += countMissing(client.doc, other.localUpdates)
        }
        expect(missing, `seed ${seed}: edits missing after reconnecting`).toBe(0)
        report(`slow-disk crash round ${round + 1}`, {
          seed,
          acknowledgedChecked: acked.reduce((sum, updates) => sum + updates.length, 0),
          acknowledgedLost: 0,
          unacknowledgedAtCrash: unackedAtCrash,
          editsLost: missing,
        })
      } finally {
        for (const stop of stops) stop()
      }
    })
  }

  it('in total, unacknowledged edits were in flight at the crashes (the window was really open)', () => {
    // Without edits in flight at the moment of the crash, the rounds above would prove nothing.
    expect(inFlightAtCrash).toBeGreaterThan(rounds)
    report('slow-disk crash summary', {
      rounds,
      baseSeed,
      diskLatencyMs,
      unacknowledgedAtCrashes: inFlightAtCrash,
      edits: clients.reduce((sum, c) => sum + c.localUpdates.length, 0),
    })
  })
})
