import {
  Capability,
  CloseCode,
  encodeHello,
  encodePing,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
} from '@collab/protocol'
import { MemoryDocStore } from '@collab/storage'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { Authenticate, AuthRequest, AuthResult, Connection } from '../src/index.js'
import {
  awarenessMessage,
  capturingLogger,
  clientFrameBytes,
  countReceivedBytes,
  entriesFor,
  RawClient,
  roomText,
  roundTrip,
  startTestServer,
  Teardown,
  type TestServer,
  textOfUpdates,
  UpdateSource,
  waitFor,
} from './helpers.js'

const teardown = new Teardown()
afterEach(() => teardown.run())

/** A hook that knows a few tokens, and records every request it is asked about. */
function tokenTable(table: Record<string, AuthResult>): { authenticate: Authenticate; requests: AuthRequest[] } {
  const requests: AuthRequest[] = []
  return {
    requests,
    authenticate: (request) => {
      requests.push(request)
      if (request.token === null) return { ok: false, code: 4401, reason: 'a token is required' }
      return table[request.token] ?? { ok: false, code: 4401, reason: 'unknown token' }
    },
  }
}

const writer: AuthResult = { ok: true, access: 'write', user: 'writer' }
const reader: AuthResult = { ok: true, access: 'read', user: 'reader' }
const outsider: AuthResult = { ok: false, code: 4403, reason: 'not your document' }

/** The server side of the connections of a document. */
function connectionsOf(server: TestServer, doc: string): Connection[] {
  return [...(server.sync.getRoom(doc)?.connections ?? [])]
}

describe('[AU1] authentication before anything is handled', () => {
  it('[AU1] a missing or unknown token closes with 4401 and nothing of the document is sent', async () => {
    const { authenticate } = tokenTable({ good: writer })
    const server = await startTestServer({ store: new MemoryDocStore(), authenticate }, teardown)
    for (const url of [`${server.url}/doc`, `${server.url}/doc?token=forged`]) {
      const client = await RawClient.connect(url, teardown)
      // Asking for the document at once must not get an answer.
      client.send(encodeSyncStep1(new Uint8Array([0])))
      expect(await client.waitForClose()).toBe(CloseCode.NotAuthenticated)
      expect(client.received).toEqual([])
    }
    expect(server.sync.roomCount).toBe(0)
    expect(server.sync.connectionCount).toBe(0)
  })

  it('[AU1] a valid token without a right to this document closes with 4403', async () => {
    const { authenticate } = tokenTable({ stranger: outsider })
    const server = await startTestServer({ store: new MemoryDocStore(), authenticate }, teardown)
    const client = await RawClient.connect(`${server.url}/doc?token=stranger`, teardown)
    client.send(encodeSyncStep1(new Uint8Array([0])))
    expect(await client.waitForClose()).toBe(CloseCode.Forbidden)
    expect(client.closeEvent?.reason).toBe('not your document')
    expect(client.received).toEqual([])
    expect(server.sync.roomCount).toBe(0)
  })

  it('[AU1] the token comes from the `token.<t>` subprotocol, and the server selects `collab`', async () => {
    const { authenticate, requests } = tokenTable({ 'header.payload.signature': writer })
    const server = await startTestServer({ store: new MemoryDocStore(), authenticate }, teardown)
    const client = await RawClient.connect(`${server.url}/team%2Fnotes`, teardown, {}, [
      'collab',
      'token.header.payload.signature',
    ])
    expect(client.ws.protocol).toBe('collab')
    await waitFor('the greeting', () => client.messagesOf('sync-step-1').length === 1)
    expect(requests).toHaveLength(1)
    expect(requests[0]).toMatchObject({ docName: 'team/notes', token: 'header.payload.signature' })
    expect(requests[0]!.remoteAddress).toMatch(/127\.0\.0\.1/)
  })

  it('[AU1] the token comes from the `token` query parameter, which is not part of the document name', async () => {
    const { authenticate, requests } = tokenTable({ 'query-token': writer })
    const server = await startTestServer({ store: new MemoryDocStore(), authenticate }, teardown)
    const client = await RawClient.connect(`${server.url}/notes?token=query-token&other=1`, teardown)
    await waitFor('the greeting', () => client.messagesOf('sync-step-1').length === 1)
    expect(requests.map(({ docName, token }) => ({ docName, token }))).toEqual([
      { docName: 'notes', token: 'query-token' },
    ])
    expect(server.sync.getRoom('notes')).toBeDefined()
  })

  it('[DN1] an invalid document name is refused with 4404 before the hook is asked', async () => {
    const { authenticate, requests } = tokenTable({ good: writer })
    const server = await startTestServer({ store: new MemoryDocStore(), authenticate }, teardown)
    const client = await RawClient.connect(`${server.url}/..%2Fescape?token=good`, teardown)
    expect(await client.waitForClose()).toBe(CloseCode.UnknownDocument)
    expect(requests).toEqual([])
  })

  it('[LV1] a connection the server does not read meanwhile (a slow hook) is not judged dead for being silent', async () => {
    // While its messages wait, the server does not read the socket, so it cannot hear the client's pongs either.
    // Counting that as silence terminated live clients (1006) whenever something held them back longer than the
    // timeout: under overload, hundreds at once.
    const server = await startTestServer(
      {
        store: new MemoryDocStore(),
        pingIntervalMs: 100,
        connectionTimeoutMs: 400,
        authenticate: () => new Promise<AuthResult>((resolve) => setTimeout(() => resolve(writer), 1_500)),
      },
      teardown,
    )
    const client = await RawClient.connect(`${server.url}/held`, teardown)
    const source = new UpdateSource(teardown)
    client.send(encodeSyncUpdate(source.type('kept')))
    client.send(encodeSyncStep1(new Uint8Array([0])))
    await waitFor('the answer after the hook decided', () => client.messagesOf('sync-step-2').length === 1, 5_000)
    expect(client.isOpen).toBe(true)
    expect(roomText(server, 'held')).toBe('kept')
    // Reading again, it is judged as any other: a live client that answers pings stays.
    await new Promise((resolve) => setTimeout(resolve, 800))
    expect(client.isOpen).toBe(true)
  })

  it('[AU1] messages sent while a slow hook decides are handled afterwards, in order', async () => {
    let decide: (result: AuthResult) => void = () => undefined
    const decision = new Promise<AuthResult>((resolve) => {
      decide = resolve
    })
    let asked = 0
    const server = await startTestServer(
      {
        store: new MemoryDocStore(),
        authenticate: () => {
          asked++
          return decision
        },
      },
      teardown,
    )
    const receivedBytes = countReceivedBytes(server)
    const client = await RawClient.connect(`${server.url}/slow`, teardown)
    await waitFor('the hook to be asked', () => asked === 1)
    const source = new UpdateSource(teardown)
    // Hello first: the save acknowledgement of the updates proves it was handled before them. The sync step 1
    // last: its answer holding both updates proves they were applied before it.
    const messages = [
      encodeHello([Capability.SaveAck, Capability.Heartbeat]),
      encodeSyncUpdate(source.type('first ')),
      encodeSyncUpdate(source.type('second')),
      encodeSyncStep1(new Uint8Array([0])),
      encodePing(),
    ]
    for (const message of messages) client.send(message)
    const sent = messages.reduce((sum, message) => sum + clientFrameBytes(message.length), 0)
    await waitFor('the server to receive every message', () => receivedBytes() >= sent)
    expect(client.received).toEqual([])
    expect(server.sync.roomCount).toBe(0)

    decide(writer)
    await waitFor('the save acknowledgement', () => client.messagesOf('saved').length > 0)
    const types = client.received.map((message) => message.type)
    expect(types.indexOf('hello')).toBe(0)
    expect(types.indexOf('hello')).toBeLessThan(types.indexOf('pong'))
    const answer = client.messagesOf('sync-step-2')
    expect(answer).toHaveLength(1)
    expect(textOfUpdates(answer[0]!.update)).toBe('first second')
    expect(client.messagesOf('saved').at(-1)?.count).toBe(2)
    expect(roomText(server, 'slow')).toBe('first second')
  })

  it('[AU1] a hook that throws or rejects closes with 4503 and logs why', async () => {
    for (const hook of [
      (): AuthResult => {
        throw new Error('verifier down')
      },
      async (): Promise<AuthResult> => {
        throw new Error('verifier down')
      },
    ]) {
      const { logger, lines } = capturingLogger()
      const server = await startTestServer({ store: new MemoryDocStore(), logger, authenticate: hook }, teardown)
      const client = await RawClient.connect(`${server.url}/doc?token=t`, teardown)
      expect(await client.waitForClose()).toBe(CloseCode.RetryLater)
      expect(client.received).toEqual([])
      const failures = lines.filter((line) => line.msg === 'failure in authenticate')
      expect(failures).toHaveLength(1)
      expect(failures[0]).toMatchObject({ level: 50, err: 'verifier down' })
      await waitFor('the connection to be forgotten', () => server.sync.connectionCount === 0)
    }
  })

  it('[AU1] tokens never appear in log lines, whatever happens to the connection', async () => {
    const { logger, lines } = capturingLogger()
    const tokens = {
      good: 'tok-good-7f3a9c',
      read: 'tok-read-51be02',
      forbidden: 'tok-forbidden-c0ffee',
      forged: 'tok-forged-deadbeef',
      throws: 'tok-throws-8d8d8d',
      expiring: 'tok-expiring-0a0a0a',
    }
    const authenticate: Authenticate = ({ token }) => {
      if (token === tokens.throws) throw new Error('the verifier is down')
      if (token === tokens.good) return { ok: true, access: 'write', user: 'alice' }
      if (token === tokens.read) return { ok: true, access: 'read', user: 'bob' }
      if (token === tokens.expiring) return { ok: true, access: 'write', expiresAt: Date.now() + 50 }
      if (token === tokens.forbidden) return { ok: false, code: 4403, reason: 'not yours' }
      return { ok: false, code: 4401, reason: 'invalid token' }
    }
    const server = await startTestServer(
      {
        store: new MemoryDocStore(),
        logger,
        authenticate,
        allowedOrigins: ['https://app.example'],
        pingIntervalMs: 20,
      },
      teardown,
    )
    const viaQuery = (token: string, doc = 'doc') => `${server.url}/${doc}?token=${token}`
    const good = await RawClient.connect(viaQuery(tokens.good), teardown)
    good.send(encodeSyncUpdate(new UpdateSource(teardown).type('x')))
    good.send(new Uint8Array([42]))
    expect(await good.waitForClose()).toBe(CloseCode.BadMessage)
    const read = await RawClient.connect(`${server.url}/doc`, teardown, {}, ['collab', `token.${tokens.read}`])
    read.send(encodeSyncUpdate(new UpdateSource(teardown).type('dropped')))
    await roundTrip(read)
    read.ws.close()
    for (const [token, code] of [
      [tokens.forbidden, CloseCode.Forbidden],
      [tokens.forged, CloseCode.NotAuthenticated],
      [tokens.throws, CloseCode.RetryLater],
      [tokens.expiring, CloseCode.NotAuthenticated],
    ] as const) {
      const client = await RawClient.connect(`${server.url}/doc`, teardown, {}, ['collab', `token.${token}`])
      expect(await client.waitForClose()).toBe(code)
    }
    const badName = await RawClient.connect(viaQuery(tokens.good, '%00'), teardown)
    expect(await badName.waitForClose()).toBe(CloseCode.UnknownDocument)
    // A refused origin is told so before the auth hook runs, even with a good token.
    const foreign = await RawClient.connect(viaQuery(tokens.good), teardown, { origin: 'https://evil.example' })
    expect(await foreign.waitForClose()).toBe(CloseCode.Forbidden)
    await waitFor('every connection to be forgotten', () => server.sync.connectionCount === 0)

    // Every path above logged something; none of it may carry a token.
    expect(lines.length).toBeGreaterThan(10)
    const logged = lines.map((line) => JSON.stringify(line)).join('\n')
    for (const token of Object.values(tokens)) expect(logged).not.toContain(token)
    expect(logged).toContain('alice')
  })
})

describe('[AU3] read-only connections', () => {
  it('[AU3] receive everything, but their updates are dropped, counted, logged and never acknowledged', async () => {
    const { logger, lines } = capturingLogger()
    const store = new MemoryDocStore()
    const { authenticate } = tokenTable({ writer, reader })
    const server = await startTestServer({ store, logger, authenticate }, teardown)
    const write = await RawClient.connect(`${server.url}/shared?token=writer`, teardown)
    write.send(encodeHello([Capability.SaveAck, Capability.Heartbeat]))
    const read = await RawClient.connect(`${server.url}/shared?token=reader`, teardown)
    read.send(encodeHello([Capability.SaveAck, Capability.Heartbeat]))
    await waitFor(
      'both hello answers',
      () => read.messagesOf('hello').length === 1 && write.messagesOf('hello').length === 1,
    )
    expect(read.messagesOf('hello')[0]!.capabilities).toContain(Capability.ReadOnly)
    expect(write.messagesOf('hello')[0]!.capabilities).not.toContain(Capability.ReadOnly)

    // The reader receives the writer's edits; the writer's are acknowledged.
    write.send(encodeSyncUpdate(new UpdateSource(teardown).type('written')))
    await waitFor('the relay to the reader', () => read.messagesOf('sync-update').length === 1)
    await waitFor("the writer's acknowledgement", () => write.messagesOf('saved').length === 1)
    const stateVector = Y.encodeStateVector(server.sync.getRoom('shared')!.doc)

    // 100 updates and one sync step 2 from the reader: all dropped.
    const source = new UpdateSource(teardown)
    for (let i = 0; i < 100; i++) read.send(encodeSyncUpdate(source.type(`${i} `)))
    read.send(encodeSyncStep2(Y.encodeStateAsUpdate(source.doc)))
    read.send(encodeSyncStep1(new Uint8Array([0])))
    await roundTrip(read)

    expect(read.isOpen).toBe(true)
    expect(roomText(server, 'shared')).toBe('written')
    expect(Y.encodeStateVector(server.sync.getRoom('shared')!.doc)).toEqual(stateVector)
    expect(textOfUpdates(...(await store.load('shared')))).toBe('written')
    // It still reads: its sync step 1 got the document.
    expect(textOfUpdates(read.messagesOf('sync-step-2').at(-1)!.update)).toBe('written')
    await roundTrip(write)
    expect(write.messagesOf('sync-update')).toEqual([])
    expect(read.messagesOf('saved')).toEqual([])
    const readConnection = connectionsOf(server, 'shared').find((conn) => conn.access === 'read')
    expect(readConnection?.droppedUpdates).toBe(101)
    const logged = lines.filter((line) => line.msg === 'update from a read-only connection dropped')
    expect(logged.map((line) => (line as { dropped?: number }).dropped)).toEqual([1, 100])
    expect(logged.every((line) => line.level === 40)).toBe(true)

    // It may share presence.
    read.send(awarenessMessage({ clientID: 4242, clock: 1, state: { name: 'reader' } }))
    await waitFor("the reader's presence", () => entriesFor(write, 4242).length === 1)
    expect(entriesFor(write, 4242)[0]!.state).toEqual({ name: 'reader' })
  })

  it('[AU3] a read-only hello sent before the hook decided is still answered with read-only', async () => {
    let decide: (result: AuthResult) => void = () => undefined
    const decision = new Promise<AuthResult>((resolve) => {
      decide = resolve
    })
    const server = await startTestServer({ store: new MemoryDocStore(), authenticate: () => decision }, teardown)
    const client = await RawClient.connect(`${server.url}/doc?token=t`, teardown)
    client.send(encodeHello([Capability.Heartbeat]))
    decide(reader)
    await waitFor('the hello answer', () => client.messagesOf('hello').length === 1)
    expect(client.messagesOf('hello')[0]!.capabilities).toContain(Capability.ReadOnly)
  })
})

describe('[AU4] expiry', () => {
  it('[AU4] a connection is closed with 4401 once its credentials expire, not before', async () => {
    let expiresAt = 0
    const server = await startTestServer(
      {
        store: new MemoryDocStore(),
        // The liveness sweep is what checks expiry; a short interval makes it exact to within 20 ms.
        pingIntervalMs: 20,
        authenticate: ({ token }) => {
          if (token !== 'expiring') return { ok: true, access: 'write' }
          expiresAt = Date.now() + 1_000
          return { ok: true, access: 'write', expiresAt }
        },
      },
      teardown,
    )
    const client = await RawClient.connect(`${server.url}/doc?token=expiring`, teardown)
    const other = await RawClient.connect(`${server.url}/doc?token=lasting`, teardown)
    client.send(awarenessMessage({ clientID: 9, clock: 1, state: { name: 'expiring' } }))
    await waitFor('the presence', () => entriesFor(other, 9).length === 1)
    expect(await client.waitForClose(3_000)).toBe(CloseCode.NotAuthenticated)
    const closedAt = Date.now()
    expect(client.closeEvent?.reason).toBe('credentials expired')
    expect(closedAt).toBeGreaterThanOrEqual(expiresAt)
    expect(closedAt - expiresAt).toBeLessThan(500)
    // Its presence goes with it; the connection without an expiry stays.
    await waitFor('the removal', () => entriesFor(other, 9).length === 2)
    expect(entriesFor(other, 9)[1]!.state).toBeNull()
    expect(other.isOpen).toBe(true)
  })
})
