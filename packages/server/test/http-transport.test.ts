import {
  Capability,
  decodeMessage,
  encodeAwareness,
  encodeHello,
  encodeSyncStep1,
  encodeSyncUpdate,
  type Message,
} from '@collab/protocol'
import { MemoryDocStore } from '@collab/storage'
import { listenOnLoopback } from '@collab/test-support'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { Awareness, encodeAwarenessUpdate } from 'y-protocols/awareness'
import * as Y from 'yjs'
import { createSyncServer, type SyncServerOptions } from '../src/index.js'
import { stockClient, synced, Teardown, waitFor } from './helpers.js'
import { HttpSyncClient, newSessionId, postFrames, serveHttpTransport } from './http-transport-client.js'

const teardown = new Teardown()
afterEach(() => teardown.run())

async function startServer(options: Partial<SyncServerOptions> = {}) {
  const sync = createSyncServer({
    store: new MemoryDocStore(),
    logger: pino({ level: 'silent' }),
    pingIntervalMs: 1_000,
    connectionTimeoutMs: 5_000,
    roomGraceMs: 100,
    ...options,
  })
  return listenOnLoopback(sync, { onRequest: serveHttpTransport(sync), teardown })
}

const hello = encodeHello([Capability.Heartbeat, Capability.SaveAck])

function decodeAll(messages: Uint8Array[]): Message[] {
  return messages.map((data) => {
    const decoded = decodeMessage(data)
    if (!decoded.ok) throw new Error(`the server sent an undecodable message: ${decoded.error}`)
    return decoded.message
  })
}

/** An update inserting `text` at the start of a fresh document of client `clientID`. */
function insertion(clientID: number, text: string): Uint8Array {
  const doc = new Y.Doc()
  doc.clientID = clientID
  doc.getText('codemirror').insert(0, text)
  return Y.encodeStateAsUpdate(doc)
}

describe('HTTP transport', () => {
  it('[HT3] [HT5] [HT6] an HTTP client co-edits with a WebSocket client: both directions, presence, saved', async () => {
    const server = await startServer()
    const ws = stockClient(server.url, 'shared', teardown)
    await synced(ws)
    ws.provider.awareness.setLocalStateField('user', { name: 'ws', color: '#00f' })
    const http = new HttpSyncClient(
      { bases: [server.url], docName: 'shared', waitMs: 5_000, user: { name: 'http', color: '#f00' } },
      teardown,
    )
    ws.text.insert(0, 'from ws. ')
    await waitFor('the WebSocket edit over HTTP', () => http.text.toString() === 'from ws. ')
    http.text.insert(http.text.length, 'from http.')
    await waitFor('the HTTP edit over WebSocket', () => ws.text.toString() === 'from ws. from http.')
    await waitFor('the HTTP edit acknowledged as stored', () => http.unsaved === 0 && http.acknowledged >= 1)
    await waitFor('presence both ways', () => {
      const httpSees = [...http.awareness.getStates().values()].some((s) => s.user?.name === 'ws')
      const wsSees = [...ws.provider.awareness.getStates().values()].some((s) => s.user?.name === 'http')
      return httpSees && wsSees
    })
    expect(server.sync.getRoom('shared')?.doc.getText('codemirror').toString()).toBe('from ws. from http.')
  })

  it('[HT5] [HT7] a poll is held while nothing is queued and answered with what the client lacks, once', async () => {
    const server = await startServer()
    const session = newSessionId()
    const base = server.url
    // The first request opens the session: greeting and the sync step 2 of [SY2].
    const first = await postFrames(base, 'held', `session=${session}&wait=5000`, [
      hello,
      encodeSyncStep1(new Uint8Array([0])),
    ])
    expect(decodeAll(first?.messages ?? []).map((m) => m.type)).toEqual(['hello', 'sync-step-1', 'sync-step-2'])
    // The client's own update is acknowledged in its answer and never sent back to it.
    const own = insertion(11, 'own ')
    const send = await postFrames(base, 'held', `session=${session}`, [hello, encodeSyncUpdate(own)])
    expect(decodeAll(send?.messages ?? [])).toEqual([{ type: 'saved', count: 1 }])
    const clientDoc = new Y.Doc()
    Y.applyUpdate(clientDoc, own)
    // Nothing is queued: the poll waits until another client's update arrives, and brings exactly that.
    const poll = postFrames(base, 'held', `session=${session}&wait=15000`, [
      hello,
      encodeSyncStep1(Y.encodeStateVector(clientDoc)),
    ])
    let answered = false
    void poll.then(() => (answered = true))
    // Another client's update, applied through the engine's API, while the poll is held.
    await waitFor('the poll to be held', () => server.sync.connectionCount === 1)
    expect(answered).toBe(false)
    await server.sync.applyUpdate('held', insertion(22, 'other '))
    const answer = decodeAll((await poll)?.messages ?? [])
    expect(answer.map((m) => m.type)).toEqual(['sync-update'])
    const first_ = answer[0]
    if (first_?.type !== 'sync-update') throw new Error('expected an update')
    Y.applyUpdate(clientDoc, first_.update)
    expect(clientDoc.getText('codemirror').toString()).toContain('other ')
    expect(clientDoc.getText('codemirror').toString()).toContain('own ')
    // A queued update the client already holds (it got it elsewhere) is not sent again: the poll stays held.
    const third = insertion(33, 'third ')
    Y.applyUpdate(clientDoc, third)
    await server.sync.applyUpdate('held', third)
    const empty = await postFrames(base, 'held', `session=${session}&wait=300`, [
      hello,
      encodeSyncStep1(Y.encodeStateVector(clientDoc)),
    ])
    expect(empty?.status).toBe(200)
    expect(empty?.messages).toEqual([])
  })

  it('[HT4] a new poll answers the open one at once; more than 4 open requests are refused with 4429', async () => {
    const server = await startServer()
    const session = newSessionId()
    const q = `session=${session}&wait=15000`
    await postFrames(server.url, 'polls', q, [hello, encodeSyncStep1(new Uint8Array([0]))])
    const older = postFrames(server.url, 'polls', q, [hello])
    await waitFor('the older poll to be held', () => server.sync.connectionCount === 1)
    const newer = postFrames(server.url, 'polls', `session=${session}&wait=300`, [hello])
    expect((await older)?.status).toBe(200)
    expect((await newer)?.status).toBe(200)
    // Four sends waiting for a storage write that does not end yet: a fifth request is refused.
    const store = new GatedStore()
    const gated = await startServer({ store })
    const sendSession = newSessionId()
    const sends = Array.from({ length: 4 }, (_, i) =>
      postFrames(gated.url, 'gated', `session=${sendSession}`, [hello, encodeSyncUpdate(insertion(100 + i, `${i}`))]),
    )
    await waitFor('four appends waiting', () => store.waiting === 4)
    const refused = await postFrames(gated.url, 'gated', `session=${sendSession}`, [hello])
    expect(refused).toMatchObject({ status: 429, close: { code: 4429 } })
    store.open()
    for (const send of sends)
      expect(decodeAll((await send)?.messages ?? [])).toContainEqual({ type: 'saved', count: 1 })
  })

  it('[LM2] a session over its message budget is slowed, not refused: every message is handled and acknowledged', async () => {
    const server = await startServer({ limits: { messagesPerSecond: 20, messageBurst: 5 } })
    const session = newSessionId()
    const updates = Array.from({ length: 20 }, (_, i) => encodeSyncUpdate(insertion(200 + i, 'x')))
    const answer = await postFrames(server.url, 'budget', `session=${session}`, [hello, ...updates])
    expect(answer?.status).toBe(200)
    expect(decodeAll(answer?.messages ?? [])).toContainEqual({ type: 'saved', count: 20 })
    expect(server.sync.getRoom('budget')?.doc.getText('codemirror').length).toBe(20)
  })

  it('[HT6] a resend after a lost answer is applied once, stored once and acknowledged again', async () => {
    const store = new MemoryDocStore()
    const server = await startServer({ store })
    const update = encodeSyncUpdate(insertion(301, 'once'))
    const first = await postFrames(server.url, 'resend', `session=${newSessionId()}`, [hello, update])
    expect(decodeAll(first?.messages ?? [])).toContainEqual({ type: 'saved', count: 1 })
    const recordsAfterFirst = (await store.load('resend')).length
    // The client never saw that answer: it starts a new session and sends the same content again.
    const again = await postFrames(server.url, 'resend', `session=${newSessionId()}`, [hello, update])
    expect(decodeAll(again?.messages ?? [])).toContainEqual({ type: 'saved', count: 1 })
    await server.sync.getRoom('resend')?.written()
    expect((await store.load('resend')).length).toBe(recordsAfterFirst)
    expect(server.sync.getRoom('resend')?.doc.getText('codemirror').toString()).toBe('once')
  })

  it('[HT8] a held poll keeps a session alive; a client that stops polling is removed for others', async () => {
    const server = await startServer({ pingIntervalMs: 200, connectionTimeoutMs: 1_000 })
    const ws = stockClient(server.url, 'gone', teardown)
    await synced(ws)
    // Polls held for three times the timeout: the open request is what keeps the session alive.
    const http = new HttpSyncClient(
      { bases: [server.url], docName: 'gone', waitMs: 3_000, user: { name: 'leaver', color: '#0f0' } },
      teardown,
    )
    const id = http.doc.clientID
    await waitFor('the HTTP client present', () => ws.provider.awareness.getStates().has(id))
    let removed = false
    ws.provider.awareness.on('change', ({ removed: gone }: { removed: number[] }) => {
      if (gone.includes(id)) removed = true
    })
    await new Promise((resolve) => setTimeout(resolve, 2_500))
    expect(removed).toBe(false)
    expect(http.sessions).toBe(1)
    http.stop()
    await waitFor('the HTTP client removed', () => !ws.provider.awareness.getStates().has(id), 5_000)
    await waitFor('the session gone', () => server.sync.connectionCount === 1)
  })

  it('[HT8] end=1 stores what it carries, ends the session at once (presence too), and an end that overtakes a first request keeps it from opening', async () => {
    // A long liveness bound: only the end can explain a prompt removal.
    const server = await startServer({ pingIntervalMs: 1_000, connectionTimeoutMs: 30_000 })
    const watcher = stockClient(server.url, 'ending', teardown)
    await synced(watcher)
    const session = newSessionId()
    const awareness = new Awareness(new Y.Doc())
    teardown.defer(() => awareness.destroy())
    awareness.setLocalStateField('user', { name: 'leaving' })
    const presence = encodeAwareness(encodeAwarenessUpdate(awareness, [awareness.clientID]))
    const opened = await postFrames(server.url, 'ending', `session=${session}`, [hello, presence])
    expect(opened?.status).toBe(200)
    await waitFor('present', () => watcher.provider.awareness.getStates().has(awareness.clientID))
    expect(server.sync.connectionCount).toBe(2)
    const last = await postFrames(server.url, 'ending', `session=${session}&wait=20000&end=1`, [
      hello,
      encodeSyncUpdate(insertion(4242, 'said on the way out')),
    ])
    // Answered at once, with the acknowledgement of what it carried: the end does not drop the last messages.
    expect(last?.status).toBe(200)
    expect(decodeAll(last?.messages ?? []).some((m) => m.type === 'saved')).toBe(true)
    expect(server.sync.connectionCount).toBe(1)
    await waitFor('removed for the others', () => !watcher.provider.awareness.getStates().has(awareness.clientID))
    await waitFor('the text relayed', () => watcher.text.toString() === 'said on the way out')
    const after = await postFrames(server.url, 'ending', `session=${session}`, [hello])
    expect(after?.close?.code).toBe(1000)

    // The end arrives before the session's first request (another TCP connection overtook it).
    const overtaken = newSessionId()
    const end = await postFrames(server.url, 'ending', `session=${overtaken}&end=1`, [hello])
    expect(end?.status).toBe(200)
    const late = await postFrames(server.url, 'ending', `session=${overtaken}`, [hello])
    expect(late?.close?.code).toBe(1000)
    expect(server.sync.connectionCount).toBe(1)
    const bad = await postFrames(server.url, 'ending', `session=${newSessionId()}&end=yes`, [hello])
    expect(bad).toMatchObject({ status: 400, close: { code: 4400 } })
  })

  it('[HT9] [HT10] refusals answer the close code: no token 4401, another document 4403, read-only gets no saved', async () => {
    const server = await startServer({
      authenticate: ({ token, docName }) => {
        if (token === null) return { ok: false, code: 4401, reason: 'a token is required' }
        if (token === 'reader') return { ok: true, access: 'read', user: 'reader' }
        if (docName !== 'mine') return { ok: false, code: 4403, reason: 'not yours' }
        return { ok: true, access: 'write', user: token }
      },
    })
    const q = () => `session=${newSessionId()}`
    const noToken = await postFrames(server.url, 'mine', q(), [hello])
    expect(noToken).toMatchObject({ status: 401, close: { code: 4401, reason: 'a token is required' } })
    const other = await postFrames(server.url, 'theirs', q(), [hello], { headers: { authorization: 'Bearer alice' } })
    expect(other).toMatchObject({ status: 403, close: { code: 4403, reason: 'not yours' } })
    // A token in the query string is not looked at ([HT1]).
    const inUrl = await postFrames(server.url, 'mine', `${q()}&token=alice`, [hello])
    expect(inUrl?.close?.code).toBe(4401)
    const reader = await postFrames(server.url, 'mine', q(), [hello, encodeSyncUpdate(insertion(401, 'no'))], {
      headers: { authorization: 'Bearer reader' },
    })
    expect(reader?.status).toBe(200)
    const types = decodeAll(reader?.messages ?? []).map((m) => m.type)
    expect(types).not.toContain('saved')
    expect(server.sync.getRoom('mine')?.doc.getText('codemirror').toString()).toBe('')
    // The session is bound to its user.
    const session = newSessionId()
    const own = await postFrames(server.url, 'mine', `session=${session}`, [hello], {
      headers: { authorization: 'Bearer alice' },
    })
    expect(own?.status).toBe(200)
    const stolen = await postFrames(server.url, 'mine', `session=${session}`, [hello], {
      headers: { authorization: 'Bearer mallory' },
    })
    expect(stolen).toMatchObject({ status: 403, close: { code: 4403 } })
  })

  it('[OR1] [HT9] an origin off the allowlist is refused with 4403; bad sessions and frames with 4400', async () => {
    const server = await startServer({ allowedOrigins: ['https://app.example'] })
    const session = `session=${newSessionId()}`
    const refused = await postFrames(server.url, 'o', session, [hello], { headers: { origin: 'https://evil.example' } })
    expect(refused).toMatchObject({ status: 403, close: { code: 4403 } })
    const allowed = await postFrames(server.url, 'o', session, [hello], { headers: { origin: 'https://app.example' } })
    expect(allowed?.status).toBe(200)
    const badSession = await postFrames(server.url, 'o', 'session=short', [hello])
    expect(badSession).toMatchObject({ status: 400, close: { code: 4400 } })
    // A frame whose length runs past the body.
    const truncated = await rawPost(server.url, 'o', `session=${newSessionId()}`, new Uint8Array([5, 1, 2]))
    expect(truncated).toMatchObject({ status: 400, code: '4400' })
    // A message the decoder refuses closes the session as it would a WebSocket ([PR1]); the close is remembered.
    const badSessionId = newSessionId()
    const bad = await postFrames(server.url, 'o', `session=${badSessionId}`, [hello, new Uint8Array([0, 9])])
    expect(bad).toMatchObject({ status: 400, close: { code: 4400 } })
    const after = await postFrames(server.url, 'o', `session=${badSessionId}`, [hello])
    expect(after).toMatchObject({ status: 400, close: { code: 4400 } })
  })

  it('[LM5] sessions count as connections of their address', async () => {
    const server = await startServer({ limits: { connectionsPerAddress: 2 } })
    for (let i = 0; i < 2; i++) {
      expect((await postFrames(server.url, 'a', `session=${newSessionId()}`, [hello]))?.status).toBe(200)
    }
    const third = await postFrames(server.url, 'a', `session=${newSessionId()}`, [hello])
    expect(third).toMatchObject({ status: 429, close: { code: 4429 } })
  })

  it('[DL1] [HT9] a held poll gets the close of a deleted document, and so does the next request of its session', async () => {
    const server = await startServer()
    const session = newSessionId()
    const update = insertion(5, 'x')
    await postFrames(server.url, 'doomed', `session=${session}`, [
      hello,
      encodeSyncStep1(new Uint8Array([0])),
      encodeSyncUpdate(update),
    ])
    const clientDoc = new Y.Doc()
    Y.applyUpdate(clientDoc, update)
    const poll = postFrames(server.url, 'doomed', `session=${session}&wait=15000`, [
      hello,
      encodeSyncStep1(Y.encodeStateVector(clientDoc)),
    ])
    let answered = false
    void poll.then(() => (answered = true))
    await waitFor('the room idle but for the session', () => server.sync.getRoom('doomed')?.isReady === true)
    expect(answered).toBe(false)
    await server.sync.deleteDocument('doomed')
    expect(await poll).toMatchObject({ status: 404, close: { code: 4404, reason: 'document deleted' } })
    const next = await postFrames(server.url, 'doomed', `session=${session}`, [hello])
    expect(next).toMatchObject({ status: 404, close: { code: 4404 } })
  })

  it('[HT10] a client whose session copy ended while it was away is told, and reappears with a higher clock', async () => {
    const server = await startServer({ pingIntervalMs: 200, connectionTimeoutMs: 600 })
    const watcher = stockClient(server.url, 'again', teardown)
    await synced(watcher)
    const http = new HttpSyncClient(
      { bases: [server.url], docName: 'again', waitMs: 300, user: { name: 'back', color: '#123' } },
      teardown,
    )
    const id = http.doc.clientID
    await waitFor('present', () => watcher.provider.awareness.getStates().has(id))
    const clock = http.awareness.meta.get(id)?.clock ?? 0
    // Away for longer than the bound: the server ends the session and removes the client for the others.
    http.pause()
    await waitFor('removed while away', () => !watcher.provider.awareness.getStates().has(id), 5_000)
    // Back with the same session id: a new copy, whose first poll carries the old clock, which the room refuses.
    http.resume()
    await waitFor('present again', () => watcher.provider.awareness.getStates().has(id), 5_000)
    expect(watcher.provider.awareness.meta.get(id)?.clock).toBeGreaterThan(clock)
    expect(http.sessions).toBe(1)
  })
})

/** A store whose appends wait until {@link GatedStore.open} is called. */
class GatedStore extends MemoryDocStore {
  waiting = 0
  private gate: Promise<void>
  private unblock: () => void = () => undefined

  constructor() {
    super()
    this.gate = new Promise((resolve) => (this.unblock = resolve))
  }

  open(): void {
    this.unblock()
  }

  override async append(...args: Parameters<MemoryDocStore['append']>): Promise<void> {
    this.waiting++
    await this.gate
    return super.append(...args)
  }
}

/** A POST with a raw body, for bodies the framing cannot express. */
async function rawPost(base: string, docName: string, query: string, body: Uint8Array) {
  const response = await fetch(`${base.replace(/^ws/, 'http')}/api/docs/${docName}/http?${query}`, {
    method: 'POST',
    body,
  })
  return { status: response.status, code: response.headers.get('collab-close') }
}
