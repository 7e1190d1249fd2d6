import { type ServerProcess, startServerProcess, TcpProxy, waitFor } from '@collab/test-support'
import { afterEach, describe, expect, it } from 'vitest'
import { createFaultClient, type FaultClient } from './support/clients.js'
import { report } from './support/report.js'
import { Teardown, tempDir } from './support/teardown.js'

// The network between one client and the server goes silent: no bytes, no FIN, no RST, in either direction.
// Both ends must find out by themselves, from their heartbeats ([HB1], [LV1]).

const teardown = new Teardown()
afterEach(() => teardown.run())

async function setUp(docName: string) {
  const server: ServerProcess = await startServerProcess({ dataDir: tempDir(teardown), args: ['--log-level', 'warn'] })
  teardown.defer(() => server.stop('SIGKILL'))
  const proxy = await new TcpProxy(server.port).listen()
  teardown.defer(() => proxy.close())
  const backoff = { baseMs: 200, maxMs: 1_000 }
  const remote = createFaultClient(`ws://127.0.0.1:${proxy.port}`, docName, teardown, { name: 'remote', backoff })
  const local = createFaultClient(server.wsUrl, docName, teardown, { name: 'local' })
  remote.provider.awareness.setLocalStateField('user', { name: 'remote' })
  local.provider.awareness.setLocalStateField('user', { name: 'local' })
  await waitFor('both synced', () => synced(remote) && synced(local), 10_000)
  await waitFor('the remote presence at the local client', () => seesPresence(local, remote), 5_000)
  remote.text.insert(0, 'before the outage. ')
  await waitFor('the first edit saved and relayed', () => !remote.provider.status.unsaved && sameText(remote, local))
  return { server, proxy, remote, local }
}

function synced(client: FaultClient): boolean {
  return client.provider.status.connection === 'synced'
}

function seesPresence(observer: FaultClient, of: FaultClient): boolean {
  return observer.provider.awareness.getStates().has(of.doc.clientID)
}

function sameText(a: FaultClient, b: FaultClient): boolean {
  return a.text.toString() === b.text.toString()
}

describe('blackholed network between a client and the server', () => {
  it('[HB1] the client notices within about 6 s, [LV1] the server removes its presence within 10 s, and it recovers', async () => {
    const { proxy, remote, local } = await setUp('blackhole')
    const blackholedAt = Date.now()
    proxy.blackhole()
    const detected = waitFor('the client to notice', () => !synced(remote), 12_000).then(
      () => Date.now() - blackholedAt,
    )
    const removed = waitFor('the presence removed', () => !seesPresence(local, remote), 12_000).then(
      () => Date.now() - blackholedAt,
    )
    const [detectedMs, presenceRemovedMs] = await Promise.all([detected, removed])
    // The heartbeat decides after 6 s without hearing anything, checked every second: 6-7 s after the last
    // message, which came at most 2 s (the idle ping interval) before the outage.
    expect(detectedMs).toBeLessThan(9_000)
    expect(remote.provider.status.connection).toBe('connecting')
    expect(presenceRemovedMs).toBeLessThan(10_000)

    remote.text.insert(remote.text.length, 'typed during the outage.')
    expect(remote.provider.status.unsaved).toBe(true)
    const restoredAt = Date.now()
    proxy.restore()
    await waitFor(
      'the client back, its outage edit saved and relayed',
      () => synced(remote) && !remote.provider.status.unsaved && sameText(remote, local),
      15_000,
    )
    const recoveredMs = Date.now() - restoredAt
    await waitFor('the presence back', () => seesPresence(local, remote), 5_000)
    const presenceBackMs = Date.now() - restoredAt
    expect(local.text.toString()).toBe('before the outage. typed during the outage.')
    report('blackhole', { detectedMs, presenceRemovedMs, recoveredMs, presenceBackMs, editsLost: 0 })
  }, 40_000)

  it('[HB1] a connection attempt whose handshake never completes is abandoned and retried', async () => {
    // A middlebox that accepts the TCP connection and then says nothing: the WebSocket stays in CONNECTING,
    // where no heartbeat runs. Only a timeout on opening gets the client out.
    const { proxy, remote, local } = await setUp('hung-handshake')
    const blackholedAt = Date.now()
    proxy.blackhole({ newConnections: 'hang' })
    await waitFor('the client to notice', () => !synced(remote), 12_000)
    const detectedMs = Date.now() - blackholedAt
    // Let the client start a new attempt into the dead path, then bring the path back.
    await waitFor('a hung connection attempt', () => proxy.connections >= 2, 5_000)
    const restoredAt = Date.now()
    proxy.restore()
    remote.text.insert(remote.text.length, 'typed after the handshake hung.')
    await waitFor(
      'the client to give up the hung attempt and reconnect',
      () => synced(remote) && !remote.provider.status.unsaved && sameText(remote, local),
      15_000,
    )
    report('hung handshake', { detectedMs, recoveredAfterRestoreMs: Date.now() - restoredAt })
  }, 45_000)
})
