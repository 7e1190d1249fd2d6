import { TcpProxy } from '@collab/test-support'
import { expect, test } from '../support/fixtures.js'

test('a server restart mid-session: both tabs reconnect by themselves and nothing is lost', async ({
  openDoc,
  server,
}) => {
  const a = await openDoc('restart', { user: 'Ada' })
  const b = await openDoc('restart', { user: 'Grace' })
  await a.typeAtEnd('before the restart. ')
  await b.expectText('before the restart. ')
  await a.expectSaved()
  await server.restart('SIGTERM', 500)
  // Typing while the server is down stays local and is marked unsaved...
  await b.typeAtEnd('typed while it was down. ')
  await a.waitSynced(20_000)
  await b.waitSynced(20_000)
  await a.typeAtEnd('after.')
  const expected = 'before the restart. typed while it was down. after.'
  await a.expectText(expected)
  await b.expectText(expected)
  await a.expectSaved()
  await b.expectSaved()
  await expect(a.connection).toHaveText('Connected')
})

test('edits made offline merge when the tab comes back', async ({ openDoc }) => {
  const a = await openDoc('offline', { user: 'Ada' })
  const b = await openDoc('offline', { user: 'Grace' })
  await a.typeAtEnd('shared start. ')
  await b.expectText('shared start. ')
  await a.page.context().setOffline(true)
  await expect(a.connection).toHaveText('Offline')
  await a.typeAtEnd('offline words. ')
  // The app keeps a local copy (issue 16): offline edits are on this device until the server has them.
  await expect(a.save).toHaveText('Saved on this device')
  await b.typeAtEnd('online words. ')
  await a.page.context().setOffline(false)
  await a.waitSynced()
  await expect.poll(async () => (await a.text()) === (await b.text()) && (await a.text()).length === 43).toBe(true)
  const text = await a.text()
  expect(text).toContain('offline words. ')
  expect(text).toContain('online words. ')
  await a.expectSaved()
})

test('a silently dropped connection shows Reconnecting within about 6 s and recovers', async ({
  openDoc,
  newContext,
  server,
}) => {
  const proxy = await new TcpProxy(server.process.port).listen()
  try {
    const context = await newContext({ baseURL: `http://127.0.0.1:${proxy.port}` })
    const a = await openDoc('dropped', { context })
    const b = await openDoc('dropped')
    await a.typeAtEnd('connected. ')
    await a.expectSaved()
    const droppedAt = Date.now()
    proxy.blackhole()
    await expect(a.connection).toHaveText('Reconnecting…', { timeout: 9_000 })
    const detectedMs = Date.now() - droppedAt
    test.info().annotations.push({ type: 'dead connection detected after', description: `${detectedMs} ms` })
    console.log(`silently dropped connection detected after ${detectedMs} ms`)
    expect(detectedMs).toBeGreaterThan(4_000)
    await a.typeAtEnd('typed during the outage.')
    proxy.restore()
    await a.waitSynced(20_000)
    await b.expectText('connected. typed during the outage.', 15_000)
    await a.expectSaved()
  } finally {
    await proxy.close()
  }
})
