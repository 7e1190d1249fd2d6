import { CloseCode } from '@collab/protocol'
import { HttpProxy, type UpgradePolicy } from '@collab/test-support'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { httpEndpoint } from '../src/http-transport.js'
import { OtProvider } from '../src/index.js'
import { createClient, Teardown, waitFor } from './harness.js'
import { startHttpTestServer } from './http-harness.js'

const teardown = new Teardown()
afterEach(() => teardown.run())

/** A proxy in front of `port` that treats WebSocket upgrades as `upgrades` says and buffers every response. */
async function proxyTo(port: number, upgrades: UpgradePolicy = 'refuse'): Promise<HttpProxy> {
  const proxy = await new HttpProxy(port, { upgrades }).listen()
  teardown.defer(() => proxy.close())
  return proxy
}

const wsUrl = (proxy: HttpProxy) => `ws://127.0.0.1:${proxy.port}`

type Client = ReturnType<typeof createClient>

const synced = (client: Client) => client.provider.status.connection === 'synced'

/** The user names `client` sees present, itself included. */
function namesSeenBy(client: Client): string[] {
  return [...client.provider.awareness.getStates().values()]
    .map((state) => (state.user as { name?: string } | undefined)?.name)
    .filter((name): name is string => name !== undefined)
    .sort()
}

describe('CollabProvider over HTTP ([HT1]-[HT10])', () => {
  it('[HT1] falls back to HTTP at once when the upgrade is refused, and co-edits with a WebSocket client', async () => {
    const server = await startHttpTestServer(teardown)
    const proxy = await proxyTo(server.port, 'refuse')
    const started = Date.now()
    const a = createClient(wsUrl(proxy), 'doc', teardown)
    await waitFor('synced over HTTP', () => synced(a))
    const switchedMs = Date.now() - started
    expect(a.provider.status.transport).toBe('http')
    expect(proxy.upgradesSeen).toBeGreaterThan(0)
    // The bound is 3 s; a refused upgrade does not wait for the fallback timer at all.
    expect(switchedMs).toBeLessThan(3_000)
    const b = createClient(server.url, 'doc', teardown)
    await waitFor('b synced', () => synced(b))
    expect(b.provider.status.transport).toBe('websocket')
    a.text.insert(0, 'from http. ')
    await waitFor('a -> b', () => b.text.toString() === 'from http. ')
    b.text.insert(b.text.length, 'from ws.')
    await waitFor('b -> a', () => a.text.toString() === 'from http. from ws.')
    await waitFor('[SA1] saved over HTTP', () => !a.provider.status.unsaved)
    expect(a.provider.status.transport).toBe('http')
  })

  it('[HT1] falls back to HTTP when the WebSocket never opens (a proxy holding the upgrade)', async () => {
    const server = await startHttpTestServer(teardown)
    const proxy = await proxyTo(server.port, 'hang')
    const started = Date.now()
    const a = createClient(wsUrl(proxy), 'doc', teardown)
    await waitFor('synced over HTTP', () => synced(a))
    expect(a.provider.status.transport).toBe('http')
    expect(Date.now() - started).toBeLessThan(3_000)
    a.text.insert(0, 'typed behind a silent proxy')
    await waitFor('saved', () => !a.provider.status.unsaved)
    const b = createClient(server.url, 'doc', teardown)
    await waitFor('b has it', () => b.text.toString() === 'typed behind a silent proxy')
  })

  it('[HT1] falls back to HTTP when the WebSocket opens but the server is never heard on it', async () => {
    const server = await startHttpTestServer(teardown)
    const proxy = await proxyTo(server.port, 'mute')
    const a = createClient(wsUrl(proxy), 'doc', teardown)
    // 6 s after the attempt began: an opened socket is more often a busy server than a proxy holding its bytes.
    await waitFor('synced over HTTP', () => synced(a) && a.provider.status.transport === 'http', 15_000)
    a.text.insert(0, 'the upgrade passed, the bytes did not')
    await waitFor('saved', () => !a.provider.status.unsaved)
    const b = createClient(server.url, 'doc', teardown)
    await waitFor('b has it', () => b.text.toString() === 'the upgrade passed, the bytes did not')
  })

  it('[SA1] [HT6] is unsaved until the server stored the change, across many requests of one session', async () => {
    const server = await startHttpTestServer(teardown)
    const proxy = await proxyTo(server.port)
    const a = createClient(wsUrl(proxy), 'doc', teardown)
    await waitFor('synced', () => synced(a))
    // Bursts and single keystrokes, so that requests carry different numbers of document messages: the per-request
    // counts of [HT6] must add up to the session's count, or "saved" would come too early or never.
    for (let round = 0; round < 20; round++) {
      a.text.insert(a.text.length, `${round},`)
      if (round % 3 === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    }
    expect(a.provider.status.unsaved).toBe(true)
    await waitFor('saved', () => !a.provider.status.unsaved)
    const stored = new Y.Doc()
    for (const update of await server.store.load('doc')) Y.applyUpdate(stored, update)
    expect(stored.getText('codemirror').toString()).toBe(a.text.toString())
    stored.destroy()
  })

  it('[HT10] shares presence both ways with WebSocket clients, and the online list', async () => {
    const server = await startHttpTestServer(teardown)
    const proxy = await proxyTo(server.port)
    const a = createClient(wsUrl(proxy), 'doc', teardown)
    const b = createClient(server.url, 'doc', teardown)
    a.provider.awareness.setLocalStateField('user', { name: 'Ada' })
    b.provider.awareness.setLocalStateField('user', { name: 'Bob' })
    await waitFor('both see both', () => namesSeenBy(a).join() === 'Ada,Bob' && namesSeenBy(b).join() === 'Ada,Bob')
    expect(a.provider.status.transport).toBe('http')
    // A cursor move is an awareness change like any other: it travels both ways.
    a.provider.awareness.setLocalStateField('cursor', { at: 3 })
    await waitFor('a cursor at b', () => {
      const state = b.provider.awareness.getStates().get(a.provider.awareness.clientID)
      return (state?.cursor as { at?: number } | undefined)?.at === 3
    })
    b.provider.awareness.setLocalStateField('cursor', { at: 7 })
    await waitFor('b cursor at a', () => {
      const state = a.provider.awareness.getStates().get(b.provider.awareness.clientID)
      return (state?.cursor as { at?: number } | undefined)?.at === 7
    })
    const clientId = a.provider.awareness.clientID
    a.provider.destroy()
    await waitFor('a left, for b', () => !b.provider.awareness.getStates().has(clientId))
  })

  it('moves back to WebSocket when it works again, without losing an edit or freezing its cursor', async () => {
    // A long liveness bound: were the HTTP session to keep the client ID after the move, the cursor would freeze
    // for 30 s at the other client ([AW2]) and the wait below would time out.
    const server = await startHttpTestServer(teardown, { connectionTimeoutMs: 30_000 })
    const proxy = await proxyTo(server.port, 'refuse')
    const a = createClient(wsUrl(proxy), 'doc', teardown, { websocketRetry: { baseMs: 200, maxMs: 400 } })
    const b = createClient(server.url, 'doc', teardown)
    a.provider.awareness.setLocalStateField('user', { name: 'Ada' })
    await waitFor('a on HTTP', () => synced(a) && a.provider.status.transport === 'http')
    a.text.insert(0, 'over http. ')
    await waitFor('saved over HTTP', () => !a.provider.status.unsaved)
    proxy.upgrades = 'allow'
    await waitFor('a back on WebSocket', () => synced(a) && a.provider.status.transport === 'websocket', 10_000)
    expect(a.provider.status.error).toBeNull()
    a.text.insert(a.text.length, 'over ws.')
    b.text.insert(0, '> ')
    await waitFor(
      'converged',
      () => a.text.toString() === '> over http. over ws.' && b.text.toString() === a.text.toString(),
    )
    await waitFor('saved over WebSocket', () => !a.provider.status.unsaved)
    a.provider.awareness.setLocalStateField('cursor', { at: 5 })
    await waitFor(
      'the cursor moved at b',
      () => {
        const state = b.provider.awareness.getStates().get(a.provider.awareness.clientID)
        return (state?.cursor as { at?: number } | undefined)?.at === 5
      },
      10_000,
    )
    expect(namesSeenBy(b)).toEqual(['Ada'])
  }, 30_000)

  it('[SA1] a WebSocket the fallback outlasted, answered late, numbers its messages on: "saved" is neither early nor stuck', async () => {
    // The first WebSocket opens and carries a change before the server is heard on it (a slow server, or a
    // middlebox that holds the bytes); HTTP takes over after the fallback delay and the probe keeps that WebSocket.
    // When its bytes arrive, the connection moves back to it. The server numbered the early change as message 1 of
    // that socket: counting from 1 again, the client would read the server's counts as covering messages it sent
    // later (reporting them stored too early), and ignore the final count as higher than what it sent ("saving"
    // forever).
    const server = await startHttpTestServer(teardown)
    const proxy = await proxyTo(server.port, 'hold')
    const a = createClient(wsUrl(proxy), 'doc', teardown, { fallbackAfterMs: 500 })
    await waitFor('the WebSocket open', () => a.provider.status.connection === 'connected')
    a.text.insert(0, 'sent early. ')
    a.text.insert(a.text.length, 'and again. ')
    await waitFor('on HTTP', () => synced(a) && a.provider.status.transport === 'http')
    await waitFor('saved over HTTP', () => !a.provider.status.unsaved)
    proxy.release()
    await waitFor('back on the first WebSocket', () => synced(a) && a.provider.status.transport === 'websocket')
    expect(proxy.upgradesSeen).toBe(1)
    a.text.insert(a.text.length, 'typed after the move.')
    expect(a.provider.status.unsaved).toBe(true)
    await waitFor('saved over the WebSocket', () => !a.provider.status.unsaved)
    const stored = new Y.Doc()
    for (const update of await server.store.load('doc')) Y.applyUpdate(stored, update)
    expect(stored.getText('codemirror').toString()).toBe('sent early. and again. typed after the move.')
    stored.destroy()
  })

  it('[HT1] where WebSocket worked, one failed reconnection is not a blocked network: HTTP only from the second', async () => {
    // A restarting server, or one slow under a reconnect storm, must not be given a second (HTTP) connection per
    // client: only a WebSocket that fails again in a row hands over to HTTP.
    const server = await startHttpTestServer(teardown)
    const proxy = await proxyTo(server.port, 'allow')
    const a = createClient(wsUrl(proxy), 'doc', teardown)
    await waitFor('synced over WebSocket', () => synced(a) && a.provider.status.transport === 'websocket')
    let upgradesAtSwitch: number | null = null
    const before = proxy.upgradesSeen
    a.provider.onStatus((status) => {
      if (status.transport === 'http' && upgradesAtSwitch === null) upgradesAtSwitch = proxy.upgradesSeen - before
    })
    proxy.upgrades = 'refuse'
    proxy.cut()
    await waitFor('a on HTTP', () => synced(a) && a.provider.status.transport === 'http', 15_000)
    expect(upgradesAtSwitch).toBeGreaterThanOrEqual(2)
    a.text.insert(0, 'still saved')
    await waitFor('saved over HTTP', () => !a.provider.status.unsaved)
  }, 30_000)

  it('starts a new session after a failed request and loses nothing ([HT6])', async () => {
    const server = await startHttpTestServer(teardown)
    const proxy = await proxyTo(server.port)
    const a = createClient(wsUrl(proxy), 'doc', teardown, { backoff: { baseMs: 50, maxMs: 200 } })
    const b = createClient(server.url, 'doc', teardown)
    await waitFor('synced', () => synced(a) && synced(b))
    a.text.insert(0, 'before the cut. ')
    await waitFor('saved', () => !a.provider.status.unsaved)
    // Every request in flight fails (the poll among them): the session is over, as after a dropped WebSocket.
    proxy.cut()
    a.text.insert(a.text.length, 'after the cut.')
    await waitFor('b has both', () => b.text.toString() === 'before the cut. after the cut.')
    await waitFor('saved again', () => synced(a) && !a.provider.status.unsaved)
    expect(a.provider.status.transport).toBe('http')
    const stored = new Y.Doc()
    for (const update of await server.store.load('doc')) Y.applyUpdate(stored, update)
    expect(stored.getText('codemirror').toString()).toBe('before the cut. after the cut.')
    stored.destroy()
  })

  it('[HT9] [AU1] sends the token as a header and stops on a terminal close code, as over WebSocket', async () => {
    const seen: Array<string | null> = []
    const server = await startHttpTestServer(teardown, {
      authenticate: ({ token }) => {
        seen.push(token)
        return token === 'good-token' ? { ok: true, access: 'write' } : { ok: false, code: 4403, reason: 'no access' }
      },
    })
    const proxy = await proxyTo(server.port)
    const ok = createClient(wsUrl(proxy), 'doc', teardown, { token: 'good-token', transports: ['http'] })
    await waitFor('synced', () => synced(ok))
    expect(ok.provider.status.transport).toBe('http')
    expect(seen.length).toBeGreaterThan(0)
    expect(seen.every((token) => token === 'good-token')).toBe(true)
    const refused = createClient(wsUrl(proxy), 'doc', teardown, {
      token: 'bad-token',
      transports: ['http'],
      backoff: { baseMs: 10, maxMs: 10 },
    })
    await waitFor('refused', () => refused.provider.status.error !== null)
    expect(refused.provider.status.error).toEqual({ code: CloseCode.Forbidden, reason: 'no access' })
    expect(refused.provider.status.connection).toBe('offline')
    const requests = proxy.requestsForwarded
    await new Promise((resolve) => setTimeout(resolve, 300))
    // Terminal: no retry, while the good client's poll is simply held.
    expect(proxy.requestsForwarded - requests).toBeLessThanOrEqual(1)
  })

  it('[HT9] stops on 4404 for an invalid document name', async () => {
    const server = await startHttpTestServer(teardown)
    const proxy = await proxyTo(server.port)
    const a = createClient(wsUrl(proxy), '..', teardown, { backoff: { baseMs: 10, maxMs: 10 } })
    await waitFor('error', () => a.provider.status.error !== null)
    expect(a.provider.status.error?.code).toBe(CloseCode.UnknownDocument)
    expect(a.provider.status.connection).toBe('offline')
  })

  it('retries with backoff, on WebSocket and HTTP, when the server has no HTTP transport', async () => {
    // The engine alone, whose app answers 404 to every plain request: not a close code, so not final.
    const { startTestServer } = await import('./harness.js')
    const server = await startTestServer(teardown)
    const proxy = await proxyTo(server.port, 'refuse')
    const a = createClient(wsUrl(proxy), 'doc', teardown, { backoff: { baseMs: 100, maxMs: 200 } })
    await waitFor('several attempts', () => proxy.requestsForwarded >= 3 && proxy.upgradesSeen >= 3)
    expect(a.provider.status.error).toBeNull()
    expect(a.provider.status.connection).toBe('connecting')
    proxy.upgrades = 'allow'
    await waitFor('synced over WebSocket', () => synced(a) && a.provider.status.transport === 'websocket')
  })

  it('[OT1] keeps an OT client on WebSocket: it never polls', async () => {
    const server = await startHttpTestServer(teardown)
    const proxy = await proxyTo(server.port, 'refuse')
    const { WebSocket } = await import('ws')
    const ot = new OtProvider({
      serverUrl: wsUrl(proxy),
      docName: 'doc',
      WebSocketImpl: WebSocket as unknown as typeof globalThis.WebSocket,
      backoff: { baseMs: 50, maxMs: 100 },
    })
    teardown.defer(() => ot.destroy())
    ot.attach({ connected: () => undefined, received: () => undefined, disconnected: () => undefined })
    await waitFor('several refused upgrades', () => proxy.upgradesSeen >= 3)
    expect(proxy.requestsForwarded).toBe(0)
    expect(ot.status.transport).toBe('websocket')
  })
})

describe('httpEndpoint', () => {
  it("[HT1] is the document's endpoint on the same server, its name one path segment", () => {
    expect(httpEndpoint('ws://127.0.0.1:1234', 'notes')).toBe('http://127.0.0.1:1234/api/docs/notes/http')
    expect(httpEndpoint('wss://collab.example/', 'team/plan 1')).toBe(
      'https://collab.example/api/docs/team%2Fplan%201/http',
    )
    // A server behind a path prefix keeps it.
    expect(httpEndpoint('wss://example.com/collab', 'a')).toBe('https://example.com/collab/api/docs/a/http')
    expect(httpEndpoint('http://h:8080', 'a', { x: '1' })).toBe('http://h:8080/api/docs/a/http?x=1')
    expect(() => httpEndpoint('ftp://h', 'a')).toThrow(SyntaxError)
  })
})
