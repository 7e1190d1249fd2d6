import { Capability, encodeHello, encodeSyncStep1, encodeSyncUpdate } from '@collab/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { HttpSyncClient, newSessionId, postFrames } from '../../../packages/server/test/http-transport-client.js'
import { bearer, rawRequest, start, stockClient, teardown, textUpdate, tokenFor, waitFor } from './http-support.js'

afterEach(() => teardown.run())

const hello = encodeHello([Capability.Heartbeat, Capability.SaveAck])

describe('the HTTP transport of the app server', () => {
  it('[HT1] [HT3] POST /api/docs/<name>/http co-edits with a WebSocket client under JWT auth', async () => {
    const server = await start({ authSecret: 'http-api-test-secret-0123456789-abcdefgh' })
    const token = await tokenFor({ 'team/*': 'write' }, 'http-user')
    const ws = stockClient(server, 'team/notes', token)
    const http = new HttpSyncClient({ bases: [server.url], docName: 'team/notes', token, waitMs: 5_000 }, teardown)
    ws.text.insert(0, 'ws ')
    await waitFor('the WebSocket edit over HTTP', () => http.text.toString() === 'ws ')
    http.text.insert(3, 'http')
    await waitFor('the HTTP edit over WebSocket', () => ws.text.toString() === 'ws http')
    await waitFor('the HTTP edit saved', () => http.unsaved === 0 && http.acknowledged > 0)
    // The request log names the route, never the session or the token.
    await waitFor('a logged request', () =>
      server.logs.some((line) => line.msg === 'request' && line.path === '/api/docs/team%2Fnotes/http'),
    )
    expect(server.logText()).not.toContain(token)
  })

  it('[HT9] [AU2] refusals carry the close code: 4401 without a token, 4403 for another document', async () => {
    const server = await start({ authSecret: 'http-api-test-secret-0123456789-abcdefgh' })
    const session = () => `session=${newSessionId()}`
    const none = await postFrames(server.url, 'doc', session(), [hello])
    expect(none).toMatchObject({ status: 401, close: { code: 4401 } })
    const token = await tokenFor({ mine: 'write' })
    const other = await postFrames(server.url, 'theirs', session(), [hello], { headers: bearer(token) })
    expect(other).toMatchObject({ status: 403, close: { code: 4403 } })
    const reader = await tokenFor({ mine: 'read' })
    const read = await postFrames(server.url, 'mine', session(), [hello, encodeSyncUpdate(textUpdate('no'))], {
      headers: bearer(reader),
    })
    expect(read?.status).toBe(200)
  })

  it('[HT2] a body over --max-body-bytes is 413 with 1009; a bad session is 400 with 4400 and a JSON reason', async () => {
    const server = await start({ maxBodyBytes: 1_024 })
    const big = await postFrames(server.url, 'big', `session=${newSessionId()}`, [hello, new Uint8Array(2_000)])
    expect(big).toMatchObject({ status: 413, close: { code: 1009 } })
    const bad = await rawRequest(server, '/api/docs/x/http?session=nope', { method: 'POST', body: new Uint8Array() })
    expect(bad.status).toBe(400)
    expect(bad.headers['collab-close']).toBe('4400')
    expect(JSON.parse(bad.body)).toMatchObject({ code: 4400 })
  })

  it('[OR1] [SD2] CORS: an allowed origin gets its preflight and may read Collab-Close; another is refused', async () => {
    const server = await start({ allowedOrigins: ['https://app.example'] })
    const path = `/api/docs/cors/http?session=${newSessionId()}`
    const preflight = await rawRequest(server, path, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers['access-control-allow-methods']).toBe('POST')
    expect(preflight.headers['access-control-allow-headers']).toContain('authorization')
    const answer = await postFrames(server.url, 'cors', path.split('?')[1] as string, [hello], {
      headers: { origin: 'https://app.example' },
    })
    expect(answer?.status).toBe(200)
    const raw = await rawRequest(server, path, {
      method: 'POST',
      headers: { origin: 'https://app.example', 'content-type': 'application/octet-stream' },
      body: new Uint8Array(),
    })
    expect(raw.headers['access-control-allow-origin']).toBe('https://app.example')
    expect(raw.headers['access-control-expose-headers']).toContain('collab-close')
    const refused = await postFrames(server.url, 'cors', `session=${newSessionId()}`, [hello], {
      headers: { origin: 'https://evil.example' },
    })
    expect(refused?.status).toBe(403)
  })

  it('[HT9] a request during shutdown is answered 503 with 1001', async () => {
    const server = await start()
    const session = newSessionId()
    const doc = new Y.Doc()
    const first = await postFrames(server.url, 'bye', `session=${session}`, [
      hello,
      encodeSyncStep1(Y.encodeStateVector(doc)),
    ])
    expect(first?.status).toBe(200)
    const poll = postFrames(server.url, 'bye', `session=${session}&wait=15000`, [
      hello,
      encodeSyncStep1(Y.encodeStateVector(doc)),
    ])
    let connections = 0
    await waitFor('the session open', async () => {
      connections = (JSON.parse((await rawRequest(server, '/healthz')).body) as { connections: number }).connections
      return connections === 1
    })
    const closing = server.close()
    expect(await poll).toMatchObject({ status: 503, close: { code: 1001 } })
    await closing
  })
})
