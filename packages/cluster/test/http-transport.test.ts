import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSyncServer } from '@collab/server'
import { PostgresDocStore } from '@collab/storage'
import { listenOnLoopback, startServerProcess } from '@collab/test-support'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { HttpSyncClient, serveHttpTransport } from '../../server/test/http-transport-client.js'
import { RedisDocRelay } from '../src/index.js'
import {
  connectClient,
  crossInstanceMs,
  FailoverProxy,
  missingTokens,
  type Services,
  sleep,
  startServices,
  storedText,
  Teardown,
  type TestClient,
  testSyncTimings,
  typeToken,
  waitFor,
} from './harness.js'

const teardown = new Teardown()
afterEach(() => teardown.run())

/** An instance in this process that also serves the HTTP transport. */
async function startHttpInstance(services: Services, id: string) {
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }).child({ instance: id })
  const store = await PostgresDocStore.open({ connectionString: services.databaseUrl, queryTimeoutMs: 5_000 })
  const relay = await RedisDocRelay.open({ url: services.redis.url, instanceId: id, logger })
  const sync = createSyncServer({ store, relay, logger, ...testSyncTimings })
  const server = await listenOnLoopback(sync, { onRequest: serveHttpTransport(sync) })
  teardown.defer(async () => {
    await server.close()
    await relay.close()
    await store.close()
  })
  return { url: server.url, sync }
}

/** An HTTP client as the test sees it: the tokens it typed, one local update each. */
interface TypingHttpClient {
  name: string
  client: HttpSyncClient
  typed: string[]
}

/** The tokens whose update the server acknowledged as stored. */
function acknowledgedTokens(typer: TypingHttpClient): string[] {
  return typer.typed.filter((_, index) => typer.client.saved[index] === true)
}

function httpTyper(name: string, bases: string[], waitMs: number): TypingHttpClient {
  const client = new HttpSyncClient(
    { bases, docName: 'rr', waitMs, retryMs: 200, user: { name, color: '#abc' } },
    teardown,
  )
  return { name, client, typed: [] }
}

function typeHttp(typer: TypingHttpClient): void {
  const token = `${typer.name}${typer.typed.length};`
  typer.typed.push(token)
  typer.client.text.insert(typer.client.text.length, token)
}

function names(awareness: { getStates(): Map<number, Record<string, unknown>> }): string[] {
  return [...awareness.getStates().values()]
    .map((state) => (state.user as { name?: string } | undefined)?.name ?? (state.name as string | undefined))
    .filter((name): name is string => name !== undefined)
    .sort()
}

describe('the HTTP transport in cluster mode (Redis + PostgreSQL)', () => {
  it('[HT3] [HT7] [HT10] HTTP requests alternating between two instances converge with WebSocket clients on both', async () => {
    const services = await startServices(teardown)
    const [a, b] = await Promise.all([startHttpInstance(services, 'a'), startHttpInstance(services, 'b')])
    const ws: TestClient[] = [
      connectClient(a.url, 'rr', 'wsA-', teardown),
      connectClient(b.url, 'rr', 'wsB-', teardown),
    ]
    // Polls held longer than the session timeout (4 s here): while one instance holds a poll, the other ends its
    // copy of the session and removes the client's presence; the client must come back there ([HT10]).
    const http = [httpTyper('httpX-', [a.url, b.url], 5_000), httpTyper('httpY-', [b.url, a.url], 1_000)]
    await waitFor('WebSocket clients synced', () => ws.every((c) => c.provider.status.connection === 'synced'))
    for (let round = 0; round < 30; round++) {
      for (const client of ws) typeToken(client)
      for (const typer of http) typeHttp(typer)
      await sleep(50)
    }
    const everyone = [...ws.map((c) => c.text), ...http.map((t) => t.client.text)]
    const allTokens = [...ws.flatMap((c) => c.typed), ...http.flatMap((t) => t.typed)]
    await waitFor(
      () =>
        `convergence; missing on the first: ${allTokens.filter((t) => !everyone[0]?.toString().includes(t)).slice(0, 5)}`,
      () =>
        everyone.every((text) => text.toString() === everyone[0]?.toString()) &&
        allTokens.every((token) => everyone[0]?.toString().includes(token)),
      crossInstanceMs * 2,
    )
    await waitFor(
      'everything saved',
      () => ws.every((c) => !c.provider.status.unsaved) && http.every((t) => t.client.unsaved === 0),
      crossInstanceMs,
    )
    // Each token once: nothing was applied twice on the way.
    const text = everyone[0]?.toString() ?? ''
    for (const token of allTokens) expect(text.split(token).length - 1).toBe(1)
    expect(await storedText(services.databaseUrl, 'rr')).toBe(text)
    // Idle for longer than the session timeout, requests still alternating: presence settles with everyone in it.
    const expected = ['httpX-', 'httpY-', 'wsA-', 'wsB-']
    await sleep(testSyncTimings.connectionTimeoutMs + 2_000)
    await waitFor(
      () => `everyone present everywhere: ${JSON.stringify(ws.map((c) => names(c.provider.awareness)))}`,
      () =>
        [...ws.map((c) => c.provider.awareness), ...http.map((t) => t.client.awareness)].every(
          (awareness) => JSON.stringify(names(awareness)) === JSON.stringify(expected),
        ),
      crossInstanceMs,
    )
    expect(http.every((t) => t.client.closed === null)).toBe(true)
  })

  it('[HT6] an instance killed mid-session loses nothing acknowledged to HTTP or WebSocket clients', async () => {
    const services = await startServices(teardown)
    const env = { REDIS_URL: services.redis.url, DATABASE_URL: services.databaseUrl, LOG_LEVEL: 'warn' }
    const spawn = async (id: string) => {
      const dataDir = mkdtempSync(join(tmpdir(), `collab-http-cluster-${id}-`))
      teardown.defer(() => rmSync(dataDir, { recursive: true, force: true }))
      const proc = await startServerProcess({ dataDir, env: { ...env, INSTANCE_ID: id } })
      teardown.defer(() => proc.stop('SIGKILL'))
      return proc
    }
    const [a, b] = await Promise.all([spawn('a'), spawn('b')])
    const front = await FailoverProxy.start([a.port, b.port], teardown)
    const ws = connectClient(front.url, 'rr', 'ws-', teardown)
    const http = [httpTyper('h1-', [a.url, b.url], 2_000), httpTyper('h2-', [b.url, a.url], 2_000)]
    await waitFor('the WebSocket client synced', () => ws.provider.status.connection === 'synced', crossInstanceMs)
    let typing = true
    const typingDone = (async () => {
      while (typing) {
        typeToken(ws)
        for (const typer of http) typeHttp(typer)
        await sleep(40)
      }
    })()
    await waitFor(
      'some HTTP tokens acknowledged',
      () => http.every((t) => acknowledgedTokens(t).length >= 5),
      crossInstanceMs,
    )
    const acknowledgedBefore = http.map((t) => acknowledgedTokens(t).length)
    await a.stop('SIGKILL')
    await waitFor(
      'HTTP tokens acknowledged after the kill',
      () => http.every((t, i) => acknowledgedTokens(t).length >= (acknowledgedBefore[i] ?? 0) + 10),
      crossInstanceMs * 2,
    )
    typing = false
    await typingDone
    const texts = [ws.text, ...http.map((t) => t.client.text)]
    await waitFor(
      'convergence after the kill',
      () =>
        texts.every((t) => t.toString() === texts[0]?.toString()) &&
        !ws.provider.status.unsaved &&
        http.every((t) => t.client.unsaved === 0),
      crossInstanceMs * 2,
    )
    const stored = await storedText(services.databaseUrl, 'rr')
    const acknowledgedHttp = http.flatMap(acknowledgedTokens)
    expect(acknowledgedHttp.length).toBe(http.reduce((sum, t) => sum + t.typed.length, 0))
    expect(acknowledgedHttp.filter((token) => !stored.includes(token))).toEqual([])
    expect(missingTokens(stored, [ws], true)).toEqual([])
    // Everything typed arrived, each token once.
    const text = texts[0]?.toString() ?? ''
    expect(stored).toBe(text)
    for (const token of [...ws.typed, ...http.flatMap((t) => t.typed)]) expect(text.split(token).length - 1).toBe(1)
  })
})
