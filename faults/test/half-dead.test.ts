import { encodeAwareness, encodeAwarenessEntries, encodeSyncStep1 } from '@collab/protocol'
import { startServerProcess, waitFor } from '@collab/test-support'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import * as Y from 'yjs'
import { createFaultClient } from './support/clients.js'
import { report } from './support/report.js'
import { Teardown, tempDir } from './support/teardown.js'

// A client whose process hangs (a frozen tab, a stopped debugger, a suspended laptop whose socket lives on): the
// TCP connection stays up, but nothing answers. The server's WebSocket pings are what find it ([LV1]).

const teardown = new Teardown()
afterEach(() => teardown.run())

describe('half-dead client', () => {
  it('[LV1] a client that stops answering pings is terminated and its cursor disappears for others within 10 s', async () => {
    const server = await startServerProcess({ dataDir: tempDir(teardown), args: ['--log-level', 'warn'] })
    teardown.defer(() => server.stop('SIGKILL'))
    const observer = createFaultClient(server.wsUrl, 'half-dead', teardown, { name: 'observer' })
    await waitFor('the observer to sync', () => observer.provider.status.connection === 'synced', 10_000)

    // A stock client that joins, says who it is, and then never answers a ping again.
    const frozen = new WebSocket(`${server.wsUrl}/half-dead`, { autoPong: false })
    teardown.defer(() => frozen.terminate())
    let closedAt = 0
    frozen.on('close', () => {
      closedAt = Date.now()
    })
    let pingsIgnored = 0
    frozen.on('ping', () => pingsIgnored++)
    await new Promise<void>((resolve, reject) => {
      frozen.once('open', resolve)
      frozen.once('error', reject)
    })
    const frozenId = 424242
    frozen.send(encodeSyncStep1(Y.encodeStateVector(new Y.Doc())))
    frozen.send(encodeAwareness(encodeAwarenessEntries([{ clientID: frozenId, clock: 1, state: { user: 'frozen' } }])))
    const lastSentAt = Date.now()
    await waitFor('the frozen client present at the observer', () =>
      observer.provider.awareness.getStates().has(frozenId),
    )

    await waitFor('its presence removed', () => !observer.provider.awareness.getStates().has(frozenId), 12_000)
    const presenceRemovedMs = Date.now() - lastSentAt
    await waitFor('the server to terminate it', () => closedAt > 0, 2_000)
    const terminatedMs = closedAt - lastSentAt
    expect(presenceRemovedMs).toBeLessThan(10_000)
    expect(pingsIgnored).toBeGreaterThan(0)
    // The observer, which answers pings, was never disturbed.
    expect(observer.provider.status.connection).toBe('synced')
    report('half-dead client', { terminatedMs, presenceRemovedMs, pingsIgnored })
  }, 30_000)
})
