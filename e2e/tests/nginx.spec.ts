import { readFileSync } from 'node:fs'
import * as Y from 'yjs'
import { metricSum, scrapeMetrics } from '../support/metrics.js'
import { expect, shippedNginxConf, test } from '../support/nginx.js'

// The deployment of docker/compose.yaml, minus Docker: the shipped docker/nginx.conf (paths and ports substituted)
// in front of the real server, and the browser going through nginx for the page, the API and the WebSockets.

// As compose runs it: nginx sets X-Forwarded-For, and the server trusts it.
test.use({ serverArgs: ['--trust-proxy', '127.0.0.1'] })

test('through nginx, two tabs co-edit and converge, see each other, and a reload keeps the content', async ({
  server,
  nginx,
  newContext,
  openDoc,
}) => {
  const before = await scrapeMetrics(server.url)
  const a = await openDoc('via-nginx', { context: await newContext({ baseURL: nginx.url }), user: 'Ada' })
  const b = await openDoc('via-nginx', { context: await newContext({ baseURL: nginx.url }), user: 'Grace' })

  await a.typeAtEnd('Typed through nginx. ')
  await b.expectText('Typed through nginx. ')
  await b.typeAtEnd('Answered through nginx.')
  const text = 'Typed through nginx. Answered through nginx.'
  await a.expectText(text)
  await a.expectSaved()
  await b.expectSaved()

  await expect(b.presenceItems.filter({ hasText: 'Ada' })).toHaveCount(1)
  await expect(a.presenceItems.filter({ hasText: 'Grace' })).toHaveCount(1)
  await expect(b.page.locator('.cm-ySelectionCaret')).toHaveCount(1)

  await a.page.reload()
  await a.waitSynced()
  await a.expectText(text)
  await expect(a.editor).toContainText(text)

  // The traffic really went through nginx: the page, and a WebSocket (logged with 101 once it closed, on reload).
  const log = nginx.accessLog()
  expect(log).toMatch(/"GET \/d\/via-nginx HTTP\/1\.1" 200 /)
  expect(log).toMatch(/"GET \/via-nginx HTTP\/1\.1" 101 /)
  // Its log format keeps query strings (where tokens may travel) out.
  expect(log).not.toMatch(/token=/)

  // The metrics moved with the session: three connections (A, B, A again), messages both ways, stored updates.
  const after = await scrapeMetrics(server.url)
  const grew = (name: string, labels: Record<string, string> = {}) =>
    metricSum(after, name, labels) - metricSum(before, name, labels)
  expect(grew('collab_connections_opened_total', { access: 'write' })).toBeGreaterThanOrEqual(3)
  expect(metricSum(after, 'collab_connections')).toBeGreaterThanOrEqual(2)
  expect(grew('collab_messages_received_total', { kind: 'sync-update' })).toBeGreaterThan(0)
  expect(grew('collab_messages_received_total', { kind: 'awareness' })).toBeGreaterThan(0)
  expect(grew('collab_received_bytes_total')).toBeGreaterThan(0)
  expect(grew('collab_messages_sent_total', { kind: 'sync-update' })).toBeGreaterThan(0)
  expect(grew('collab_sent_bytes_total')).toBeGreaterThan(0)
  expect(grew('collab_store_updates_total')).toBeGreaterThan(0)
  expect(grew('collab_connections_closed_total')).toBeGreaterThanOrEqual(1)
  expect(grew('collab_http_requests_total', { route: '/api/dev-token', status: '200' })).toBeGreaterThanOrEqual(3)
})

test('through nginx, the API keeps %2F in names, reaches open tabs at once, and shares request ids', async ({
  server,
  nginx,
  newContext,
  openDoc,
}) => {
  const { token } = (await (await fetch(`${nginx.url}/api/dev-token`)).json()) as { token: string }
  const auth = { authorization: `Bearer ${token}` }
  const tab = await openDoc('team/notes', { context: await newContext({ baseURL: nginx.url }), user: 'Ada' })
  await tab.typeAtEnd('From the tab.')
  await tab.expectSaved()

  // An app's edit: read the state, change a copy, post the difference.
  const read = await fetch(`${nginx.url}/api/docs/team%2Fnotes`, {
    headers: { ...auth, accept: 'application/octet-stream' },
  })
  expect(read.status).toBe(200)
  const doc = new Y.Doc()
  Y.applyUpdate(doc, new Uint8Array(await read.arrayBuffer()))
  const stateVector = Y.encodeStateVector(doc)
  doc.getText('codemirror').insert(doc.getText('codemirror').length, ' And from the API.')
  const update = Y.encodeStateAsUpdate(doc, stateVector)
  doc.destroy()
  const posted = await fetch(`${nginx.url}/api/docs/team%2Fnotes/updates`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/octet-stream', 'x-request-id': 'e2e-through-nginx' },
    body: new Uint8Array(update),
  })
  expect(posted.status).toBe(204)
  expect(posted.headers.get('x-request-id')).toBe('e2e-through-nginx')
  await tab.expectText('From the tab. And from the API.', 2_000)
  const text = await fetch(`${nginx.url}/api/docs/team%2Fnotes`, { headers: auth })
  expect(await text.text()).toBe('From the tab. And from the API.')

  // Without an id, nginx makes one ($request_id, 32 hex digits) and the server logs the request under it. A
  // client's X-Forwarded-For is replaced by its real address, so it cannot dodge the per-address limits.
  const config = await fetch(`${nginx.url}/api/config`, { headers: { 'x-forwarded-for': '203.0.113.9' } })
  const id = config.headers.get('x-request-id')
  expect(id).toMatch(/^[0-9a-f]{32}$/)
  await expect
    .poll(() => server.process.output.map((line) => parseLine(line)).find((entry) => entry?.req === id))
    .toMatchObject({ msg: 'request', path: '/api/config', status: 200, remote: '127.0.0.1' })

  // Metrics stay on the inside.
  expect((await fetch(`${nginx.url}/metrics`)).status).toBe(403)

  // DELETE through nginx closes the tab's WebSocket for good: the editor says the document is gone.
  const deleted = await fetch(`${nginx.url}/api/docs/team%2Fnotes`, { method: 'DELETE', headers: auth })
  expect(deleted.status).toBe(204)
  await expect(tab.connection).toHaveText('Offline')
  expect((await fetch(`${nginx.url}/api/docs/team%2Fnotes`, { headers: auth })).status).toBe(404)
})

function parseLine(line: string): Record<string, unknown> | null {
  try {
    return JSON.parse(line) as Record<string, unknown>
  } catch {
    return null
  }
}

test('docker/nginx.conf keeps the proxy read timeout far above the server ping interval', () => {
  const conf = readFileSync(shippedNginxConf, 'utf8')
  const seconds = Number(/proxy_read_timeout\s+(\d+)s;/.exec(conf)?.[1])
  // The server pings every 2.5 s by default; an idle WebSocket is never silent longer than that.
  expect(seconds).toBeGreaterThanOrEqual(30)
})
