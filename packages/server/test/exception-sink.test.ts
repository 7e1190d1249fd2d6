import { CloseCode, encodePing } from '@collab/protocol'
import { MemoryDocStore } from '@collab/storage'
import { afterEach, describe, expect, it } from 'vitest'
import type { SyncObserver } from '../src/index.js'
import { observerHooks } from '../src/observer.js'
import { RawClient, roomText, roundTrip, startTestServer, stockClient, synced, Teardown, waitFor } from './helpers.js'

const teardown = new Teardown()
afterEach(() => teardown.run())

describe('[HK1] hooks cannot take the server down', () => {
  it('[HK1] an observer whose every hook throws is logged and counted, and the server carries on', async () => {
    const failed: string[] = []
    const observer: SyncObserver = { hookFailed: (where) => failed.push(where) }
    for (const hook of observerHooks) {
      if (hook === 'hookFailed') continue
      observer[hook] = () => {
        throw new Error(`${hook} broke`)
      }
    }
    const server = await startTestServer({ store: new MemoryDocStore(), observer }, teardown)
    const a = stockClient(server.url, 'observed', teardown)
    const b = stockClient(server.url, 'observed', teardown)
    await Promise.all([synced(a), synced(b)])
    a.text.insert(0, 'still working')
    await waitFor('the edit to reach b', () => b.text.toString() === 'still working')
    expect(server.sync.failureCount).toBeGreaterThan(0)
    expect(failed).toContain('observer.messageReceived')
    expect(failed).toContain('observer.connectionOpened')
  })

  it('[HK1] an authenticate hook that throws refuses the connection with 4503; one that never answers is timed out', async () => {
    let calls = 0
    const server = await startTestServer(
      {
        store: new MemoryDocStore(),
        authTimeoutMs: 300,
        authenticate: () => {
          calls++
          if (calls === 1) throw new Error('auth backend down')
          return new Promise(() => undefined)
        },
      },
      teardown,
    )
    const thrown = await RawClient.connect(`${server.url}/doc?token=t`, teardown)
    expect(await thrown.waitForClose()).toBe(CloseCode.RetryLater)
    expect(thrown.closeEvent?.reason).toBe('authentication unavailable')
    const hanging = await RawClient.connect(`${server.url}/doc?token=t`, teardown)
    const started = Date.now()
    expect(await hanging.waitForClose()).toBe(CloseCode.RetryLater)
    expect(hanging.closeEvent?.reason).toBe('authentication timed out')
    expect(Date.now() - started).toBeGreaterThanOrEqual(250)
    expect(server.sync.connectionCount).toBe(0)
  })

  it('[HK1] a relay whose every call throws leaves the room working on this instance', async () => {
    const server = await startTestServer(
      {
        store: new MemoryDocStore(),
        relay: {
          instanceId: 'broken',
          join: () => {
            throw new Error('relay down')
          },
          publishDeleted: () => {
            throw new Error('relay down')
          },
        },
      },
      teardown,
    )
    const a = stockClient(server.url, 'relayed', teardown)
    await synced(a)
    a.text.insert(0, 'local')
    await waitFor('the edit', () => roomText(server, 'relayed') === 'local')
    expect(server.sync.failureCount).toBeGreaterThan(0)
  })

  it('[AU4] credentials that expire are checked on every message, not only by the sweep', async () => {
    const server = await startTestServer(
      {
        store: new MemoryDocStore(),
        pingIntervalMs: 60_000,
        authenticate: () => ({ ok: true, access: 'write', expiresAt: Date.now() + 300 }),
      },
      teardown,
    )
    const client = await RawClient.connect(`${server.url}/doc?token=t`, teardown)
    await roundTrip(client)
    await new Promise((resolve) => setTimeout(resolve, 350))
    client.send(encodePing())
    expect(await client.waitForClose(1_000)).toBe(CloseCode.NotAuthenticated)
  })
})
