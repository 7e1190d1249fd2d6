import { CloseCode } from '@collab/protocol'
import { MemoryDocStore } from '@collab/storage'
import { TcpProxy } from '@collab/test-support'
import { afterEach, describe, expect, it } from 'vitest'
import type { ProviderStatus } from '../src/index.js'
import { createClient, startTestServer, Teardown, waitFor } from './harness.js'

const teardown = new Teardown()
afterEach(() => teardown.run())

describe('CollabProvider', () => {
  it('connects, syncs and reports connecting -> connected -> synced', async () => {
    const server = await startTestServer(teardown)
    const seen: ProviderStatus['connection'][] = []
    const a = createClient(server.url, 'doc', teardown, { connect: false })
    a.provider.onStatus((status) => seen.push(status.connection))
    a.provider.connect()
    await waitFor('synced', () => a.provider.status.connection === 'synced')
    expect(seen).toEqual(['connecting', 'connected', 'synced'])
  })

  it('two clients converge', async () => {
    const server = await startTestServer(teardown)
    const a = createClient(server.url, 'doc', teardown)
    const b = createClient(server.url, 'doc', teardown)
    await waitFor(
      'both synced',
      () => a.provider.status.connection === 'synced' && b.provider.status.connection === 'synced',
    )
    a.text.insert(0, 'hello ')
    b.text.insert(0, 'world')
    await waitFor('convergence', () => a.text.toString() === b.text.toString() && a.text.length === 11)
  })

  it('[SA1] is unsaved until the server acknowledges that the change is stored', async () => {
    let releaseAppends: () => void = () => undefined
    let appendsHeld = new Promise<void>((resolve) => {
      releaseAppends = resolve
    })
    const memory = new MemoryDocStore()
    const slowStore = Object.assign(Object.create(memory) as MemoryDocStore, {
      append: async (name: string, update: Uint8Array) => {
        await appendsHeld
        return memory.append(name, update)
      },
    })
    const server = await startTestServer(teardown, { store: slowStore })
    const a = createClient(server.url, 'doc', teardown)
    await waitFor('synced', () => a.provider.status.connection === 'synced')
    expect(a.provider.status.unsaved).toBe(false)
    a.text.insert(0, 'x')
    expect(a.provider.status.unsaved).toBe(true)
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(a.provider.status.unsaved).toBe(true)
    releaseAppends()
    await waitFor('saved', () => !a.provider.status.unsaved)
    expect((await memory.load('doc')).length).toBeGreaterThan(0)
    appendsHeld = Promise.resolve()
  })

  it('keeps offline edits and merges them after reconnecting', async () => {
    const server = await startTestServer(teardown)
    const a = createClient(server.url, 'doc', teardown)
    const b = createClient(server.url, 'doc', teardown)
    await waitFor(
      'synced',
      () => a.provider.status.connection === 'synced' && b.provider.status.connection === 'synced',
    )
    a.provider.disconnect()
    expect(a.provider.status.connection).toBe('offline')
    a.text.insert(0, 'offline edit. ')
    b.text.insert(0, 'online edit. ')
    expect(a.provider.status.unsaved).toBe(true)
    a.provider.connect()
    await waitFor('convergence', () => a.text.toString() === b.text.toString() && a.text.length === 27)
    await waitFor('saved', () => !a.provider.status.unsaved)
  })

  it('[HB1] detects a silently dead connection within about 6 s and recovers when the network does', async () => {
    const server = await startTestServer(teardown, { pingIntervalMs: 60_000, connectionTimeoutMs: 120_000 })
    const proxy = await new TcpProxy(server.port).listen()
    teardown.defer(() => proxy.close())
    const a = createClient(`ws://127.0.0.1:${proxy.port}`, 'doc', teardown, { backoff: { baseMs: 100, maxMs: 500 } })
    await waitFor('synced', () => a.provider.status.connection === 'synced')
    const cutAt = Date.now()
    proxy.blackhole()
    await waitFor('offline', () => a.provider.status.connection !== 'synced', 10_000)
    const detectedMs = Date.now() - cutAt
    expect(detectedMs).toBeGreaterThanOrEqual(5_000)
    expect(detectedMs).toBeLessThan(8_000)
    proxy.restore()
    a.text.insert(0, 'after the outage')
    await waitFor('synced again', () => a.provider.status.connection === 'synced' && !a.provider.status.unsaved, 10_000)
    const b = createClient(server.url, 'doc', teardown)
    await waitFor('edit arrived', () => b.text.toString() === 'after the outage')
  }, 20_000)

  it('reconnects by itself after a server restart and loses nothing', async () => {
    const store = new MemoryDocStore()
    const server = await startTestServer(teardown, { store })
    const port = server.port
    const a = createClient(server.url, 'doc', teardown, { backoff: { baseMs: 50, maxMs: 200 } })
    await waitFor('synced', () => a.provider.status.connection === 'synced')
    a.text.insert(0, 'before ')
    await waitFor('saved', () => !a.provider.status.unsaved)
    await server.close()
    await waitFor('reconnecting', () => a.provider.status.connection === 'connecting')
    a.text.insert(a.text.length, 'during ')
    const restarted = await startTestServer(teardown, { store, port })
    await waitFor('synced again', () => a.provider.status.connection === 'synced' && !a.provider.status.unsaved)
    const b = createClient(restarted.url, 'doc', teardown)
    await waitFor('content', () => b.text.toString() === 'before during ')
  })

  it('stops retrying on 4404 and reports the error', async () => {
    const server = await startTestServer(teardown)
    const a = createClient(server.url, '..', teardown, { backoff: { baseMs: 10, maxMs: 10 } })
    await waitFor('error', () => a.provider.status.error !== null)
    expect(a.provider.status.error?.code).toBe(CloseCode.UnknownDocument)
    expect(a.provider.status.connection).toBe('offline')
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(server.sync.connectionCount).toBe(0)
  })

  it('backs off instead of storming a server that drops connections at once', async () => {
    const server = await startTestServer(teardown)
    let attempts = 0
    server.sync.attach = () => undefined
    const { createServer } = await import('node:http')
    const { WebSocketServer } = await import('ws')
    const dropper = createServer()
    const wss = new WebSocketServer({ server: dropper })
    wss.on('connection', (ws) => {
      attempts++
      ws.close(1011)
    })
    await new Promise<void>((resolve) => dropper.listen(0, '127.0.0.1', resolve))
    const port = (dropper.address() as { port: number }).port
    const storming = createClient(`ws://127.0.0.1:${port}`, 'doc', teardown, { backoff: { baseMs: 100, maxMs: 2_000 } })
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    // Without backoff this would be hundreds of attempts; with full jitter from 100 ms doubling, a handful.
    expect(attempts).toBeGreaterThan(1)
    expect(attempts).toBeLessThan(12)
    storming.provider.destroy()
    wss.close()
    await new Promise<void>((resolve) => dropper.close(() => resolve()))
  })

  it('shares presence and removes it when a client is destroyed', async () => {
    const server = await startTestServer(teardown)
    const a = createClient(server.url, 'doc', teardown)
    const b = createClient(server.url, 'doc', teardown)
    a.provider.awareness.setLocalStateField('user', { name: 'Ada' })
    await waitFor('presence at b', () =>
      [...b.provider.awareness.getStates().values()].some((s) => (s.user as { name?: string })?.name === 'Ada'),
    )
    const clientId = a.doc.clientID
    a.provider.destroy()
    await waitFor('presence removed at b', () => !b.provider.awareness.getStates().has(clientId))
  })

  it('destroy() leaves no timers or sockets behind', async () => {
    const server = await startTestServer(teardown)
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
    const a = createClient(server.url, 'doc', teardown)
    await waitFor('synced', () => a.provider.status.connection === 'synced')
    a.provider.destroy()
    a.doc.destroy()
    await waitFor('server saw the close', () => server.sync.connectionCount === 0)
    const after = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
    expect(after).toBeLessThanOrEqual(before)
  })
})
