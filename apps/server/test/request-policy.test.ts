import { afterEach, describe, expect, it } from 'vitest'
import { rawRequest, sample, start, teardown, textUpdate, upgrade, waitFor } from './http-support.js'

// What the defaults let through, against the app server on port 0 ([SD1], [SD2], [OR1], [PX1] in
// docs/SECURITY.md): the Host header must name the server, browser origins must be the same origin or loopback,
// X-Forwarded-For counts only from trusted proxies.

afterEach(() => teardown.run())

const update = textUpdate('hello')
const postUpdate = (headers: Record<string, string>) => ({
  method: 'POST',
  headers: { 'content-type': 'application/octet-stream', ...headers },
  body: update,
})

describe('[SD1] the Host header must name this server', () => {
  it('loopback names and IP literals are served; another name gets 403 naming the setting, on every route', async () => {
    const server = await start()
    for (const host of [`localhost:${server.port}`, `app.localhost:${server.port}`, `127.0.0.1:${server.port}`]) {
      expect((await rawRequest(server, '/api/docs', { headers: { host } })).status, host).toBe(200)
    }
    expect((await rawRequest(server, '/healthz', { headers: { host: '192.168.7.7' } })).status).toBe(200)

    for (const path of ['/api/docs', '/healthz', '/metrics', '/', '/api/docs/x']) {
      const refused = await rawRequest(server, path, { headers: { host: 'rebound.attacker.example' } })
      expect(refused.status, path).toBe(403)
      expect(refused.headers['content-type']).toBe('text/plain; charset=utf-8')
      expect(refused.body).toMatch(/"rebound\.attacker\.example".*--allowed-hosts \/ ALLOWED_HOSTS/s)
    }
    // Refused before anything else: no document was created.
    const write = await rawRequest(server, '/api/docs/rebound/updates', postUpdate({ host: 'attacker.example' }))
    expect(write.status).toBe(403)
    expect((await rawRequest(server, '/api/docs/rebound')).status).toBe(404)
  })

  it('a WebSocket upgrade with another name gets 403 and no socket, and is counted', async () => {
    const server = await start()
    expect(await upgrade(server, 'doc', { host: `localhost:${server.port}` })).toBe('open')
    const refused = await upgrade(server, 'doc', { host: 'rebound.attacker.example' })
    expect(refused).toMatchObject({ status: 403, body: expect.stringMatching(/ALLOWED_HOSTS/) })
    expect(server.logs.find((line) => line.msg === 'upgrade refused: host not allowed')).toMatchObject({
      host: 'rebound.attacker.example',
    })
    const metrics = (await rawRequest(server, '/metrics')).body
    expect(sample(metrics, 'collab_connections_refused_total', { reason: 'host', code: '403' })).toBe(1)
  })

  it('configured names are served; a leading dot takes the subdomains; `*` turns the check off', async () => {
    const server = await start({ allowedHosts: ['collab.example.com', '.team.example'] })
    for (const host of ['collab.example.com', 'COLLAB.example.com:8080', 'team.example', 'a.b.team.example']) {
      expect((await rawRequest(server, '/healthz', { headers: { host } })).status, host).toBe(200)
    }
    expect(await upgrade(server, 'doc', { host: 'a.team.example' })).toBe('open')
    for (const host of ['www.collab.example.com', 'evilteam.example']) {
      expect((await rawRequest(server, '/healthz', { headers: { host } })).status, host).toBe(403)
    }

    const open = await start({ allowedHosts: ['*'] })
    expect((await rawRequest(open, '/healthz', { headers: { host: 'anything.example' } })).status).toBe(200)
    expect(open.logs.some((line) => /^HOST CHECK IS OFF/.test(line.msg))).toBe(true)
  })
})

/** How the server closes the WebSocket of a page whose origin it refuses: 4403, which the page can read. */
const refusedOrigin = { closeCode: 4403, reason: 'origin not allowed (--allowed-origins)' }

describe('[SD2] without an origin allowlist, only the same origin and loopback origins', () => {
  it('a page of another site cannot open a document, and can read why; loopback and same-origin pages can', async () => {
    const server = await start()
    expect(await upgrade(server, 'doc', { origin: 'https://evil.example' })).toEqual(refusedOrigin)
    expect(server.logs.find((line) => line.msg === 'connection refused')).toMatchObject({
      error: 'origin not allowed (--allowed-origins)',
    })
    expect(await upgrade(server, 'doc', { origin: 'null' })).toEqual(refusedOrigin)
    for (const origin of ['http://localhost:5173', 'https://app.localhost', 'http://127.0.0.1:3000', server.url]) {
      expect(await upgrade(server, 'doc', { origin }), origin).toBe('open')
    }
    // The same origin by a configured public name, as behind a proxy that passes the Host header.
    const named = await start({ allowedHosts: ['collab.example.com'] })
    const headers = { host: 'collab.example.com', origin: 'https://collab.example.com' }
    expect(await upgrade(named, 'doc', headers)).toBe('open')
    expect(await upgrade(named, 'doc', { ...headers, origin: 'https://collab.example.com:8443' })).toEqual(
      refusedOrigin,
    )
    // Clients that send no Origin (not browsers) are not affected.
    expect(await upgrade(named, 'doc', { host: 'collab.example.com' })).toBe('open')
    const metrics = (await rawRequest(server, '/metrics')).body
    expect(sample(metrics, 'collab_connections_refused_total', { reason: 'origin', code: '4403' })).toBe(2)
  })

  it('the HTTP API refuses another site: a simple cross-site POST changes nothing', async () => {
    const server = await start()
    const evil = { origin: 'https://evil.example' }
    // text/plain needs no CORS preflight, so a browser sends it: it must be refused before its content type is.
    const plain = await rawRequest(server, '/api/docs/cross/updates', {
      ...postUpdate(evil),
      headers: { ...evil, 'content-type': 'text/plain' },
    })
    expect(plain.status).toBe(403)
    expect(plain.body).toMatch(/ALLOWED_ORIGINS/)
    expect((await rawRequest(server, '/api/docs/cross/updates', postUpdate(evil))).status).toBe(403)
    expect((await rawRequest(server, '/api/docs', { headers: evil })).status).toBe(403)
    expect((await rawRequest(server, '/api/docs/cross', { method: 'DELETE', headers: evil })).status).toBe(403)
    expect((await rawRequest(server, '/api/docs/cross')).status).toBe(404)

    const local = { origin: 'http://localhost:5173' }
    expect((await rawRequest(server, '/api/docs/cross/updates', postUpdate(local))).status).toBe(204)
    expect((await rawRequest(server, '/api/docs/cross', { headers: { origin: server.url } })).body).toBe('hello')
    // Without Origin (scripts, curl): as before.
    expect((await rawRequest(server, '/api/docs')).status).toBe(200)
    // The web app's files may be loaded by pages anywhere (embedding); only the API is guarded.
    expect((await rawRequest(server, '/', { headers: evil })).status).not.toBe(403)
  })

  it('[OR1] with an allowlist, exactly its origins, loopback or not', async () => {
    const server = await start({ allowedOrigins: ['https://app.example'] })
    expect(await upgrade(server, 'doc', { origin: 'https://app.example' })).toBe('open')
    expect(await upgrade(server, 'doc', { origin: 'http://localhost:5173' })).toEqual(refusedOrigin)
    expect(await upgrade(server, 'doc', { origin: server.url })).toEqual(refusedOrigin)
    const api = (origin: string) => rawRequest(server, '/api/docs', { headers: { origin } })
    expect((await api('https://app.example')).status).toBe(200)
    expect((await api('http://localhost:5173')).status).toBe(403)
  })
})

describe('[OR1] CORS: pages of the allowed origins may read the API', () => {
  const app = 'https://app.example'

  it('answers an allowed origin with its own name, never `*`, on success and on errors', async () => {
    const server = await start({ allowedOrigins: [app] })
    await rawRequest(server, '/api/docs/shared/updates', postUpdate({ origin: app }))
    for (const [path, status] of [
      ['/api/docs', 200],
      ['/api/docs/shared', 200],
      ['/api/docs/missing', 404],
      ['/api/nothing', 404],
    ] as const) {
      const answer = await rawRequest(server, path, { headers: { origin: app } })
      expect(answer.status, path).toBe(status)
      expect(answer.headers['access-control-allow-origin'], path).toBe(app)
      expect(answer.headers['access-control-expose-headers'], path).toMatch(/x-request-id/)
      expect(answer.headers.vary, path).toMatch(/Origin/)
      expect(answer.headers['access-control-allow-credentials'], path).toBeUndefined()
    }
    // Not a browser: nothing to allow.
    expect((await rawRequest(server, '/api/docs')).headers['access-control-allow-origin']).toBeUndefined()
    // Outside the API (probes, the web app) there is no CORS.
    expect((await rawRequest(server, '/healthz')).headers['access-control-allow-origin']).toBeUndefined()
  })

  it('answers the preflight of a write with the methods of that path; another origin gets 403 without CORS', async () => {
    const server = await start({ allowedOrigins: [app] })
    const preflight = (path: string, origin: string, method: string) =>
      rawRequest(server, path, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': method,
          'access-control-request-headers': 'authorization, content-type',
        },
      })
    const post = await preflight('/api/docs/shared/updates', app, 'POST')
    expect(post.status).toBe(204)
    expect(post.headers['access-control-allow-origin']).toBe(app)
    expect(post.headers['access-control-allow-methods']).toBe('POST')
    expect(post.headers['access-control-allow-headers']).toMatch(/authorization.*content-type/)
    const doc = await preflight('/api/docs/shared', app, 'DELETE')
    expect(doc.headers['access-control-allow-methods']).toBe('GET, DELETE')

    const evil = await preflight('/api/docs/shared/updates', 'https://evil.example', 'POST')
    expect(evil.status).toBe(403)
    expect(evil.headers['access-control-allow-origin']).toBeUndefined()
    // The write the preflight asked about then works from the allowed origin, with its CORS header.
    const write = await rawRequest(server, '/api/docs/shared/updates', postUpdate({ origin: app }))
    expect(write.status).toBe(204)
    expect(write.headers['access-control-allow-origin']).toBe(app)
  })

  it('without an allowlist, the loopback origins of local development', async () => {
    const server = await start()
    const local = await rawRequest(server, '/api/docs', { headers: { origin: 'http://localhost:5173' } })
    expect(local.headers['access-control-allow-origin']).toBe('http://localhost:5173')
    expect((await rawRequest(server, '/api/docs', { headers: { origin: 'https://evil.example' } })).status).toBe(403)
  })
})

describe('[PX1] X-Forwarded-For counts only from trusted proxies', () => {
  /** The `remote` of the request log line of the request with this id. */
  async function remoteOf(server: Awaited<ReturnType<typeof start>>, headers: Record<string, string>) {
    const id = `px1-${Math.random().toString(36).slice(2)}`
    await rawRequest(server, '/api/docs', { headers: { ...headers, 'x-request-id': id } })
    let remote: unknown
    await waitFor('the request log line', () => {
      remote = server.logs.find((line) => line.msg === 'request' && line.req === id)?.remote
      return remote !== undefined
    })
    return remote
  }

  it('without trusted proxies the peer address is the client, whatever the header says', async () => {
    const server = await start()
    expect(await remoteOf(server, { 'x-forwarded-for': '203.0.113.9' })).toBe('127.0.0.1')
  })

  it('from a trusted proxy, the rightmost address that is not a trusted proxy', async () => {
    const server = await start({ trustProxy: ['127.0.0.1', '10.0.0.0/8'] })
    expect(await remoteOf(server, { 'x-forwarded-for': '203.0.113.9' })).toBe('203.0.113.9')
    // A client that writes its own header first cannot choose its address: the proxy appended the real one.
    expect(await remoteOf(server, { 'x-forwarded-for': '198.51.100.1, 203.0.113.9, 10.1.2.3' })).toBe('203.0.113.9')
    expect(await remoteOf(server, {})).toBe('127.0.0.1')
  })

  it('a proxy that is not trusted is the client', async () => {
    const server = await start({ trustProxy: ['10.0.0.0/8'] })
    expect(await remoteOf(server, { 'x-forwarded-for': '203.0.113.9' })).toBe('127.0.0.1')
  })
})
