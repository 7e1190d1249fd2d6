import { CloseCode, encodePing, encodeSyncUpdate } from '@collab/protocol'
import { MemoryDocStore } from '@collab/storage'
import { afterEach, describe, expect, it } from 'vitest'
import type { AuthResult } from '../src/index.js'
import { TokenBucket } from '../src/rate-limiter.js'
import {
  awarenessMessage,
  capturingLogger,
  clientFrameBytes,
  countReceivedBytes,
  entriesFor,
  RawClient,
  roomText,
  roundTrip,
  type StockClient,
  startTestServer,
  stockClient,
  synced,
  Teardown,
  type TestServer,
  textOfUpdates,
  UpdateSource,
  upgradeStatus,
  waitFor,
} from './helpers.js'

const teardown = new Teardown()
afterEach(() => teardown.run())

/** A stock client that has synced `docName` and records every connection it loses. */
async function bystander(server: TestServer, docName: string): Promise<StockClient & { closes: number[] }> {
  const client = stockClient(server.url, docName, teardown)
  const closes: number[] = []
  client.provider.on('connection-close', (event) => closes.push(event?.code ?? -1))
  await synced(client)
  return Object.assign(client, { closes })
}

/** The bystander is still connected and its edits still reach the server. */
async function expectUnaffected(server: TestServer, client: StockClient & { closes: number[] }, docName: string) {
  const marker = `<still here ${Math.random()}>`
  client.text.insert(client.text.length, marker)
  await waitFor(
    // Anywhere in the text: concurrent inserts at the same place are ordered by client ID.
    () => `the bystander edit (connections it lost, by close code: ${client.closes.join(', ') || 'none'})`,
    () => roomText(server, docName)?.includes(marker) ?? false,
  )
  expect(client.closes).toEqual([])
  expect(client.provider.wsconnected).toBe(true)
}

describe('[OR1] origin allowlist', () => {
  /** The close code a browser page on `origin` would read: the WebSocket opens, then closes before any message. */
  async function closeCodeFor(url: string, options: Parameters<typeof RawClient.connect>[2]): Promise<number> {
    const client = await RawClient.connect(url, teardown, options)
    const code = await client.waitForClose()
    expect(client.messagesOf('sync-step-1'), 'a refused origin must not be sent the document').toHaveLength(0)
    return code
  }

  it('[OR1] a foreign Origin is closed with 4403 before any message; an allowed one and none pass', async () => {
    const { logger, lines } = capturingLogger()
    const refusals: string[] = []
    const server = await startTestServer(
      {
        store: new MemoryDocStore(),
        logger,
        allowedOrigins: ['https://app.example', 'http://localhost:5173'],
        observer: { connectionRefused: (reason, code) => refusals.push(`${reason}:${code}`) },
      },
      teardown,
    )
    const refused = [
      'https://evil.example',
      // Look-alikes of an allowed origin: another scheme, port, a suffix, a trailing slash.
      'http://app.example',
      'https://app.example:8443',
      'https://app.example.evil.example',
      'https://app.example/',
      // Sandboxed iframes and file:// pages send the literal "null".
      'null',
    ]
    // Concurrent upgrades, refused and allowed mixed, each get their own verdict.
    const codes = await Promise.all(
      [...refused, 'https://app.example'].map((origin) => RawClient.connect(`${server.url}/doc`, teardown, { origin })),
    )
    const allowedAmongThem = codes.pop()
    for (const [index, client] of codes.entries()) {
      expect(await client.waitForClose(), refused[index]).toBe(CloseCode.Forbidden)
      expect(client.messagesOf('sync-step-1')).toHaveLength(0)
    }
    await waitFor(
      'the allowed origin among them to be greeted',
      () => allowedAmongThem?.messagesOf('sync-step-1').length === 1,
    )
    expect(refusals).toEqual(refused.map(() => 'origin:4403'))
    const logged = lines.filter((line) => line.msg === 'connection refused')
    expect(logged.map((line) => (line as { error?: string }).error)).toEqual(
      refused.map(() => 'origin not allowed (--allowed-origins)'),
    )
    expect(await closeCodeFor(`${server.url}/doc`, { origin: 'https://evil.example' })).toBe(CloseCode.Forbidden)

    // Non-browser clients send no Origin header at all.
    const noOrigin = await RawClient.connect(`${server.url}/doc`, teardown)
    await waitFor('the origin-less client to be greeted', () => noOrigin.messagesOf('sync-step-1').length === 1)
    await waitFor('only the admitted connections to remain', () => server.sync.connectionCount === 2)
  })

  it("[OR1] without an allowlist only the server's own origin and loopback origins may connect", async () => {
    const server = await startTestServer({ store: new MemoryDocStore() }, teardown)
    const port = new URL(server.url).port
    const url = `${server.url}/doc`
    expect(await closeCodeFor(url, { origin: 'https://anywhere.example' })).toBe(CloseCode.Forbidden)
    // A page on another port of this machine is another origin, but a loopback one: local development.
    expect(await upgradeStatus(url, { origin: 'http://localhost:5173' })).toBe(101)
    expect(await upgradeStatus(url, { origin: `http://127.0.0.1:${port}` })).toBe(101)
    // Served under a public name, the page's own origin names the same host and port as the request.
    const sameOrigin = { origin: 'https://docs.example:8443', headers: { host: 'docs.example:8443' } }
    const greeted = await RawClient.connect(url, teardown, sameOrigin)
    await waitFor('the same-origin page to be greeted', () => greeted.messagesOf('sync-step-1').length === 1)
    expect(await closeCodeFor(url, { ...sameOrigin, origin: 'https://evil.example:8443' })).toBe(CloseCode.Forbidden)
  })
})

describe('[LM2] message and byte rates slow a connection down', () => {
  it('[LM2] the token bucket refills at its rate up to its burst, and charges go into debt', () => {
    const bucket = new TokenBucket(10, 20, 0)
    bucket.charge(20, 0)
    expect(bucket.waitMs(0)).toBe(0)
    bucket.charge(1, 0)
    // 10 per second: the debt of one is paid after 100 ms, not before.
    expect(bucket.waitMs(0)).toBe(100)
    expect(bucket.waitMs(99)).toBeGreaterThan(0)
    expect(bucket.waitMs(100)).toBe(0)
    // Never more than the burst, however long it rested.
    bucket.charge(21, 1_000_000)
    expect(bucket.waitMs(1_000_000)).toBe(100)
  })

  it('[LM2] a message flood is slowed to the budget, not closed: every update lands, in order', async () => {
    const store = new MemoryDocStore()
    const server = await startTestServer({ store, limits: { messagesPerSecond: 200, messageBurst: 100 } }, teardown)
    const alice = await bystander(server, 'flooded')
    alice.text.insert(0, 'alice ')
    await waitFor("alice's edit", () => roomText(server, 'flooded') === 'alice ')

    const flooder = await RawClient.connect(`${server.url}/flooded`, teardown)
    const source = new UpdateSource(teardown)
    let typed = ''
    const started = Date.now()
    for (let i = 0; i < 500; i++) {
      const char = String.fromCharCode(97 + (i % 26))
      typed += char
      flooder.send(encodeSyncUpdate(source.type(char)))
    }
    // The first ones (the burst) land at once; all of them only at the budget's pace.
    await waitFor('the first updates', () => (roomText(server, 'flooded')?.length ?? 0) > 'alice '.length)
    await expectUnaffected(server, alice, 'flooded')
    // Alice's edits are concurrent with the flood, so Yjs may place them between the flooder's characters: what is
    // left without them is everything the flooder typed, in order.
    const flooderText = () =>
      (roomText(server, 'flooded') ?? '').replace('alice ', '').replace(/<still here [^>]*>/, '')
    await waitFor('every update', () => flooderText() === typed, 10_000)
    // 400 messages beyond the burst at 200 a second take two seconds (the ping of expectUnaffected is one more).
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900)
    expect(flooder.isOpen).toBe(true)
    await waitFor(
      'the store to match the room',
      async () => textOfUpdates(...(await store.load('flooded'))) === roomText(server, 'flooded'),
    )
  })

  it('[LM2] a byte flood is slowed to the budget, not closed', async () => {
    const server = await startTestServer(
      { store: new MemoryDocStore(), limits: { bytesPerSecond: 10_000, byteBurst: 20_000 } },
      teardown,
    )
    const alice = await bystander(server, 'bytes')
    const flooder = await RawClient.connect(`${server.url}/bytes`, teardown)
    const source = new UpdateSource(teardown)
    const started = Date.now()
    // Six messages of 5 kB: few messages, but 10 kB beyond the byte burst. A message is charged once read, so the
    // fifth goes through on credit and the sixth waits until that is paid: half a second at 10 kB/s.
    for (let i = 0; i < 6; i++) flooder.send(encodeSyncUpdate(source.type(String(i).repeat(5_000))))
    const expected = '012345'
      .split('')
      .map((digit) => digit.repeat(5_000))
      .join('')
    await waitFor('every update', () => roomText(server, 'bytes') === expected, 10_000)
    expect(Date.now() - started).toBeGreaterThanOrEqual(450)
    expect(flooder.isOpen).toBe(true)
    await expectUnaffected(server, alice, 'bytes')
  })

  it('[LM2] a connection held back by its budget for too long in all is closed with 4429', async () => {
    const server = await startTestServer(
      { store: new MemoryDocStore(), limits: { messagesPerSecond: 100, messageBurst: 10, maxThrottledMs: 500 } },
      teardown,
    )
    const flooder = await RawClient.connect(`${server.url}/abuse`, teardown)
    for (let i = 0; i < 300; i++) flooder.send(encodePing())
    expect(await flooder.waitForClose(5_000)).toBe(CloseCode.RateLimited)
    // It was slowed first: about 60 pings answered at 100 a second over half a second, not all 300.
    const pongs = flooder.messagesOf('pong').length
    expect(pongs).toBeGreaterThanOrEqual(40)
    expect(pongs).toBeLessThan(120)
  })

  it('[LM2] a connection within its budget is never held back', async () => {
    const server = await startTestServer(
      { store: new MemoryDocStore(), limits: { messagesPerSecond: 50, messageBurst: 100 } },
      teardown,
    )
    const client = await RawClient.connect(`${server.url}/calm`, teardown)
    // Exactly the burst. Every ping is answered, so 100 pongs means all 100 were handled.
    const started = Date.now()
    for (let i = 0; i < 100; i++) client.send(encodePing())
    await waitFor('100 pongs', () => client.messagesOf('pong').length === 100)
    expect(Date.now() - started).toBeLessThan(500)
    expect(client.isOpen).toBe(true)
  })

  it('[LM2] messages sent while the auth hook decides wait at the socket, and are all handled once it admits', async () => {
    let decide: (result: AuthResult) => void = () => undefined
    const decision = new Promise<AuthResult>((resolve) => {
      decide = resolve
    })
    teardown.defer(() => decide({ ok: false, code: 4401, reason: 'test over' }))
    const server = await startTestServer({ store: new MemoryDocStore(), authenticate: () => decision }, teardown)
    const receivedBytes = countReceivedBytes(server)
    const flooder = await RawClient.connect(`${server.url}/pending?token=t`, teardown)
    // 50 messages of 20 kB while the hook has not answered: the server stops reading instead of holding them.
    const source = new UpdateSource(teardown)
    let typed = ''
    for (let i = 0; i < 50; i++) {
      const chunk = String.fromCharCode(97 + (i % 26)).repeat(20_000)
      typed += chunk
      flooder.send(encodeSyncUpdate(source.type(chunk)))
    }
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(receivedBytes()).toBeLessThan(25 * clientFrameBytes(20_000))
    decide({ ok: true, access: 'write' })
    await waitFor('every update once admitted', () => roomText(server, 'pending') === typed)
    expect(flooder.isOpen).toBe(true)
  })

  it('[LM2] awareness that stock clients echo back does not get them rate limited', async () => {
    // y-websocket's provider sends every awareness change it applies back to the server, remote ones included.
    // Two connections, each within its own budget, must not push an innocent stock client over its budget.
    const server = await startTestServer(
      { store: new MemoryDocStore(), limits: { messagesPerSecond: 50, messageBurst: 100 } },
      teardown,
    )
    const alice = await bystander(server, 'echo')
    const attackers = await Promise.all([1, 2].map(() => RawClient.connect(`${server.url}/echo`, teardown)))
    for (const [index, attacker] of attackers.entries()) {
      const clientID = 900 + index
      for (let clock = 1; clock <= 80; clock++) attacker.send(awarenessMessage({ clientID, clock, state: { clock } }))
    }
    await Promise.all(attackers.map((attacker) => roundTrip(attacker)))
    expect(attackers.every((attacker) => attacker.isOpen)).toBe(true)
    await waitFor(
      'alice to see the last state',
      () => alice.provider.awareness.getStates().get(901)?.clock === 80 || alice.closes.length > 0,
    )
    expect(alice.closes).toEqual([])
    await expectUnaffected(server, alice, 'echo')
  })
})

describe('[LM3] awareness client IDs per connection', () => {
  it('[LM3] a connection introducing more than 4 client IDs only gets 4 relayed, and stays', async () => {
    const server = await startTestServer({ store: new MemoryDocStore() }, teardown)
    const many = await RawClient.connect(`${server.url}/presence`, teardown)
    const observer = await RawClient.connect(`${server.url}/presence`, teardown)
    many.send(
      awarenessMessage(
        { clientID: 1, clock: 1, state: { n: 1 } },
        { clientID: 2, clock: 1, state: { n: 2 } },
        { clientID: 3, clock: 1, state: { n: 3 } },
      ),
    )
    many.send(awarenessMessage({ clientID: 4, clock: 1, state: { n: 4 } }, { clientID: 5, clock: 1, state: { n: 5 } }))
    for (let id = 6; id <= 20; id++) many.send(awarenessMessage({ clientID: id, clock: 1, state: { n: id } }))
    // The IDs it already owns still update.
    many.send(awarenessMessage({ clientID: 2, clock: 2, state: { n: 'two' } }))
    await roundTrip(many)
    await waitFor('the update of an owned ID', () => entriesFor(observer, 2).length === 2)
    const relayedIds = new Set(observer.messagesOf('awareness').flatMap((m) => m.entries.map((e) => e.clientID)))
    expect([...relayedIds].sort((a, b) => a - b)).toEqual([1, 2, 3, 4])
    expect(many.isOpen).toBe(true)
    expect(server.sync.getRoom('presence')?.awareness.size).toBe(4)
  })
})

describe('[LM4] awareness message size', () => {
  it('[LM4] an awareness message over 64 KiB closes the sender with 4400; one under it is relayed', async () => {
    const server = await startTestServer({ store: new MemoryDocStore() }, teardown)
    const alice = await bystander(server, 'big-presence')
    const observer = await RawClient.connect(`${server.url}/big-presence`, teardown)
    const fits = await RawClient.connect(`${server.url}/big-presence`, teardown)
    fits.send(awarenessMessage({ clientID: 71, clock: 1, state: { blob: 'a'.repeat(60 * 1024) } }))
    await waitFor('the large but allowed state', () => entriesFor(observer, 71).length === 1)

    const tooBig = await RawClient.connect(`${server.url}/big-presence`, teardown)
    tooBig.send(awarenessMessage({ clientID: 72, clock: 1, state: { blob: 'b'.repeat(64 * 1024) } }))
    expect(await tooBig.waitForClose()).toBe(CloseCode.BadMessage)
    await roundTrip(fits)
    expect(entriesFor(observer, 72)).toEqual([])
    expect(fits.isOpen).toBe(true)
    await expectUnaffected(server, alice, 'big-presence')
  })
})

describe('[LM5] connections per address', () => {
  it('[LM5] the connection over the limit closes with 4429; when one leaves a new one is admitted', async () => {
    const server = await startTestServer(
      { store: new MemoryDocStore(), limits: { connectionsPerAddress: 3 } },
      teardown,
    )
    const open = await Promise.all([1, 2, 3].map(() => RawClient.connect(`${server.url}/crowd`, teardown)))
    const extra = await RawClient.connect(`${server.url}/crowd`, teardown)
    expect(await extra.waitForClose()).toBe(CloseCode.RateLimited)
    // Another document does not help: the limit is per address.
    const elsewhere = await RawClient.connect(`${server.url}/other`, teardown)
    expect(await elsewhere.waitForClose()).toBe(CloseCode.RateLimited)
    expect(open.every((client) => client.isOpen)).toBe(true)

    open[0]!.ws.close()
    await waitFor('the server to forget the closed connection', () => server.sync.connectionCount === 2)
    const admitted = await RawClient.connect(`${server.url}/crowd`, teardown)
    await waitFor('the new connection to be greeted', () => admitted.messagesOf('sync-step-1').length === 1)
    expect(admitted.isOpen).toBe(true)
  })

  it('[LM5] connections refused by authentication do not count', async () => {
    const server = await startTestServer(
      {
        store: new MemoryDocStore(),
        limits: { connectionsPerAddress: 2 },
        authenticate: ({ token }) =>
          token === 'good' ? { ok: true, access: 'write' } : { ok: false, code: 4401, reason: 'bad token' },
      },
      teardown,
    )
    for (let i = 0; i < 5; i++) {
      const refused = await RawClient.connect(`${server.url}/doc?token=bad`, teardown)
      expect(await refused.waitForClose()).toBe(CloseCode.NotAuthenticated)
    }
    const a = await RawClient.connect(`${server.url}/doc?token=good`, teardown)
    const b = await RawClient.connect(`${server.url}/doc?token=good`, teardown)
    await waitFor(
      'both greetings',
      () => a.messagesOf('sync-step-1').length === 1 && b.messagesOf('sync-step-1').length === 1,
    )
  })

  it('[LM5] [PX1] behind trusted proxies the address is the rightmost X-Forwarded-For entry not a proxy', async () => {
    const server = await startTestServer(
      {
        store: new MemoryDocStore(),
        trustedProxies: ['127.0.0.1', '10.0.0.0/8'],
        limits: { connectionsPerAddress: 2 },
      },
      teardown,
    )
    const from = (address: string) => ({ headers: { 'x-forwarded-for': `${address}, 10.0.0.254` } })
    const first = await RawClient.connect(`${server.url}/doc`, teardown, from('203.0.113.7'))
    const second = await RawClient.connect(`${server.url}/doc`, teardown, from('203.0.113.7'))
    const third = await RawClient.connect(`${server.url}/doc`, teardown, from('203.0.113.7'))
    expect(await third.waitForClose()).toBe(CloseCode.RateLimited)
    const otherClient = await RawClient.connect(`${server.url}/doc`, teardown, from('198.51.100.1'))
    // Without the header the proxy's own address counts.
    const direct = await RawClient.connect(`${server.url}/doc`, teardown)
    await waitFor('the admitted connections to be greeted', () =>
      [first, second, otherClient, direct].every((client) => client.messagesOf('sync-step-1').length === 1),
    )
  })

  it('[LM5] [PX1] from an untrusted peer a forged X-Forwarded-For does not get around the limit', async () => {
    const server = await startTestServer(
      { store: new MemoryDocStore(), limits: { connectionsPerAddress: 2 } },
      teardown,
    )
    const clients = await Promise.all(
      ['203.0.113.1', '203.0.113.2', '203.0.113.3'].map((address, i) =>
        RawClient.connect(`${server.url}/doc${i}`, teardown, { headers: { 'x-forwarded-for': address } }),
      ),
    )
    await waitFor('one refusal', () => clients.filter((client) => client.closeEvent !== null).length === 1)
    expect(clients.find((client) => client.closeEvent !== null)?.closeEvent?.code).toBe(CloseCode.RateLimited)
  })
})

describe('[AW2] awareness spoofing (beyond awareness.test.ts)', () => {
  it('[AW2] an equal-clock removal or a maximal clock for an owned ID is dropped and does not lock the owner out', async () => {
    const server = await startTestServer({ store: new MemoryDocStore() }, teardown)
    const owner = await RawClient.connect(`${server.url}/spoof`, teardown)
    const intruder = await RawClient.connect(`${server.url}/spoof`, teardown)
    const observer = await RawClient.connect(`${server.url}/spoof`, teardown)
    owner.send(awarenessMessage({ clientID: 500, clock: 1, state: { name: 'owner' } }))
    await waitFor('the owner state', () => entriesFor(observer, 500).length === 1)

    // y-protocols itself would accept both: a removal at the same clock, and any newer clock.
    intruder.send(awarenessMessage({ clientID: 500, clock: 1, state: null }))
    intruder.send(awarenessMessage({ clientID: 500, clock: Number.MAX_SAFE_INTEGER, state: { name: 'owner' } }))
    await roundTrip(intruder)
    owner.send(awarenessMessage({ clientID: 500, clock: 2, state: { name: 'owner', cursor: 3 } }))
    await waitFor("the owner's next state", () => entriesFor(observer, 500).length === 2)
    expect(entriesFor(observer, 500)).toEqual([
      { clientID: 500, clock: 1, state: { name: 'owner' } },
      { clientID: 500, clock: 2, state: { name: 'owner', cursor: 3 } },
    ])

    // The intruder leaves first: what it claimed is forgotten, so the owner's exit is a plain removal.
    intruder.ws.close()
    await waitFor('the intruder to be gone', () => server.sync.connectionCount === 2)
    owner.ws.close()
    await waitFor('the removal', () => entriesFor(observer, 500).length === 3)
    expect(entriesFor(observer, 500)[2]).toEqual({ clientID: 500, clock: 2, state: null })
  })

  it('[AW2] another user cannot take over a client ID while its owner reconnects', async () => {
    // Presence client IDs are public (every awareness message carries them). When a connection drops, its client
    // comes back with the same ID and a clock one higher ([AW3]); in between, nobody owns the ID.
    const server = await startTestServer(
      {
        store: new MemoryDocStore(),
        authenticate: ({ token }) => ({ ok: true, access: 'write', user: token ?? 'anonymous' }),
      },
      teardown,
    )
    const alice = await RawClient.connect(`${server.url}/hijack?token=alice`, teardown)
    const mallory = await RawClient.connect(`${server.url}/hijack?token=mallory`, teardown)
    const observer = await RawClient.connect(`${server.url}/hijack?token=observer`, teardown)
    alice.send(awarenessMessage({ clientID: 77, clock: 1, state: { name: 'alice', cursor: 1 } }))
    await waitFor("alice's presence", () => entriesFor(observer, 77).length === 1)

    alice.ws.terminate()
    await waitFor("alice's removal", () => entriesFor(observer, 77).length === 2)
    // The largest clock there is, so that alice could never outbid it.
    mallory.send(
      awarenessMessage({ clientID: 77, clock: Number.MAX_SAFE_INTEGER, state: { name: 'alice', cursor: 666 } }),
    )
    await roundTrip(mallory)
    const back = await RawClient.connect(`${server.url}/hijack?token=alice`, teardown)
    back.send(awarenessMessage({ clientID: 77, clock: 2, state: { name: 'alice', cursor: 2 } }))
    await roundTrip(back)
    await waitFor('the next state of client 77', () => entriesFor(observer, 77).length >= 3)
    expect(entriesFor(observer, 77).map((entry) => entry.state)).toEqual([
      { name: 'alice', cursor: 1 },
      null,
      { name: 'alice', cursor: 2 },
    ])
  })
})
