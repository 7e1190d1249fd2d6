import { afterEach, describe, expect, it } from 'vitest'
import {
  connectClient,
  crossInstanceMs,
  keepTyping,
  missingTokens,
  report,
  sleep,
  startInstance,
  startServices,
  storedText,
  Teardown,
  waitFor,
} from './harness.js'

const teardown = new Teardown()
afterEach(() => teardown.run())

describe('Redis restarted mid-session', () => {
  it('instances reconnect and documents converge again without any client reconnecting', async () => {
    const services = await startServices(teardown)
    const a = await startInstance(services, 'a', teardown)
    const b = await startInstance(services, 'b', teardown)
    const clients = [
      connectClient(a.url, 'restart', 'a1-', teardown),
      connectClient(b.url, 'restart', 'b1-', teardown),
      connectClient(b.url, 'restart', 'b2-', teardown),
    ]
    await waitFor(
      'every client to sync',
      () => clients.every((c) => c.provider.status.connection === 'synced'),
      crossInstanceMs,
    )
    const stopTyping = keepTyping(clients, 30)
    await sleep(1_000)

    // A crash of Redis: every stream, position and heartbeat is gone (the test server keeps nothing on disk).
    await services.redis.stop({ kill: true })
    await sleep(2_000)
    stopTyping()
    // The edits made during the outage reached the store and the clients of their own instance only.
    await waitFor(
      'the outage edits to be stored',
      () => clients.every((c) => !c.provider.status.unsaved),
      crossInstanceMs,
    )
    expect(clients[0]!.text.toString()).not.toBe(clients[1]!.text.toString())
    const restartedAt = Date.now()
    await services.redis.start()
    await waitFor(
      () => `convergence; missing: ${missingTokens(clients[0]!.text.toString(), clients).slice(0, 5)}`,
      () =>
        clients.every((c) => c.text.toString() === clients[0]!.text.toString()) &&
        missingTokens(clients[0]!.text.toString(), clients).length === 0,
      15_000,
    )
    report('Redis restarted after a 2 s outage: documents converged after Redis was back', Date.now() - restartedAt)
    // Nobody noticed: no client reconnected, and the relay carries new edits again.
    expect(clients.map((c) => c.opens)).toEqual([1, 1, 1])
    const before = Date.now()
    clients[0]!.text.insert(0, 'after-restart;')
    await waitFor(
      'a new edit to cross instances',
      () => clients[1]!.text.toString().startsWith('after-restart;'),
      crossInstanceMs,
    )
    report('Redis restarted: relay latency of a new edit afterwards', Date.now() - before)
    await waitFor('every change to be saved', () => clients.every((c) => !c.provider.status.unsaved), crossInstanceMs)
    expect(missingTokens(await storedText(services.databaseUrl, 'restart'), clients)).toEqual([])
  })

  it('presence crosses instances again after the restart', async () => {
    const services = await startServices(teardown)
    const a = await startInstance(services, 'a', teardown)
    const b = await startInstance(services, 'b', teardown)
    const early = connectClient(a.url, 'presence-restart', 'early-', teardown)
    const observer = connectClient(b.url, 'presence-restart', 'observer-', teardown)
    await waitFor(
      'the first presence',
      () => observer.provider.awareness.getStates().has(early.doc.clientID),
      crossInstanceMs,
    )
    await services.redis.stop({ kill: true })
    await sleep(500)
    await services.redis.start()
    // Someone arriving on a after the restart shows up on b, and someone leaving a disappears from b.
    const late = connectClient(a.url, 'presence-restart', 'late-', teardown)
    const ms = await waitFor(
      'the new presence to cross',
      () => observer.provider.awareness.getStates().has(late.doc.clientID),
      crossInstanceMs,
    )
    report('Redis restarted: presence of a newly arrived client crossed', ms)
    early.destroy()
    await waitFor(
      'the removal to cross',
      () => !observer.provider.awareness.getStates().has(early.doc.clientID),
      crossInstanceMs,
    )
  })
})
