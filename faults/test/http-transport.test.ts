import { createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type ServerProcess, startServerProcess, TcpProxy, waitFor } from '@collab/test-support'
import { afterEach, describe, expect, it } from 'vitest'
import { HttpSyncClient } from '../../packages/server/test/http-transport-client.js'
import { createFaultClient, type FaultClient } from './support/clients.js'
import { Teardown, tempDir } from './support/teardown.js'

// The HTTP transport's failures ([HT6], [HT8] in docs/PROTOCOL.md): a request that never gets an answer, an answer
// lost after the server stored what the request carried, a client that vanishes.

const teardown = new Teardown()
afterEach(() => teardown.run())

async function startServer(): Promise<ServerProcess> {
  const server = await startServerProcess({ dataDir: tempDir(teardown), args: ['--log-level', 'warn'] })
  teardown.defer(() => server.stop('SIGKILL'))
  return server
}

async function metric(server: ServerProcess, name: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text()
  let sum = 0
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return sum
}

function countOf(text: string, token: string): number {
  return text.split(token).length - 1
}

/**
 * An HTTP proxy that, while `dropAnswers` is set, forwards requests that carry messages to send (`wait=0`) and
 * throws their answers away once the server gave them, resetting the client's connection: the server stored and
 * acknowledged, the client never heard.
 */
async function answerDroppingProxy(targetPort: number) {
  const state = { dropAnswers: false, dropped: 0 }
  const proxy = createServer((req, res) => {
    const upstream = request(
      { host: '127.0.0.1', port: targetPort, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        const drop = state.dropAnswers && !/[?&]wait=[1-9]/.test(req.url ?? '')
        if (drop) {
          answer.resume()
          answer.once('end', () => {
            state.dropped++
            res.destroy()
          })
          return
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    upstream.on('error', () => res.destroy())
    req.pipe(upstream)
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  teardown.defer(() => {
    proxy.closeAllConnections()
    return new Promise<void>((resolve) => proxy.close(() => resolve()))
  })
  return { url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, state }
}

function seesUser(client: FaultClient, name: string): boolean {
  return [...client.provider.awareness.getStates().values()].some((s) => (s.user as { name?: string })?.name === name)
}

describe('HTTP transport faults', () => {
  it('[HT8] a poll that hangs: the client gives up, the server removes its presence, and both recover', async () => {
    const server = await startServer()
    const proxy = await new TcpProxy(server.port).listen()
    teardown.defer(() => proxy.close())
    const local = createFaultClient(server.wsUrl, 'hang', teardown, { name: 'local' })
    local.provider.awareness.setLocalStateField('user', { name: 'local' })
    const http = new HttpSyncClient(
      {
        bases: [`http://127.0.0.1:${proxy.port}`],
        docName: 'hang',
        waitMs: 1_000,
        requestTimeoutMs: 3_000,
        retryMs: 300,
        user: { name: 'remote', color: '#f0f' },
      },
      teardown,
    )
    http.text.insert(0, 'before. ')
    await waitFor('the first edit saved and relayed', () => http.unsaved === 0 && local.text.toString() === 'before. ')
    await waitFor('the remote presence at the local client', () => seesUser(local, 'remote'))
    const sessionsBefore = http.sessions
    // Silence both ways, and new connections accepted but never answered: only timeouts get out of this.
    proxy.blackhole({ newConnections: 'hang' })
    http.text.insert(http.text.length, 'during. ')
    local.text.insert(local.text.length, 'local. ')
    // The server answers the held poll into the void, then hears nothing: the session ends as a dead socket would.
    await waitFor('the remote presence removed', () => !seesUser(local, 'remote'), 20_000)
    await waitFor('the client to give up on its requests', () => http.sessions > sessionsBefore, 10_000)
    expect(http.unsaved).toBeGreaterThan(0)
    proxy.restore()
    const expected = (text: string) => ['before. ', 'during. ', 'local. '].every((t) => countOf(text, t) === 1)
    await waitFor(
      () => `convergence: ${JSON.stringify([http.text.toString(), local.text.toString()])}`,
      () => http.text.toString() === local.text.toString() && expected(local.text.toString()) && http.unsaved === 0,
      20_000,
    )
    await waitFor('the remote presence back', () => seesUser(local, 'remote'), 10_000)
    expect(http.closed).toBeNull()
  })

  it('[HT6] an answer lost after the server stored the update: the resend is applied once and acknowledged', async () => {
    const server = await startServer()
    const front = await answerDroppingProxy(server.port)
    const local = createFaultClient(server.wsUrl, 'lost', teardown, { name: 'local' })
    const http = new HttpSyncClient({ bases: [front.url], docName: 'lost', waitMs: 1_000, retryMs: 200 }, teardown)
    http.text.insert(0, 'first. ')
    await waitFor('the first edit saved', () => http.unsaved === 0 && local.text.toString() === 'first. ')
    const storedBefore = await metric(server, 'collab_store_updates_total')
    front.state.dropAnswers = true
    http.text.insert(http.text.length, 'lost answer. ')
    await waitFor('an answer dropped', () => front.state.dropped >= 1)
    front.state.dropAnswers = false
    // The server stored it and relayed it before the answer was lost.
    await waitFor('the update at the other client', () => local.text.toString() === 'first. lost answer. ')
    await waitFor('the resend acknowledged', () => http.unsaved === 0, 10_000)
    expect(http.sessions).toBeGreaterThan(1)
    expect(countOf(http.text.toString(), 'lost answer. ')).toBe(1)
    expect(countOf(local.text.toString(), 'lost answer. ')).toBe(1)
    // One stored update for the edit: the resend changed nothing, so nothing more was stored.
    expect((await metric(server, 'collab_store_updates_total')) - storedBefore).toBe(1)
  })
})
