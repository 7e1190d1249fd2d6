import { PostgresDocStore } from '@collab/storage'
import { createRandom } from '@collab/test-support'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import {
  connectClient,
  converged,
  crossInstanceMs,
  FailoverProxy,
  type Instance,
  report,
  type Services,
  startInstance,
  startServices,
  storedText,
  Teardown,
  type TestClient,
  testSyncTimings,
  typeToken,
  waitFor,
} from './harness.js'

function portOf(url: string): number {
  return Number(new URL(url).port)
}

const services = new Teardown()
let shared: Services
let a: Instance
let b: Instance

beforeAll(async () => {
  shared = await startServices(services)
  a = await startInstance(shared, 'a', services)
  b = await startInstance(shared, 'b', services)
})
afterAll(() => services.run())

describe('clients on two instances (Redis relay, PostgreSQL store)', () => {
  it('co-edit one document at random and converge, with everything stored', async () => {
    const teardown = new Teardown()
    try {
      const seed = Number(process.env.SEED ?? Date.now() % 100_000)
      const random = createRandom(seed)
      const clients: TestClient[] = [
        connectClient(a.url, 'co-edit', 'a1-', teardown),
        connectClient(a.url, 'co-edit', 'a2-', teardown),
        connectClient(b.url, 'co-edit', 'b1-', teardown),
        connectClient(b.url, 'co-edit', 'b2-', teardown),
      ]
      await waitFor(
        'every client to sync',
        () => clients.every((c) => c.provider.status.connection === 'synced'),
        crossInstanceMs,
      )
      for (let round = 0; round < 200; round++) {
        const client = clients[Math.floor(random() * clients.length)]!
        const length = client.text.length
        if (length > 20 && random() < 0.3) {
          client.text.delete(Math.floor(random() * (length - 5)), 1 + Math.floor(random() * 4))
        } else {
          client.text.insert(Math.floor(random() * (length + 1)), `${client.name}${round};`)
        }
        if (round % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 5))
      }
      const ms = await waitFor(
        () => `convergence (seed ${seed})`,
        () => clients.every((c) => c.text.toString() === clients[0]!.text.toString() && !c.provider.status.unsaved),
        crossInstanceMs,
      )
      report('4 clients on 2 instances, 200 random edits: convergence after the last edit', ms)
      const text = clients[0]!.text.toString()
      expect(text.length, `seed ${seed}`).toBeGreaterThan(0)
      expect(await storedText(shared.databaseUrl, 'co-edit'), `seed ${seed}`).toBe(text)
      expect(clients.every((c) => c.opens === 1)).toBe(true)
    } finally {
      await teardown.run()
    }
  })

  it('share presence across instances and remove it across them when a client leaves', async () => {
    const teardown = new Teardown()
    try {
      const leaving = connectClient(a.url, 'presence', 'leaving-', teardown)
      const staying = connectClient(b.url, 'presence', 'staying-', teardown)
      const seesLeaving = () => staying.provider.awareness.getStates().has(leaving.doc.clientID)
      const crossed = await waitFor('the presence to cross instances', seesLeaving, crossInstanceMs)
      report('presence of a client on instance a seen on instance b', crossed)
      expect(staying.provider.awareness.getStates().get(leaving.doc.clientID)).toEqual({ name: 'leaving-' })
      // The other way crosses on its own: staying's state reaches instance a through the relay, a few ms apart from
      // the first (a full test run once checked it too early).
      await waitFor(
        'the presence to cross the other way',
        () => leaving.provider.awareness.getStates().has(staying.doc.clientID),
        crossInstanceMs,
      )
      expect(leaving.provider.awareness.getStates().get(staying.doc.clientID)).toEqual({ name: 'staying-' })

      leaving.destroy()
      const removed = await waitFor('the removal to cross instances', () => !seesLeaving(), crossInstanceMs)
      report('removal of a leaving client on the other instance', removed)

      // A client whose network dies silently is dropped by instance a's liveness check; b hears of it too.
      const { proxy, url } = await FailoverProxy.start([portOf(a.url)], teardown)
      const vanishing = connectClient(url, 'presence', 'vanishing-', teardown)
      const seesVanishing = () => staying.provider.awareness.getStates().has(vanishing.doc.clientID)
      await waitFor('the second presence', seesVanishing, crossInstanceMs)
      const started = Date.now()
      proxy.freeze()
      vanishing.destroy()
      await waitFor('the silent client to be removed on the other instance', () => !seesVanishing(), 10_000)
      report(
        `silent client removed on the other instance (ping every ${testSyncTimings.pingIntervalMs} ms, ` +
          `dead after ${testSyncTimings.connectionTimeoutMs} ms)`,
        Date.now() - started,
      )
    } finally {
      await teardown.run()
    }
  })

  it('picks up what reached the store without the relay, through the periodic resync', async () => {
    const teardown = new Teardown()
    try {
      const resyncing = await startInstance(shared, 'c', teardown, { relay: { resyncIntervalMs: 1_000 } })
      const client = connectClient(resyncing.url, 'behind-the-back', 'c-', teardown)
      await waitFor('the client to sync', () => client.provider.status.connection === 'synced', crossInstanceMs)
      // Written straight to PostgreSQL: no instance publishes it, as when a publish was lost.
      const source = new Y.Doc()
      source.getText('codemirror').insert(0, 'written behind the relay')
      const store = await PostgresDocStore.open({ connectionString: shared.databaseUrl })
      await store.append('behind-the-back', Y.encodeStateAsUpdate(source))
      await store.close()
      source.destroy()
      const ms = await waitFor(
        'the periodic resync',
        () => client.text.toString() === 'written behind the relay',
        crossInstanceMs,
      )
      report('update that bypassed the relay reached clients through the periodic resync (every ~1 s)', ms)
    } finally {
      await teardown.run()
    }
  })

  it('keeps converging when many documents are loaded on both instances', async () => {
    const teardown = new Teardown()
    try {
      const pairs = Array.from({ length: 10 }, (_, index) => [
        connectClient(a.url, `many-${index}`, `a${index}-`, teardown),
        connectClient(b.url, `many-${index}`, `b${index}-`, teardown),
      ])
      const all = pairs.flat()
      await waitFor(
        'every client to sync',
        () => all.every((c) => c.provider.status.connection === 'synced'),
        crossInstanceMs,
      )
      for (let round = 0; round < 5; round++) for (const client of all) typeToken(client)
      await waitFor('every pair to converge', () => pairs.every((pair) => converged(pair)), crossInstanceMs)
      for (const [x] of pairs) expect(x!.text.length).toBe(2 * 5 * 'a0-0;'.length)
    } finally {
      await teardown.run()
    }
  })

  it('keeps documents that share a stream apart, also when one is closed and opened again', async () => {
    const teardown = new Teardown()
    try {
      // Two streams for eight documents: several documents share each one.
      const relay = { partitions: 2 }
      const c = await startInstance(shared, 'c', teardown, { relay })
      const d = await startInstance(shared, 'd', teardown, { relay })
      const names = Array.from({ length: 8 }, (_, index) => `shared-stream-${index}`)
      const pairs = names.map((name, index) => [
        connectClient(c.url, name, `c${index}-`, teardown),
        connectClient(d.url, name, `d${index}-`, teardown),
      ])
      const all = pairs.flat()
      await waitFor(
        'every client to sync',
        () => all.every((x) => x.provider.status.connection === 'synced'),
        crossInstanceMs,
      )
      for (let round = 0; round < 3; round++) for (const client of all) typeToken(client)
      await waitFor('every pair to converge', () => pairs.every((pair) => converged(pair)), crossInstanceMs)
      // Each document holds its own two clients' tokens and nothing of the others'.
      pairs.forEach((pair, index) => {
        const text = pair[0]!.text.toString()
        expect(text.length).toBe(2 * 3 * `c${index}-0;`.length)
        expect(text.replace(new RegExp(`[cd]${index}-\\d;`, 'g'), '')).toBe('')
      })

      // The first document leaves instance c entirely (its room unloads after the grace period) while the
      // others of its stream stay open there; then it comes back and must hear instance d again.
      pairs[0]![0]!.destroy()
      await waitFor('the room to unload on c', () => c.sync.roomCount === names.length - 1, crossInstanceMs)
      typeToken(pairs[0]![1]!)
      const back = connectClient(c.url, names[0]!, 'c0b-', teardown)
      await waitFor('the reopened client to sync', () => back.provider.status.connection === 'synced', crossInstanceMs)
      const token = typeToken(pairs[0]![1]!)
      const ms = await waitFor(
        'an edit on d to reach the reopened document on c',
        () => back.text.toString().includes(token),
        crossInstanceMs,
      )
      report('a document reopened on a stream its instance kept reading: first edit from the other instance', ms)
      typeToken(back)
      await waitFor('the reopened document to converge', () => converged([back, pairs[0]![1]!]), crossInstanceMs)
    } finally {
      await teardown.run()
    }
  })
})
