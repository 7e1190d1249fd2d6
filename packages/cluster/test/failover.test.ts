import { CloseCode, encodeAwareness, encodeAwarenessEntries } from '@collab/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import {
  connectClient,
  crossInstanceMs,
  FailoverProxy,
  keepTyping,
  missingTokens,
  report,
  sleep,
  spawnInstance,
  startServices,
  storedText,
  Teardown,
  type TestClient,
  waitFor,
} from './harness.js'

const teardown = new Teardown()
afterEach(() => teardown.run())

describe('kill -9 of one instance while clients on both type', () => {
  it('moves its clients to the other instance, keeps every acknowledged update, removes its dead presence', async () => {
    const services = await startServices(teardown)
    const [a, b] = await Promise.all([spawnInstance(services, 'a', teardown), spawnInstance(services, 'b', teardown)])
    // Two fronts, like a load balancer that sent each client to a different instance first.
    const frontA = await FailoverProxy.start([a.port, b.port], teardown)
    const frontB = await FailoverProxy.start([b.port, a.port], teardown)
    const clients: TestClient[] = [
      connectClient(frontA.url, 'failover', 'a1-', teardown),
      connectClient(frontA.url, 'failover', 'a2-', teardown),
      connectClient(frontB.url, 'failover', 'b1-', teardown),
      connectClient(frontB.url, 'failover', 'b2-', teardown),
    ]
    const onA = clients.slice(0, 2)
    const onB = clients.slice(2)
    await waitFor(
      'every client to sync',
      () => clients.every((c) => c.provider.status.connection === 'synced'),
      crossInstanceMs,
    )
    // Someone on a who will not come back (no reconnect): its presence must disappear from b's clients.
    const ghost = await ghostPresence(a.url, 'failover', 424242)
    const seesGhost = () => onB.every((c) => c.provider.awareness.getStates().has(424242))
    await waitFor('the ghost presence on b', seesGhost, crossInstanceMs)

    const stopTyping = keepTyping(clients, 25)
    await sleep(1_500)
    const acknowledgedBefore = clients.map((c) => c.acknowledged)
    const killedAt = Date.now()
    await a.kill('SIGKILL')
    ghost.terminate()

    const back = await Promise.all(
      onA.map((client) =>
        waitFor(
          `${client.name} to reconnect through the front`,
          () => client.opens >= 2 && client.provider.status.connection === 'synced',
          15_000,
        ).then(() => Date.now() - killedAt),
      ),
    )
    report('clients of the killed instance synced again on the other instance (slowest)', Math.max(...back))
    const seenByAnyOnB = () => onB.some((c) => c.provider.awareness.getStates().has(424242))
    await waitFor('the presence of the dead instance client to go', () => !seenByAnyOnB(), 12_000)
    const presenceGone = Date.now() - killedAt
    report('presence of a client of the killed instance removed on the survivor', presenceGone)
    expect(presenceGone).toBeLessThan(10_000)

    await sleep(1_500)
    stopTyping()
    const ms = await waitFor(
      () => `convergence; missing: ${missingTokens(clients[0]!.text.toString(), clients).slice(0, 5)}`,
      () =>
        clients.every((c) => !c.provider.status.unsaved) &&
        clients.every((c) => c.text.toString() === clients[0]!.text.toString()) &&
        missingTokens(clients[0]!.text.toString(), clients).length === 0,
      15_000,
    )
    report('convergence after typing stopped', ms)
    for (const [index, client] of clients.entries()) {
      expect(client.acknowledged).toBeGreaterThan(acknowledgedBefore[index]!)
    }
    // Every acknowledged update is stored, and so is everything else that was typed.
    const stored = await storedText(services.databaseUrl, 'failover')
    expect(missingTokens(stored, clients, true)).toEqual([])
    expect(stored).toBe(clients[0]!.text.toString())
    // The clients of b never lost their connection.
    expect(onB.map((c) => c.opens)).toEqual([1, 1])
    expect(onA.flatMap((c) => c.closeCodes)).not.toContain(CloseCode.RetryLater)
    await b.kill('SIGTERM')
  })
})

/** A bare WebSocket that announces a presence and never reconnects. */
async function ghostPresence(url: string, docName: string, clientID: number): Promise<WebSocket> {
  const ws = new WebSocket(`${url}/${docName}`)
  await new Promise((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
  })
  ws.on('error', () => undefined)
  ws.send(encodeAwareness(encodeAwarenessEntries([{ clientID, clock: 1, state: { name: 'ghost' } }])))
  teardown.defer(() => ws.terminate())
  return ws
}
