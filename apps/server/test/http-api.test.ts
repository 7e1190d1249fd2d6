import { createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { UpdateRefusedError } from '@collab/server'
import { type DocInfo, type DocStore, MemoryDocStore } from '@collab/storage'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { createRequestHandler } from '../src/http-routes.js'
import { ServerMetrics } from '../src/metrics.js'
import {
  bearer,
  post,
  rawRequest,
  rawSocket,
  sample,
  secret,
  start,
  statusBeforeBody,
  stockClient,
  teardown,
  textOf,
  textUpdate,
  tokenFor,
  waitFor,
} from './http-support.js'

// The HTTP API of the app server, in process: every endpoint, its auth and its refusals. Metrics: metrics.test.ts.

afterEach(() => teardown.run())

describe('health and readiness', () => {
  it('/healthz keeps its figures; /readyz answers ready while storage answers', async () => {
    const server = await start()
    const health = await fetch(`${server.url}/healthz`)
    expect(health.status).toBe(200)
    expect(await health.json()).toMatchObject({
      status: 'ok',
      rooms: 0,
      connections: 0,
      memory: { rssBytes: expect.any(Number), heapUsedBytes: expect.any(Number) },
      uptimeSeconds: expect.any(Number),
    })
    const ready = await fetch(`${server.url}/readyz`)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toEqual({ status: 'ready' })
  })

  it('/readyz is 503 while the server shuts down, and so are writes', async () => {
    let releaseFlush = () => {}
    const flushGate = new Promise<void>((resolve) => {
      releaseFlush = resolve
    })
    const store = new MemoryDocStore()
    let gated = false
    const slowFlush: DocStore = Object.assign(Object.create(store) as DocStore, {
      flush: () => (gated ? flushGate.then(() => store.flush()) : store.flush()),
    })
    const server = await start({ store: slowFlush })
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200)
    gated = true
    const closed = server.close()
    await waitFor('/readyz to answer 503', async () => (await fetch(`${server.url}/readyz`)).status === 503)
    expect(await (await fetch(`${server.url}/readyz`)).json()).toEqual({ status: 'shutting down' })
    expect((await fetch(`${server.url}/healthz`)).status).toBe(503)
    const write = await post(`${server.url}/api/docs/late/updates`, textUpdate('too late'))
    expect(write.status).toBe(503)
    expect(write.headers.get('retry-after')).toBe('5')
    releaseFlush()
    await closed
  })

  it('/readyz is 503 with the reason when the storage check fails', async () => {
    const store = new MemoryDocStore()
    const broken: DocStore = Object.assign(Object.create(store) as DocStore, {
      load: async () => {
        throw new Error('disk on fire')
      },
    })
    const server = await start({ store: broken })
    const ready = await fetch(`${server.url}/readyz`)
    expect(ready.status).toBe(503)
    expect(await ready.json()).toEqual({ status: 'storage unavailable', error: 'disk on fire' })
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200)
  })
})

describe('documents', () => {
  it('GET answers the text by default and the Yjs state for Accept: application/octet-stream', async () => {
    const server = await start()
    expect((await post(`${server.url}/api/docs/notes%2Fhello/updates`, textUpdate('Hello, API'))).status).toBe(204)

    const text = await fetch(`${server.url}/api/docs/notes%2Fhello`)
    expect(text.status).toBe(200)
    expect(text.headers.get('content-type')).toBe('text/plain; charset=utf-8')
    expect(text.headers.get('x-content-type-options')).toBe('nosniff')
    expect(await text.text()).toBe('Hello, API')
    const explicit = await fetch(`${server.url}/api/docs/notes%2Fhello`, { headers: { accept: 'text/plain' } })
    expect(await explicit.text()).toBe('Hello, API')

    const binary = await fetch(`${server.url}/api/docs/notes%2Fhello`, {
      headers: { accept: 'application/octet-stream' },
    })
    expect(binary.headers.get('content-type')).toBe('application/octet-stream')
    expect(textOf(new Uint8Array(await binary.arrayBuffer()))).toBe('Hello, API')
    const preferred = await fetch(`${server.url}/api/docs/notes%2Fhello`, {
      headers: { accept: 'text/plain;q=0.5, application/octet-stream' },
    })
    expect(preferred.headers.get('content-type')).toBe('application/octet-stream')
    const wildcard = await fetch(`${server.url}/api/docs/notes%2Fhello`, { headers: { accept: '*/*' } })
    expect(wildcard.headers.get('content-type')).toBe('text/plain; charset=utf-8')
    const json = await fetch(`${server.url}/api/docs/notes%2Fhello`, { headers: { accept: 'application/json' } })
    expect(json.status).toBe(406)

    const list = (await (await fetch(`${server.url}/api/docs`)).json()) as { docs: DocInfo[] }
    expect(list.docs).toMatchObject([{ name: 'notes/hello', bytes: expect.any(Number) }])
  })

  it('unknown documents are 404 JSON; invalid names and paths are refused', async () => {
    const server = await start()
    const missing = await fetch(`${server.url}/api/docs/nothing-here`)
    expect(missing.status).toBe(404)
    expect(missing.headers.get('content-type')).toMatch(/^application\/json/)
    expect(await missing.json()).toEqual({ error: 'no such document' })
    expect((await fetch(`${server.url}/api/docs/nothing-here`, { method: 'DELETE' })).status).toBe(404)
    for (const bad of ['%2Fleading', 'a%2F..%2Fb', '%E0%A4%A', '%00']) {
      const refused = await fetch(`${server.url}/api/docs/${bad}`)
      expect(refused.status, bad).toBe(400)
      expect(((await refused.json()) as { error: string }).error, bad).toMatch(/document name/)
    }
    expect((await fetch(`${server.url}/api/docs/a/b`)).status).toBe(404)
    expect((await fetch(`${server.url}/api/docs/a/b/c`)).status).toBe(404)
    const wrongMethod = await fetch(`${server.url}/api/docs/a`, { method: 'PUT' })
    expect(wrongMethod.status).toBe(405)
    expect(wrongMethod.headers.get('allow')).toBe('GET, DELETE')
  })

  it('POST reaches connected clients at once and is stored when it answers 204', async () => {
    const server = await start()
    const client = stockClient(server, 'live')
    await waitFor('the client to sync', () => client.provider.synced)
    client.text.insert(0, 'typed. ')
    await waitFor('the typed text to be stored', async () => {
      return (await (await fetch(`${server.url}/api/docs/live`)).text()) === 'typed. '
    })
    // An update that builds on the document, as an app would make it: from the current state.
    const state = new Uint8Array(
      await (
        await fetch(`${server.url}/api/docs/live`, { headers: { accept: 'application/octet-stream' } })
      ).arrayBuffer(),
    )
    const edit = new Y.Doc()
    Y.applyUpdate(edit, state)
    const before = Y.encodeStateVector(edit)
    edit.getText('codemirror').insert(7, 'posted.')
    const update = Y.encodeStateAsUpdate(edit, before)
    edit.destroy()

    const answered = await post(`${server.url}/api/docs/live/updates`, update)
    expect(answered.status).toBe(204)
    await waitFor('the client to see the posted text', () => client.text.toString() === 'typed. posted.', 1_000)
    expect(await (await fetch(`${server.url}/api/docs/live`)).text()).toBe('typed. posted.')
  })

  it('[PR2] an invalid update is 400 and leaves the document unchanged; bad bodies are refused', async () => {
    const server = await start({ maxBodyBytes: 1024 })
    await post(`${server.url}/api/docs/kept/updates`, textUpdate('original'))
    const stateOf = async () =>
      new Uint8Array(
        await (
          await fetch(`${server.url}/api/docs/kept`, { headers: { accept: 'application/octet-stream' } })
        ).arrayBuffer(),
      )
    const before = await stateOf()
    const valid = textUpdate('x'.repeat(20))
    for (const garbage of [valid.slice(0, valid.length - 3), new Uint8Array([1, 2, 3])]) {
      const refused = await post(`${server.url}/api/docs/kept/updates`, garbage)
      expect(refused.status).toBe(400)
      // The engine's reason, as a WebSocket sender would get it with 4400.
      expect(await refused.json()).toEqual({ error: expect.stringMatching(/^the update does not decode/) })
      expect(refused.headers.get('retry-after')).toBeNull()
    }
    const empty = await post(`${server.url}/api/docs/kept/updates`, new Uint8Array(0))
    expect(empty.status).toBe(400)
    expect(await empty.json()).toEqual({ error: 'the body is empty: send one Yjs update' })
    expect(await stateOf()).toEqual(before)
    expect(await (await fetch(`${server.url}/api/docs/kept`)).text()).toBe('original')
    // A bad update does not create the document it names either.
    expect((await post(`${server.url}/api/docs/never/updates`, new Uint8Array([1, 2, 3]))).status).toBe(400)
    expect((await fetch(`${server.url}/api/docs/never`)).status).toBe(404)
    // One that decodes but is inadmissible (no structs; a delete set of client 5 with an empty range at clock 0):
    // refused with the reason, not a 503 to retry forever, and no document left behind for the grace period.
    const emptyRange = await post(`${server.url}/api/docs/never/updates`, new Uint8Array([0, 1, 5, 1, 0, 0]))
    expect(emptyRange.status).toBe(400)
    expect(await emptyRange.json()).toEqual({ error: 'the delete set has an empty range' })
    expect((await fetch(`${server.url}/api/docs/never`)).status).toBe(404)

    const asText = await post(`${server.url}/api/docs/kept/updates`, textUpdate('form'), {
      'content-type': 'text/plain',
    })
    expect(asText.status).toBe(415)
  })

  it('[PR2] an update the engine refuses is 400, 409 or 410 with its reason, not a 503 to retry; storage failures stay 503', async () => {
    // The engine's errors, as it throws them from applyUpdate (issue 12: one admission path for updates).
    const thrown: Record<string, Error> = {
      invalid: new UpdateRefusedError({ kind: 'invalid', reason: 'the delete set has an empty range' }),
      deleted: new UpdateRefusedError({ kind: 'deleted', reason: 'the update holds content of a deleted document' }),
      missing: new UpdateRefusedError({
        kind: 'missing',
        reason: 'the update refers to 7:3, which this document lacks',
      }),
      storage: new Error('disk full'),
    }
    const metrics = new ServerMetrics()
    const http = createServer(
      createRequestHandler({
        store: new MemoryDocStore(),
        sync: {
          getDocument: async () => null,
          applyUpdate: async (name) => {
            throw thrown[name]
          },
          deleteDocument: async () => false,
        },
        logger: pino({ level: 'silent' }),
        webRoot: undefined,
        auth: { verifier: null, devTokens: null },
        metrics,
        metricsToken: undefined,
        maxBodyBytes: 1024,
        trustedProxies: null,
        policy: { allowedHosts: [], allowedOrigins: null },
        stats: () => ({ rooms: 0, connections: 0 }),
        isShuttingDown: () => false,
        checkStorage: async () => null,
      }),
    )
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    teardown.defer(() => {
      metrics.clear()
      return new Promise((resolve) => http.close(resolve))
    })
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`
    const answer = async (name: string) => {
      const res = await post(`${url}/api/docs/${name}/updates`, textUpdate('x'))
      return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() }
    }
    expect(await answer('invalid')).toEqual({
      status: 400,
      retryAfter: null,
      body: { error: 'the delete set has an empty range' },
    })
    expect(await answer('deleted')).toMatchObject({ status: 410, retryAfter: null })
    expect(await answer('missing')).toMatchObject({ status: 409, retryAfter: null })
    expect(await answer('storage')).toMatchObject({ status: 503, retryAfter: '5' })
  })

  it('an oversized body is 413 without the server reading it', async () => {
    const server = await start({ maxBodyBytes: 1024 })
    const url = `${server.url}/api/docs/big/updates`
    const type = { 'content-type': 'application/octet-stream' }
    // Announced too large: answered after 10 of its 10 MB were sent.
    expect(await statusBeforeBody(url, { ...type, 'content-length': String(10_000_000) }, 10)).toBe(413)
    // Announced too large with Expect: answered before a single byte of the body.
    expect(
      await statusBeforeBody(url, { ...type, 'content-length': String(10_000_000), expect: '100-continue' }, 0),
    ).toBe(413)
    // Not announced (chunked): refused once it passes the limit, without waiting for the end.
    expect(await statusBeforeBody(url, { ...type, 'transfer-encoding': 'chunked' }, 4096)).toBe(413)
    expect((await fetch(`${server.url}/api/docs/big`)).status).toBe(404)
    // Just under the limit is fine.
    expect((await post(url, textUpdate('fits'))).status).toBe(204)
  })

  it('a client that leaves in the middle of its body is logged as 499, not as a server error', async () => {
    const server = await start()
    const req = request(`${server.url}/api/docs/left/updates`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'content-length': '500' },
    })
    req.on('error', () => undefined)
    req.write(Buffer.alloc(100, 1))
    await new Promise((resolve) => setTimeout(resolve, 50))
    req.destroy()
    await waitFor('the request log line', () => server.logs.some((line) => line.path === '/api/docs/left/updates'))
    expect(server.logs.find((line) => line.path === '/api/docs/left/updates')).toMatchObject({ status: 499, level: 30 })
    expect(server.logs.filter((line) => line.msg === 'request failed')).toEqual([])
    expect((await fetch(`${server.url}/api/docs/left`)).status).toBe(404)
  })

  it('DELETE closes the connected clients with 4404 and removes the document', async () => {
    const server = await start()
    await post(`${server.url}/api/docs/team%2Fdoomed/updates`, textUpdate('short-lived'))
    const socket = await rawSocket(server, 'team%2Fdoomed')
    const deleted = await fetch(`${server.url}/api/docs/team%2Fdoomed`, { method: 'DELETE' })
    expect(deleted.status).toBe(204)
    expect(await socket.closed).toBe(4404)
    expect((await fetch(`${server.url}/api/docs/team%2Fdoomed`)).status).toBe(404)
    expect((await (await fetch(`${server.url}/api/docs`)).json()) as { docs: DocInfo[] }).toEqual({ docs: [] })
    expect((await fetch(`${server.url}/api/docs/team%2Fdoomed`, { method: 'DELETE' })).status).toBe(404)
  })
})

describe('authentication', () => {
  it('[AU2] GET needs read, POST and DELETE need write; 401 and 403 are JSON', async () => {
    const server = await start({ authSecret: secret })
    const url = `${server.url}/api/docs/team%2Fplan`
    const writer = await tokenFor({ 'team/*': 'write' })
    const reader = await tokenFor({ 'team/plan': 'read' })
    const stranger = await tokenFor({ 'other/*': 'write' })

    const anonymous = await post(`${url}/updates`, textUpdate('no'))
    expect(anonymous.status).toBe(401)
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer')
    expect(await anonymous.json()).toEqual({ error: 'a token is required' })
    expect((await fetch(url)).status).toBe(401)
    expect((await fetch(url, { method: 'DELETE' })).status).toBe(401)
    const forged = await fetch(url, { headers: bearer(`${writer.slice(0, -4)}AAAA`) })
    expect(forged.status).toBe(401)
    expect(forged.headers.get('www-authenticate')).toMatch(/invalid_token/)

    expect((await post(`${url}/updates`, textUpdate('the plan'), bearer(writer))).status).toBe(204)
    const otherDoc = await fetch(url, { headers: bearer(stranger) })
    expect(otherDoc.status).toBe(403)
    expect(await otherDoc.json()).toEqual({ error: 'the token does not grant this document' })
    expect(await (await fetch(url, { headers: bearer(reader) })).text()).toBe('the plan')
    const readerWrites = await post(`${url}/updates`, textUpdate('overwrite'), bearer(reader))
    expect(readerWrites.status).toBe(403)
    expect(await readerWrites.json()).toEqual({ error: 'the token grants read access only' })
    expect((await fetch(url, { method: 'DELETE', headers: bearer(reader) })).status).toBe(403)
    expect((await fetch(url, { method: 'DELETE', headers: bearer(stranger) })).status).toBe(403)
    expect(await (await fetch(url, { headers: bearer(reader) })).text()).toBe('the plan')
    expect((await fetch(url, { method: 'DELETE', headers: bearer(writer) })).status).toBe(204)

    const metrics = await (await fetch(`${server.url}/metrics`)).text()
    expect(sample(metrics, 'collab_auth_failures_total', { transport: 'http', code: '401' })).toBe(4)
    expect(sample(metrics, 'collab_auth_failures_total', { transport: 'http', code: '403' })).toBe(4)
  })

  it('request logs carry the request id and the user, never tokens, query strings or contents', async () => {
    const server = await start({ authSecret: secret })
    const writer = await tokenFor({ '*': 'write' }, 'ada')
    const given = await post(`${server.url}/api/docs/logged/updates?token=${writer}`, textUpdate('secret contents'), {
      'x-request-id': 'trace-42',
    })
    expect(given.status).toBe(204)
    expect(given.headers.get('x-request-id')).toBe('trace-42')
    const generated = await fetch(`${server.url}/api/docs/logged`, { headers: bearer(writer) })
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
    const hostile = await fetch(`${server.url}/api/docs`, { headers: { 'x-request-id': 'a b "quoted"' } })
    expect(hostile.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)

    await waitFor('three request log lines', () => server.logs.filter((line) => line.msg === 'request').length >= 3)
    const posted = server.logs.find((line) => line.msg === 'request' && line.req === 'trace-42')
    expect(posted).toMatchObject({
      method: 'POST',
      path: '/api/docs/logged/updates',
      status: 204,
      user: 'ada',
      remote: '127.0.0.1',
    })
    const logged = server.logText()
    for (const part of writer.split('.')) expect(logged).not.toContain(part)
    expect(logged).not.toContain('secret contents')
    expect(logged).not.toContain('?token')
  })
})

describe('routing', () => {
  it('each request is counted and logged under its route label; probes and the web app log at debug level', async () => {
    const server = await start()
    // [method, path, route label, status, pino level (20 debug, 30 info)]
    const cases = [
      ['GET', '/healthz', '/healthz', 200, 20],
      ['POST', '/readyz', '/readyz', 200, 20],
      ['GET', '/api/config', '/api/config', 200, 30],
      ['POST', '/api/dev-token', '/api/dev-token', 405, 30],
      ['PUT', '/api/docs', '/api/docs', 405, 30],
      ['GET', '/api/docs/route-a', '/api/docs/:name', 404, 30],
      ['POST', '/api/docs/route-a/updates', '/api/docs/:name/updates', 415, 30],
      ['GET', '/api/docs/route-a/b', '/api/other', 404, 30],
      ['POST', '/api/nothing', '/api/other', 404, 30],
      ['DELETE', '/d/route-a', 'static', 405, 20],
    ] as const
    for (const [method, path, , status] of cases) {
      expect((await rawRequest(server, path, { method })).status, `${method} ${path}`).toBe(status)
    }
    const refused = await rawRequest(server, '/api/docs', { headers: { host: 'elsewhere.example' } })
    expect(refused.status).toBe(403)

    await waitFor('every request log line', () => server.logs.filter((line) => line.msg === 'request').length >= 11)
    const metrics = await server.metrics.exposition()
    for (const [method, path, route, status, level] of [...cases, ['GET', '/api/docs', 'refused', 403, 30] as const]) {
      const labels = { method, route, status: String(status) }
      expect(sample(metrics.body, 'collab_http_requests_total', labels), `${method} ${path}`).toBe(1)
      const line = server.logs.find((log) => log.msg === 'request' && log.path === path && log.method === method)
      expect([line?.status, line?.level], `${method} ${path}`).toEqual([status, level])
    }
  })
})
